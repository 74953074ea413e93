package local

import (
	"fmt"
	"os"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// A step that waits for input at its terminal: `read name`, `cat` without
// a file, sudo's or su's password prompt, a pager. A reader would type
// something there that the tutorial does not show, and nothing types into
// a case's terminal between its lines, so the step would wait until its
// timeout. Once a process of the step has waited for the terminal
// inputPolls looks of await in a row, the step is interrupted as ^C would
// interrupt it, and its standard error says who waited; if that does not
// end it, what runs in the foreground is killed.

// inputPolls is how many of await's looks in a row (0.1 s, 0.2 s, then
// every 0.25 s) must find a process waiting for the terminal: about a
// second, so that a shell's status, written just before it reads its next
// line, is always read first.
const inputPolls = 4

// inputWaiter returns the process of the current step, among kids (the
// current shell's descendants), that waits for input at a terminal, or 0:
// a process that is no shell of the session, or the session's only shell
// itself, which reads the terminal during a step only for a builtin
// (`read`). A nested shell that reads it has run its line (await).
func (s *Shell) inputWaiter(kids []int) int {
	for _, p := range kids {
		if _, ok := readsTerminal(p); ok && s.level(p) < 0 {
			return p
		}
	}
	if len(s.levels) == 1 && shellWaiting(s.top()) {
		return s.top()
	}
	return 0
}

// interruptInput ends a step whose process pid waits for the terminal:
// ^C first, as a reader would type it; again, SIGKILL to the terminal's
// foreground job unless it is the shell. In a nested shell, which runs
// without job control (nested.go), ^C would end the shell with the step:
// what it runs is killed instead, as at a timeout.
func (s *Shell) interruptInput(pid int, again bool) {
	nested := len(s.levels) > 1
	if !again {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		how := "interrupted as ^C would"
		if nested {
			how = "what the nested shell runs is killed"
		}
		fmt.Fprintf(s.stderr.w, "kmodcheck: the step waits for input at its terminal (%s, pid %d, reads it), and a case types nothing there: %s\n",
			strings.TrimSpace(string(comm)), pid, how)
	}
	switch {
	case nested:
		s.interruptNested()
	case !again:
		s.ptmx.Write([]byte{3})
	default:
		if pgrp, err := unix.IoctlGetInt(int(s.ptmx.Fd()), unix.TIOCGPGRP); err == nil && pgrp != s.top() && pgrp > 1 {
			syscall.Kill(-pgrp, syscall.SIGKILL)
		}
	}
}
