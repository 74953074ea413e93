package qemu

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/target"
)

// stepGrace is how long past its timeout a step may take on the host's
// side: the agent kills a step at its timeout and answers at once, so a
// step that still has no answer after this is in a guest that can answer
// no more (a locked-up kernel), and is given up.
const stepGrace = 4 * time.Second

// errLockedUp ends a step whose kernel started a fault report and whose
// agent did not answer within faultGrace after it, nor echoed on the
// liveness port.
var errLockedUp = fmt.Errorf("the kernel started a fault report and the guest did not answer within %v of it", faultGrace)

// errFaultRanOn ends a step that runs on, the guest alive, after the
// kernel reported a fault the case did not expect: the case fails with
// the report now, not when the step ends.
var errFaultRanOn = fmt.Errorf("the kernel reported a fault the case did not expect, and the step ran on %v after it: not waited for", faultGrace)

// aliveWait is how long an echo on the liveness port may take: under TCG,
// with another VM busy, a tenth of a second.
const aliveWait = 2 * time.Second

// watchStep bounds one request of a step: the step's timeout and its
// grace, and faultGrace after the console shows the kernel starting a
// report that stops work. Then a guest that no longer echoes has locked
// up; one that does ends the step unless the case expects the fault
// (step.ExpectFault: a thread's oops while the step sleeps, say). The
// console's window of lines starts here, so that the report explain shows
// first is the first the step provoked.
func (vm *VM) watchStep(ctx context.Context, step target.Step) (context.Context, context.CancelFunc) {
	ctx, cancelTimeout := context.WithTimeoutCause(ctx, step.Timeout+stepGrace,
		fmt.Errorf("no answer %v after the step's timeout of %v", stepGrace, step.Timeout))
	ctx, cancel := context.WithCancelCause(ctx)
	fault := vm.console.startStep()
	go func() {
		select {
		case <-fault:
		case <-ctx.Done():
			return
		}
		select {
		case <-time.After(faultGrace):
		case <-ctx.Done():
			return
		}
		switch {
		case !vm.guestAlive(ctx):
			cancel(errLockedUp)
		case !step.ExpectFault:
			cancel(errFaultRanOn)
		}
	}()
	return ctx, func() { cancel(nil); cancelTimeout() }
}

// guestAlive reports whether the agent echoes a byte on the liveness port
// within aliveWait (or before ctx ends): its thread runs, so the kernel
// still schedules. Each probe writes a byte of its own, and takes only
// that back: the late echo of an earlier probe proves nothing now. Only
// watchStep asks, one step at a time.
func (vm *VM) guestAlive(ctx context.Context) bool {
	if vm.alive == nil {
		return false
	}
	vm.probes++
	probe := vm.probes
	vm.alive.SetDeadline(time.Now().Add(aliveWait))
	defer vm.alive.SetDeadline(time.Time{})
	stop := context.AfterFunc(ctx, func() { vm.alive.SetDeadline(time.Now()) })
	defer stop()
	if _, err := vm.alive.Write([]byte{probe}); err != nil {
		return false
	}
	for {
		var b [1]byte
		if _, err := io.ReadFull(vm.alive, b[:]); err != nil {
			return false
		}
		if b[0] == probe {
			return true
		}
	}
}

// sync returns once the agent has read every kernel record logged before
// it was called: the agent's log reader runs apart from its requests, and
// a step's end marker is the proof that it has caught up (a record logged
// after all of those before). SysRq w prints its dump synchronously, so
// after a sync the dump is all there.
func (vm *VM) sync(ctx context.Context) error {
	_, _, err := vm.run(ctx, target.Step{Line: "true", Where: target.OnKernel, Timeout: 10 * time.Second}, false)
	if err != nil {
		return fmt.Errorf("wait for the guest to read the kernel log: %w", err)
	}
	return nil
}
