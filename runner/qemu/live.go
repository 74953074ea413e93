package qemu

import (
	"context"
	"fmt"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/target"
)

// stepGrace is how long past its timeout a step may take on the host's
// side: the agent kills a step at its timeout and answers at once, so a
// step that still has no answer after this is in a guest that can answer
// no more (a locked-up kernel), and is given up.
const stepGrace = 4 * time.Second

// errLockedUp ends a step whose kernel started a fault report and whose
// agent did not answer within faultGrace after it.
var errLockedUp = fmt.Errorf("the kernel started a fault report and the guest did not answer within %v of it", faultGrace)

// watchStep bounds one request of a step: the step's timeout and its
// grace, and faultGrace after the console shows the kernel starting a
// report that stops work. The console's window of lines starts here, so
// that the report explain shows first is the first the step provoked.
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
			cancel(errLockedUp)
		case <-ctx.Done():
		}
	}()
	return ctx, func() { cancel(nil); cancelTimeout() }
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
