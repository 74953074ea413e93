package qemu

import (
	"errors"
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"syscall"
)

// startQEMU starts vm.cmd with its standard output copied to the console,
// and closes vm.exited once QEMU has exited.
//
// QEMU must not outlive kmodcheck, however kmodcheck ends (SIGKILL
// included), or it keeps a core busy with a guest nobody will ask anything
// again. The kernel sends a process its parent-death signal when the
// thread that forked it exits, not the process: Go starts and ends threads
// as it likes, so the fork happens on a goroutine locked to its thread,
// and that goroutine (so that thread) lives until QEMU has exited. When
// kmodcheck dies, all its threads die, and QEMU gets SIGKILL.
func (vm *VM) startQEMU(con *console, stdout io.Reader) error {
	vm.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	started := make(chan error, 1)
	vm.exited = make(chan struct{})
	go func() {
		runtime.LockOSThread()
		// Never unlocked: a goroutine that ends locked takes its thread
		// with it, which is what QEMU's parent-death signal needs too.
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
// with kmodcheck (see startQEMU).
func runDying(cmd *exec.Cmd) ([]byte, error) {
	defer lockDying(cmd)()
	return cmd.CombinedOutput()
}

// lockDying makes cmd, started on this goroutine, die with kmodcheck (see
// startQEMU): it locks the goroutine to its thread and returns the unlock,
// which the caller defers until cmd has exited.
func lockDying(cmd *exec.Cmd) (unlock func()) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	runtime.LockOSThread()
	return runtime.UnlockOSThread
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
