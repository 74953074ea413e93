package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"

	"github.com/kmodcheck/kmodcheck/runner/target"
)

// Steps runs a case's steps on this machine as a reader types them: into
// one interactive bash session, started at the first step (or earlier,
// StartEarly) and again after a step ended it, with sudo or its stand-in;
// or, where there is no bash, each with /bin/sh -c on a terminal of its
// own.
type Steps struct {
	Env []string // the session's environment
	// Cred is the user the steps run as (nil: this process's); sudo's
	// stand-in is root's only.
	Cred    *syscall.Credential
	SudoDir string // where root's stand-in for sudo goes where there is no sudo (WithSudo)
	Refuse  string // given to each session's Shell.Refuse
	// OnSession, if set, is told the ID of each session a step's processes
	// start in (the PID of its leader, the shell), when it starts: for
	// whoever must end them should this process die first (the host
	// target's guard).
	OnSession func(sid int)

	shell    *Shell      // the case's bash session; nil before its first step or without bash
	early    *earlyShell // the session, starting since StartEarly
	stuck    bool        // the last step ignored SIGKILL
	mu       sync.Mutex  // for sessions: an early session starts on a goroutine of its own
	sessions []int       // every session started, for Close
}

// ShellName says what runs the steps, for the transcript.
func ShellName() string {
	if _, err := os.Stat(Bash); err != nil {
		return "/bin/sh -c, one process per step (no " + Bash + ")"
	}
	return Bash + ", one interactive session per case"
}

// StartEarly starts the session in dir now, as a reader's terminal is open
// before they type: its start then overlaps what comes before the first
// step.
func (s *Steps) StartEarly(dir string) {
	if s.shell != nil || s.early != nil {
		return
	}
	e := &earlyShell{done: make(chan struct{})}
	go func() {
		defer close(e.done)
		e.sh, e.err = s.start(dir)
	}()
	s.early = e
}

// An earlyShell is a session starting before the first step.
type earlyShell struct {
	done chan struct{}
	sh   *Shell
	err  error
}

// Run runs one step. An error says why the step could not run at all.
func (s *Steps) Run(ctx context.Context, step target.Step) (target.Result, error) {
	var note string
	if s.shell != nil && s.shell.Dead() != "" {
		note = fmt.Sprintf("kmodcheck: a new shell session: the last one ended (%s)\n", s.shell.Dead())
		s.shell.Close()
		s.shell = nil
	}
	if s.shell == nil {
		sh, err := s.take(step.Dir)
		if errors.Is(err, os.ErrNotExist) {
			res, stuck, err := runOnPty(ctx, step, s.Env, s.Cred, s.started)
			s.stuck = stuck
			return res, err
		}
		if err != nil {
			return target.Result{Step: step, Exit: -1}, err
		}
		s.shell = sh
	}
	res := s.shell.Run(ctx, step)
	res.Stderr = append([]byte(note), res.Stderr...)
	s.stuck = s.shell.Stuck()
	return res, nil
}

// take returns the session started early, or, for a session that ended or
// one that could not start early, a new one in dir.
func (s *Steps) take(dir string) (*Shell, error) {
	if e := s.early; e != nil {
		s.early = nil
		<-e.done
		if e.err == nil || errors.Is(e.err, os.ErrNotExist) {
			return e.sh, e.err
		}
	}
	return s.start(dir)
}

// start starts a bash session in dir, sudo as a reader's.
func (s *Steps) start(dir string) (*Shell, error) {
	env := s.Env
	if s.Cred == nil {
		var err error
		if env, err = WithSudo(s.Env, s.SudoDir); err != nil {
			return nil, err
		}
	}
	sh, err := StartShell(dir, env, s.Cred)
	if err != nil {
		return nil, err
	}
	s.started(sh.cmd.Process.Pid)
	sh.Refuse = s.Refuse
	return sh, nil
}

// started notes a session that a step's processes start in.
func (s *Steps) started(sid int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions = append(s.sessions, sid)
	if s.OnSession != nil {
		s.OnSession(sid)
	}
}

// Stuck reports whether the last step ignored SIGKILL: it sleeps
// uninterruptibly in the kernel.
func (s *Steps) Stuck() bool { return s.stuck }

// Pwd is the session's working directory after its last line; "" without
// a session.
func (s *Steps) Pwd() string {
	if s.shell == nil {
		return ""
	}
	return s.shell.Pwd()
}

// Inspect reports what the kernel has loaded and running, and the
// session's jobs still running.
func (s *Steps) Inspect() (target.State, error) {
	mods, err := ProcModules()
	if err != nil {
		return target.State{}, err
	}
	st := target.State{Kthreads: ProcKthreads(), Tainted: ProcTainted()}
	for _, m := range mods {
		st.Modules = append(st.Modules, m.Name)
	}
	sort.Strings(st.Modules)
	if s.shell != nil && s.shell.Dead() == "" {
		st.Jobs, _ = s.shell.Jobs()
	}
	return st, nil
}

// Close stops the session's jobs and ends it.
func (s *Steps) Close() {
	if e := s.early; e != nil {
		s.early = nil
		<-e.done
		if e.sh != nil {
			e.sh.Close()
		}
	}
	if s.shell != nil {
		s.shell.StopJobs()
		s.shell.Close()
		s.shell = nil
	}
	// What left the shell's descendants but not its session: `(cmd &)`,
	// and the background jobs of steps run with /bin/sh -c.
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sid := range s.sessions {
		KillSession(sid, 5*time.Second)
	}
	s.sessions = nil
}

// runOnPty runs the line with /bin/sh -c and a pseudo-terminal as its
// controlling terminal and standard input, as in a reader's terminal (ps -N
// selects by terminal), while standard output and error stay separate.
func runOnPty(ctx context.Context, step target.Step, env []string, cred *syscall.Credential, started func(sid int)) (res target.Result, stuck bool, err error) {
	res = target.Result{Step: step, Exit: -1}
	ptmx, tty, err := pty.Open()
	if err != nil {
		return res, false, fmt.Errorf("open pty: %w", err)
	}
	defer ptmx.Close()
	if err := ownTerminal(tty, cred); err != nil {
		tty.Close()
		return res, false, err
	}
	var stdout, stderr OutputBuffer
	cmd := exec.Command("/bin/sh", "-c", step.Line)
	cmd.Dir = step.Dir
	cmd.Env = append(append(append([]string(nil), env...), "SHELL=/bin/sh", "PWD="+step.Dir), step.Env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0, Credential: cred}
	cmd.WaitDelay = time.Second
	start := time.Now()
	err = cmd.Start()
	tty.Close()
	if err != nil {
		return res, false, fmt.Errorf("start: %w", err)
	}
	started(cmd.Process.Pid)
	go io.Copy(io.Discard, ptmx)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var timeout <-chan time.Time
	if step.Timeout > 0 {
		timeout = time.After(step.Timeout)
	}
	select {
	case err = <-done:
	case <-ctx.Done():
		err = killGroup(cmd, done)
	case <-timeout:
		res.TimedOut = true
		err = killGroup(cmd, done)
	}
	stuck = errors.Is(err, errStuck)
	res.Duration = time.Since(start)
	res.Stdout, res.Stderr = stdout.Bytes(), stderr.Bytes()
	if !stuck {
		res.Exit = cmd.ProcessState.ExitCode()
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) && !stuck {
		return res, false, err
	}
	return res, stuck, nil
}

// errStuck is why a killed process is not gone: it sleeps uninterruptibly
// in the kernel.
var errStuck = errors.New("killed but not gone: stuck in the kernel")

// killGroup kills cmd's process group and waits for cmd a little.
func killGroup(cmd *exec.Cmd, done <-chan error) error {
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	select {
	case err := <-done:
		return err
	case <-time.After(2 * time.Second):
		return errStuck
	}
}
