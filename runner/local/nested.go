package local

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Nested shells: a step such as `sudo su`, `sudo -i`, `sudo -s` or `su -`
// starts a shell that reads the following lines from the terminal, as at a
// reader's terminal. That shell gets the terminal as its standard input but
// the session's pipes as its standard output and error, so it is not
// interactive (bash is interactive only when standard input and error are
// terminals): it reads no rc file, prints no prompt and runs no
// PROMPT_COMMAND. kmodcheck sees it from /proc instead: a shell, started
// from the session, blocked reading its terminal with nothing typed ahead.
// The step that started it ends there; each later step is typed into it,
// and when it reads the terminal again, kmodcheck types a line of its own
// (queryLine) that reports the step's status on the FIFO. A shell's exit
// shows as the report of the shell below it (sudo su's status is the exit
// status of the shell it started).

// shellNames are the commands taken for a shell reading commands.
var shellNames = map[string]bool{"bash": true, "sh": true, "dash": true, "zsh": true, "ksh": true, "ksh93": true, "mksh": true, "ash": true, "busybox": true}

// shellWaiting reports whether pid is a shell reading commands from its
// terminal, waiting for a line: blocked in read(0), on a terminal with
// nothing typed ahead, started without a command (-c) or a script.
func shellWaiting(pid int) bool {
	fd, ok := readsTerminal(pid)
	return ok && fd == 0 && isShell(pid)
}

// readsTerminal reports whether pid is blocked reading a terminal with
// nothing typed ahead, and on which descriptor: /proc/PID/syscall shows
// read(2) (syscall 0 on x86_64) on a descriptor that is a terminal whose
// input queue is empty. A program that opened /dev/tty (sudo's password
// prompt) reads its controlling terminal, which its standard input,
// output or error is where it has one.
func readsTerminal(pid int) (fd int, ok bool) {
	sc, err := os.ReadFile(fmt.Sprintf("/proc/%d/syscall", pid))
	f := strings.Fields(string(sc))
	if err != nil || len(f) < 2 || f[0] != "0" {
		return -1, false
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(f[1], "0x"), 16, 32)
	if err != nil {
		return -1, false
	}
	fd = int(n)
	check := []int{fd}
	if link, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, fd)); link == "/dev/tty" {
		// Opened again, /dev/tty is the opener's terminal, not pid's.
		check = []int{0, 1, 2}
	}
	for _, c := range check {
		if queued, isTTY := terminalQueue(pid, c); isTTY {
			return fd, queued == 0
		}
	}
	return fd, len(check) > 1 // its terminal, whose queue nothing shows
}

// terminalQueue returns how many bytes are typed ahead on pid's
// descriptor fd, if it is a terminal.
func terminalQueue(pid, fd int) (queued int, isTTY bool) {
	file, err := os.OpenFile(fmt.Sprintf("/proc/%d/fd/%d", pid, fd), os.O_RDONLY|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if err != nil {
		return 0, false
	}
	defer file.Close()
	if _, err := unix.IoctlGetTermios(int(file.Fd()), unix.TCGETS); err != nil {
		return 0, false // a pipe, a device: FIONREAD answers there too
	}
	queued, err = unix.IoctlGetInt(int(file.Fd()), unix.TIOCINQ)
	return queued, err == nil
}

// readsCommands reports whether a shell's arguments leave it reading
// commands from its standard input: no -c, no script operand.
func readsCommands(argv []string) bool {
	if len(argv) == 0 {
		return false
	}
	args := argv[1:]
	if filepath.Base(argv[0]) == "busybox" {
		if len(args) == 0 || !shellNames[args[0]] {
			return false
		}
		args = args[1:]
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--" || a == "-":
			return i+1 == len(args)
		case a == "--rcfile" || a == "--init-file":
			i++
		case strings.HasPrefix(a, "--"):
		case strings.HasPrefix(a, "-") || strings.HasPrefix(a, "+"):
			if strings.Contains(a, "c") {
				return false
			}
			if strings.Contains(a, "s") {
				return true // the rest are positional parameters
			}
			if strings.HasSuffix(a, "o") || strings.HasSuffix(a, "O") {
				i++
			}
		default:
			return false // a script
		}
	}
	return true
}

// refuse ends the nested shells the session's shell started, and says why.
func (s *Shell) refuse() {
	var nested bool
	kids := descendants(s.top())
	for _, p := range kids {
		nested = nested || isShell(p)
	}
	if !nested {
		return
	}
	for _, p := range kids {
		syscall.Kill(p, syscall.SIGKILL)
	}
	s.stderr.w.WriteString("kmodcheck: " + s.Refuse + "\n")
}

// isShell reports whether pid is a shell that reads commands from a
// terminal, whether or not it waits for one now.
func isShell(pid int) bool {
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil || !shellNames[strings.TrimSpace(string(comm))] {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !readsCommands(strings.Split(strings.TrimSuffix(string(cmdline), "\x00"), "\x00")) {
		return false
	}
	tty, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/0", pid))
	return err == nil && (strings.HasPrefix(tty, "/dev/pts/") || strings.HasPrefix(tty, "/dev/tty"))
}

// children lists the processes whose parent is pid: from the kernel's
// list (CONFIG_PROC_CHILDREN, Debian's), else by a walk of /proc.
func children(pid int) []int {
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid)); err == nil {
		var kids []int
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				kids = append(kids, n)
			}
		}
		return kids
	}
	ents, _ := os.ReadDir("/proc")
	var kids []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if b, err := os.ReadFile("/proc/" + e.Name() + "/stat"); err == nil && statPPID(string(b)) == pid {
			kids = append(kids, p)
		}
	}
	return kids
}

// descendants lists pid's descendants, parents before their children.
func descendants(pid int) []int {
	var all []int
	for next := []int{pid}; len(next) > 0; {
		var kids []int
		for _, p := range next {
			kids = append(kids, children(p)...)
		}
		all = append(all, kids...)
		next = kids
	}
	return all
}

// statPPID reads the parent's PID from /proc/PID/stat (after the comm,
// which may hold spaces and parentheses).
func statPPID(stat string) int {
	f := statFields(stat)
	if len(f) < 2 {
		return -1
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

// newShell returns one of kids, the descendants of the session's current
// shell, that is a shell waiting for a line (see above), or 0.
func (s *Shell) newShell(kids []int) int {
	for _, p := range kids {
		if s.level(p) < 0 && shellWaiting(p) {
			return p
		}
	}
	return 0
}

func (s *Shell) top() int { return s.levels[len(s.levels)-1] }

// level is pid's depth in the session's shells less one, or -1.
func (s *Shell) level(pid int) int {
	for i, p := range s.levels {
		if p == pid {
			return i
		}
	}
	return -1
}

// enter makes pid the shell that runs the next lines.
func (s *Shell) enter(pid int) {
	s.levels = append(s.levels, pid)
	// Another user's shell reports too (su - nobody).
	os.Chmod(s.dir, 0o711)
	os.Chmod(s.fifo(), 0o622)
	s.changed = s.describe()
}

// describe says which shell runs the next lines: "root shell: bash, depth 2".
func (s *Shell) describe() string {
	pid := s.top()
	comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	name := "uid ?"
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "Uid:"); ok {
				if f := strings.Fields(v); len(f) > 1 {
					name = "uid " + f[1]
					if u, err := user.LookupId(f[1]); err == nil {
						name = u.Username
					}
				}
			}
		}
	}
	return fmt.Sprintf("%s shell: %s, depth %d", name, strings.TrimSpace(string(comm)), len(s.levels))
}

// queryLine is typed into a nested shell when it reads the terminal again:
// it reports the last line's status as PROMPT_COMMAND does.
func (s *Shell) queryLine() string {
	return fmt.Sprintf(` printf '%%s %%s %%s\n' "$?" "$$" "$PWD" >%s`, shellQuote(s.fifo()))
}

// interruptNested ends what a nested shell runs: every process it started.
// When it runs nothing (a loop of builtins), the shell itself gets SIGINT,
// which ends a shell that is not interactive.
func (s *Shell) interruptNested() {
	kids := descendants(s.top())
	if len(kids) == 0 {
		syscall.Kill(s.top(), syscall.SIGINT)
		return
	}
	for _, p := range kids {
		syscall.Kill(p, syscall.SIGKILL)
	}
}
