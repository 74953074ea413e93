package qemu

import (
	"errors"
	"fmt"
	"io"
	"os/exec"
	"syscall"

	"github.com/kmodcheck/kmodcheck/runner/local"
)

// startQEMU starts vm.cmd with its standard output copied to the console,
// and closes vm.exited once QEMU has exited.
//
// QEMU must not outlive kmodcheck, however kmodcheck ends (SIGKILL
// included), or it keeps a core busy with a guest nobody will ask anything
// again: it is started on a goroutine locked to its thread, which lives
// until QEMU has exited (local.DieWithKmodcheck).
func (vm *VM) startQEMU(con *console, stdout io.Reader) error {
	started := make(chan error, 1)
	vm.exited = make(chan struct{})
	go func() {
		// Never unlocked: a goroutine that ends locked takes its thread
		// with it, which is what QEMU's parent-death signal needs too.
		local.DieWithKmodcheck(vm.cmd)
		if err := vm.cmd.Start(); err != nil {
			started <- fmt.Errorf("start %s: %w", vm.cmd.Path, err)
			close(vm.exited)
			return
		}
		started <- nil
		con.copy(stdout)
		vm.exitErr = vm.cmd.Wait()
		close(vm.exited)
	}()
	return <-started
}

// runDying runs cmd to its end, as CombinedOutput does, such that it dies
// with kmodcheck (local.DieWithKmodcheck).
func runDying(cmd *exec.Cmd) ([]byte, error) {
	defer local.DieWithKmodcheck(cmd)()
	return cmd.CombinedOutput()
}

// killed reports whether a process that exited with err was killed by a
// signal.
func killed(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled()
}
