package host

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kmodcheck/kmodcheck/runner/local"
)

// EnvGuard, in the environment of kmodcheck's own program, makes it a host
// session's guard (GuardMain) rather than what it would be.
const EnvGuard = "KMODCHECK_HOST_GUARD"

// IsGuard reports whether this process was started as a session's guard.
func IsGuard() bool { return os.Getenv(EnvGuard) != "" }

// A guard is a process of its own that undoes a host session when the
// kmodcheck that opened it dies without closing it, SIGKILL included:
// nothing that kmodcheck started may run on, or stay changed, on the
// reader's machine. The session tells it, on a pipe, what to undo; the
// pipe's end (kmodcheck gone, however) without "done" sets it off.
type guard struct {
	mu  sync.Mutex
	w   *os.File
	cmd *exec.Cmd
}

// The guard's lines: what the session tells it.
const (
	guardSession = "session" // session SID: a session of the case's steps, to kill
	guardTrace   = "trace"   // trace DIR: the session's trace instance, to remove
	guardBefore  = "before"  // before NAME: a module loaded before the case, to keep
	guardArmed   = "armed"   // every module to keep is named: from now on, undo at the end
	guardDone    = "done"    // the session closed itself: nothing to undo
)

// startGuard starts this program again as the guard of a session that
// must keep the modules in before.
func startGuard(before map[string]bool) (*guard, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("start the session's guard: %w", err)
	}
	r, w, err := os.Pipe() // close-on-exec: no step inherits the write end
	if err != nil {
		return nil, fmt.Errorf("start the session's guard: %w", err)
	}
	defer r.Close()
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), EnvGuard+"=1")
	cmd.Stdin, cmd.Stderr = r, os.Stderr
	// A session of its own: ^C at kmodcheck's terminal is not for it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, fmt.Errorf("start the session's guard: %w", err)
	}
	g := &guard{w: w, cmd: cmd}
	for m := range before {
		g.tell(guardBefore, m)
	}
	g.tell(guardArmed, "")
	return g, nil
}

// tell writes one line to the guard. A guard that is gone has nothing to
// be told.
func (g *guard) tell(what, arg string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	fmt.Fprintf(g.w, "%s %s\n", what, arg)
}

// done tells the guard that the session undid itself, and waits for it.
func (g *guard) done() {
	g.tell(guardDone, "")
	g.w.Close()
	g.cmd.Wait()
}

// GuardMain runs the guard and exits: it reads what to undo until its
// input ends, and undoes it unless the session said it was done. Until
// it is armed it undoes nothing: it would not know which modules to keep
// (a guard started by mistake, by the variable alone, must unload none).
func GuardMain() {
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	u := undo{before: map[string]bool{}}
	armed, done := false, false
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		what, arg, _ := strings.Cut(sc.Text(), " ")
		switch what {
		case guardSession:
			if sid, err := strconv.Atoi(arg); err == nil {
				u.sessions = append(u.sessions, sid)
			}
		case guardTrace:
			u.trace = arg
		case guardBefore:
			u.before[arg] = true
		case guardArmed:
			armed = true
		case guardDone:
			done = true
		}
	}
	if armed && !done {
		if err := u.run(); err != nil {
			fmt.Fprintf(os.Stderr, "kmodcheck: after kmodcheck died: %v\n", err)
			os.Exit(1)
		}
	}
	os.Exit(0)
}

// undo is what a host session changed: the sessions of its steps, its
// trace instance, the modules loaded since it began (those not in before).
type undo struct {
	sessions []int
	trace    string
	before   map[string]bool
}

// run kills the steps' processes, then removes the trace instance and
// unloads the modules they may have held.
func (u undo) run() error {
	for _, sid := range u.sessions {
		local.KillSession(sid, 5*time.Second)
	}
	var errs []error
	if u.trace != "" {
		if err := os.Remove(u.trace); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(append(errs, unloadSince(u.before)...)...)
}

// unloadSince unloads the modules loaded now that are not in before: in
// passes, a module after those that use it, while a pass unloads one (and
// at most maxUnloadPasses: a module loaded again as soon as it goes must
// not keep it looping).
func unloadSince(before map[string]bool) []error {
	for pass := 1; ; pass++ {
		var errs []error
		unloaded := false
		for m := range loadedModules() {
			if before[m] {
				continue
			}
			if err := unix.DeleteModule(m, unix.O_NONBLOCK); err != nil {
				errs = append(errs, fmt.Errorf("rmmod %s: %w", m, err))
			} else {
				unloaded = true
			}
		}
		if !unloaded || pass == maxUnloadPasses {
			return errs
		}
	}
}

// maxUnloadPasses bounds unloadSince: a chain of modules each using the
// next is rarely longer than a few.
const maxUnloadPasses = 16
