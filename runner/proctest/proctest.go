// Package proctest tells a test, from /proc, whether a process it does not
// own has been killed: the tests that kill kmodcheck check so that its
// QEMU dies with it.
package proctest

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// pfExiting is the kernel's PF_EXITING task flag (include/linux/sched.h):
// the task has begun to exit.
const pfExiting = 0x4

// Dying reports whether pid is gone, a zombie, exiting, or has SIGKILL
// pending: a thread in uninterruptible sleep takes a fatal signal only
// when it wakes, and an exit that tears down a mount namespace on a busy
// host can take seconds, so "killed" is the signal's arrival, not the
// process's end.
func Dying(pid int) bool {
	dir := "/proc/" + strconv.Itoa(pid)
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return true
	}
	// After the command name, which may hold spaces: state is the first
	// field, flags the seventh.
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	if len(f) < 7 || f[0] == "Z" {
		return true
	}
	if flags, err := strconv.ParseUint(f[6], 10, 64); err == nil && flags&pfExiting != 0 {
		return true
	}
	status, _ := os.ReadFile(dir + "/status")
	for _, l := range strings.Split(string(status), "\n") {
		name, mask, ok := strings.Cut(l, ":\t")
		if ok && (name == "SigPnd" || name == "ShdPnd") {
			if m, err := strconv.ParseUint(mask, 16, 64); err == nil && m&(1<<(syscall.SIGKILL-1)) != 0 {
				return true
			}
		}
	}
	return false
}
