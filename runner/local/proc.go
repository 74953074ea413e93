package local

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// These read the running kernel's state from /proc: the host target reads
// its own kernel, the guest agent the guest's.

// A LoadedModule is one line of /proc/modules.
type LoadedModule struct {
	Name string
	Base uint64 // 0 unless the reader may see kernel addresses
	Size uint64
}

// ProcModules lists the loaded modules.
func ProcModules() ([]LoadedModule, error) {
	f, err := os.Open("/proc/modules")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var mods []LoadedModule
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 6 {
			continue
		}
		size, _ := strconv.ParseUint(fs[1], 10, 64)
		base, _ := strconv.ParseUint(strings.TrimPrefix(fs[5], "0x"), 16, 64)
		mods = append(mods, LoadedModule{Name: fs[0], Base: base, Size: size})
	}
	return mods, sc.Err()
}

// ProcKthreads lists the names of the kernel's threads (kthreadd's
// children), sorted.
func ProcKthreads() []string {
	var names []string
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		stat, err := os.ReadFile(d + "/stat")
		if err != nil {
			continue
		}
		if fs := statFields(string(stat)); len(fs) < 2 || fs[1] != "2" {
			continue
		}
		if comm, err := os.ReadFile(d + "/comm"); err == nil {
			names = append(names, strings.TrimSpace(string(comm)))
		}
	}
	sort.Strings(names)
	return names
}

// alive reports whether pid runs (and is no zombie).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fs := statFields(string(b))
	return len(fs) > 0 && fs[0] != "Z" && fs[0] != "X"
}

// statFields splits /proc/PID/stat after the comm, which may hold spaces
// and parentheses: state, ppid, pgrp, session, ...; nil if malformed.
func statFields(stat string) []string {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(stat[i+1:])
}

// KillSession kills every process of session sid (its leader's PID: each
// step's session is started with setsid) until none is left, or until
// wait has passed for those that do not die (asleep in the kernel). A
// reader's `(sleep 600 &)` or `nohup cmd &` has left its shell's
// descendants but not its session; only setsid leaves that too. It returns
// how many processes were still there at the end.
func KillSession(sid int, wait time.Duration) int {
	deadline := time.Now().Add(wait)
	for {
		left := SessionMembers(sid)
		if len(left) == 0 || time.Now().After(deadline) {
			return len(left)
		}
		killAndWait(left, deadline)
	}
}

// killAndWait sends SIGKILL to pids and waits, until deadline, for them to
// exit: through pidfds, which report a process's exit to any process.
func killAndWait(pids []int, deadline time.Time) {
	var fds []unix.PollFd
	for _, pid := range pids {
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			syscall.Kill(pid, syscall.SIGKILL) // gone already, or a kernel before 5.3
			continue
		}
		defer unix.Close(fd)
		unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
		fds = append(fds, unix.PollFd{Fd: int32(fd), Events: unix.POLLIN})
	}
	for len(fds) > 0 {
		ms := int(time.Until(deadline).Milliseconds())
		if ms <= 0 {
			return
		}
		if n, err := unix.Poll(fds, ms); err != nil && err != unix.EINTR || n == 0 {
			return
		}
		fds = slices.DeleteFunc(fds, func(p unix.PollFd) bool { return p.Revents != 0 })
	}
}

// SessionMembers lists the live processes (no zombies) of session sid,
// but this one.
func SessionMembers(sid int) []int {
	var pids []int
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil || pid == os.Getpid() {
			continue
		}
		stat, err := os.ReadFile(d + "/stat")
		if err != nil {
			continue
		}
		if fs := statFields(string(stat)); len(fs) > 3 && fs[3] == strconv.Itoa(sid) && fs[0] != "Z" && fs[0] != "X" {
			pids = append(pids, pid)
		}
	}
	return pids
}

// ProcTainted reads /proc/sys/kernel/tainted.
func ProcTainted() uint64 {
	b, err := os.ReadFile("/proc/sys/kernel/tainted")
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return n
}
