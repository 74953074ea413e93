package local

import (
	"os/exec"
	"runtime"
	"syscall"
)

// DieWithKmodcheck makes cmd, started on this goroutine, get SIGKILL when
// kmodcheck dies, however it dies (SIGKILL included), so that nothing it
// started runs on. The kernel sends a process its parent-death signal when
// the thread that forked it exits, not the process: Go starts and ends
// threads as it likes, so this locks the goroutine to its thread and
// returns the unlock, which the caller defers until cmd has exited.
func DieWithKmodcheck(cmd *exec.Cmd) (unlock func()) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	runtime.LockOSThread()
	return runtime.UnlockOSThread
}
