// Package proctest tells a test, from /proc, whether a process it does not
// own has been killed: the tests that kill kmodcheck check so that its
// QEMU dies with it.
package proctest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// pfExiting is the kernel's PF_EXITING task flag (include/linux/sched.h):
// the task has begun to exit.
const pfExiting = 0x4

// Dying reports whether pid is gone, or its main thread is a zombie,
// exiting or has SIGKILL pending: a fatal signal is queued to every thread,
// the main one included, and each takes it when it next runs (a thread in
// uninterruptible sleep only when it wakes), and an exit that tears down a
// mount namespace on a busy host can take seconds, so "killed" is the
// signal's arrival, not the process's end. The other threads are not
// asked: QEMU's worker threads end by themselves when idle, and one that
// ends, or is gone while being read, is not the process dying.
func Dying(pid int) bool {
	return taskDying(fmt.Sprintf("/proc/%d/task/%d", pid, pid))
}

// taskDying reads one thread's state, flags and pending signals.
func taskDying(dir string) bool {
	state, flags, ok := stateFlags(dir)
	if !ok || state == "Z" || state == "X" || flags&pfExiting != 0 {
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

// stateFlags reads a task's state and flags from its stat file; ok is
// false when it is gone.
func stateFlags(dir string) (state string, flags uint64, ok bool) {
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return "", 0, false
	}
	// After the command name, which may hold spaces: state is the first
	// field, flags the seventh.
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	if len(f) < 7 {
		return "", 0, false
	}
	flags, _ = strconv.ParseUint(f[6], 10, 64)
	return f[0], flags, true
}

// Describe says, for a failure message, what each of pid's threads is
// doing: its state, flags, pending and blocked signals, and the kernel
// function it waits in.
func Describe(pid int) string {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/[0-9]*", pid))
	var b strings.Builder
	for _, task := range tasks {
		state, flags, _ := stateFlags(task)
		fmt.Fprintf(&b, "thread %s: state %s flags %#x", filepath.Base(task), state, flags)
		status, _ := os.ReadFile(task + "/status")
		for _, l := range strings.Split(string(status), "\n") {
			if name, v, ok := strings.Cut(l, ":\t"); ok && (name == "SigPnd" || name == "ShdPnd" || name == "SigBlk" || name == "PPid") {
				fmt.Fprintf(&b, " %s %s", name, v)
			}
		}
		if wchan, err := os.ReadFile(task + "/wchan"); err == nil {
			fmt.Fprintf(&b, " wchan %s", wchan)
		}
		b.WriteString("\n")
	}
	return b.String()
}
