package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/kmodcheck/kmodcheck/runner/scratch"
	"github.com/kmodcheck/kmodcheck/runner/target"
)

// Bash is the reader's shell; /bin/sh stands in where it is absent.
const Bash = "/bin/bash"

// ReaderPath is a login's PATH: Ubuntu's for every user (its
// /etc/environment), which has the sbin directories, so that a reader's
// `modinfo x.ko` runs without sudo, as on Ubuntu; Debian's leaves them to
// root.
const ReaderPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/games:/usr/local/games"

// LoginEnv is the environment of a login of the user name, whose home
// is home, in the locale lang, with colour off.
func LoginEnv(name, home, lang string) []string {
	return []string{
		"PATH=" + ReaderPath,
		"HOME=" + home, "USER=" + name, "LOGNAME=" + name, "SHELL=" + Bash,
		"TERM=dumb", "NO_COLOR=1", "LANG=" + lang,
	}
}

// readerAliases are the aliases of Ubuntu's ~/.bashrc (from /etc/skel)
// that a tutorial may type: ll, la and l. The others it sets there colour
// ls and grep on a terminal only, and a step's output is a pipe.
const readerAliases = `alias ll='ls -alF' la='ls -A' l='ls -CF'`

// maxTypedLine is the longest line a terminal in canonical mode passes
// whole (N_TTY_BUF_SIZE less the newline), with its newline.
const maxTypedLine = target.MaxLine + 1

// A Shell is one interactive bash session, as in a reader's terminal: a
// case's steps are typed into it one after another, so the working
// directory, variables and jobs carry from step to step.
//
// The shell reads each line from its terminal (a pseudo-terminal that is
// its controlling terminal and every step's standard input), exactly as
// typed, and runs it with job control. Its standard output and error are
// two pipes, so a step's stdout and stderr stay apart; a background job
// writes to them too, and its output goes with the step during which it
// came, as it would appear in a terminal. PROMPT_COMMAND reports each
// line's exit status on a FIFO; PS2 says when a line is incomplete.
type Shell struct {
	cmd    *exec.Cmd
	ptmx   *os.File
	dir    string // the tmp directory holding the FIFO
	status chan string
	exited chan struct{} // closed when bash has exited
	stdout *stream
	stderr *stream
	cwd    string // Step.Dir last applied; testscript's cd changes it
	pwd    string // the shell's working directory after its last line
	syncs  int
	dead   string // why the shell can run no more lines
	stuck  bool   // a step ignored SIGKILL
	// The shells that run the lines, by PID: bash first, then the nested
	// shells a step started (sudo su), the last one current (nested.go).
	levels  []int
	changed string // the shell the last line left current, when it changed
	// Refuse, when set, ends a nested shell as it starts, and says this.
	Refuse string
	// What background jobs wrote while kmodcheck's own lines ran: it goes
	// with the next step.
	carryOut, carryErr []byte
}

// StartShell starts bash in dir with the given environment, as the user
// cred gives (nil: this process's). It fails with an error wrapping
// os.ErrNotExist where there is no bash.
func StartShell(dir string, env []string, cred *syscall.Credential) (*Shell, error) {
	if _, err := os.Stat(Bash); err != nil {
		return nil, fmt.Errorf("start shell: %w", err)
	}
	tmp, err := scratch.Dir("shell")
	if err != nil {
		return nil, fmt.Errorf("start shell: %w", err)
	}
	s := &Shell{dir: tmp, cwd: dir, pwd: dir, status: make(chan string, 16), exited: make(chan struct{})}
	if err := s.start(dir, env, cred); err != nil {
		s.Close()
		return nil, fmt.Errorf("start %s: %w", Bash, err)
	}
	return s, nil
}

func (s *Shell) fifo() string { return filepath.Join(s.dir, "status") }

func (s *Shell) start(dir string, env []string, cred *syscall.Credential) error {
	if err := unix.Mkfifo(s.fifo(), 0o600); err != nil {
		return err
	}
	if cred != nil {
		// The shell's PROMPT_COMMAND writes the FIFO.
		if err := errors.Join(os.Chmod(s.dir, 0o711), os.Chown(s.fifo(), int(cred.Uid), int(cred.Gid))); err != nil {
			return err
		}
	}
	// Read and write: the FIFO never reports end of file between lines.
	fifo, err := os.OpenFile(s.fifo(), os.O_RDWR, 0)
	if err != nil {
		return err
	}
	go s.readStatus(fifo)
	ptmx, tty, err := pty.Open()
	if err != nil {
		return fmt.Errorf("open pty: %w", err)
	}
	defer tty.Close()
	if err := ownTerminal(tty, cred); err != nil {
		return err
	}
	s.ptmx = ptmx
	if s.stdout, err = newStream(); err != nil {
		return err
	}
	if s.stderr, err = newStream(); err != nil {
		return err
	}
	// No rc files: Debian's /etc/bash.bashrc sets a prompt, and what a
	// step prints must not depend on the machine's.
	s.cmd = exec.Command(Bash, "--norc", "--noprofile", "--noediting", "-i")
	s.cmd.Dir = dir
	s.cmd.Env = append(append([]string(nil), env...), "PWD="+dir)
	s.cmd.Stdin, s.cmd.Stdout, s.cmd.Stderr = tty, s.stdout.w, s.stderr.w
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0, Credential: cred}
	if err := s.cmd.Start(); err != nil {
		return err
	}
	go func() {
		s.cmd.Wait()
		close(s.exited)
	}()
	s.levels = []int{s.cmd.Process.Pid}
	go discard(ptmx) // the terminal's echo of what is typed
	// Prompts empty, each line's status on the FIFO, our lines (typed with
	// a leading space) kept out of the history.
	q := shellQuote(s.fifo())
	setup := fmt.Sprintf(` PS1=; PS2='$(printf "more\n" >%s)'; PROMPT_COMMAND='printf "%%s %%s %%s\n" "$?" "$$" "$PWD" >%s'; HISTCONTROL=ignorespace; unset HISTFILE; %s`, q, q, readerAliases)
	if _, _, _, err := s.hidden(setup, 30*time.Second); err != nil {
		return err
	}
	s.carryOut, s.carryErr = nil, nil // bash's first prompt
	return nil
}

// ownTerminal gives the terminal tty to the user cred gives, as login
// does: a program that opens it again by name (tty, sudo's prompt) may.
func ownTerminal(tty *os.File, cred *syscall.Credential) error {
	if cred == nil {
		return nil
	}
	if err := tty.Chown(int(cred.Uid), int(cred.Gid)); err != nil {
		return fmt.Errorf("give the terminal to uid %d: %w", cred.Uid, err)
	}
	return nil
}

func discard(f *os.File) {
	buf := make([]byte, 4096)
	for {
		if _, err := f.Read(buf); err != nil {
			return
		}
	}
}

func (s *Shell) readStatus(fifo *os.File) {
	buf := make([]byte, 256)
	var line []byte
	for {
		n, err := fifo.Read(buf)
		line = append(line, buf[:n]...)
		for {
			i := bytes.IndexByte(line, '\n')
			if i < 0 {
				break
			}
			s.status <- string(line[:i])
			line = line[i+1:]
		}
		if err != nil {
			return
		}
	}
}

// Name is the shell's path, for the transcript.
func (s *Shell) Name() string { return Bash }

// Run types the step's line into the shell and waits for it. A line that
// holds newlines is typed line by line, as pasted into a terminal; the
// step's exit status is the last line's.
func (s *Shell) Run(ctx context.Context, step target.Step) target.Result {
	res := target.Result{Step: step, Exit: -1}
	start := time.Now()
	if step.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, step.Timeout)
		defer cancel()
	}
	if s.dead != "" {
		res.Stderr = []byte("kmodcheck: " + s.dead + "\n")
		return res
	}
	if err := s.prepare(step); err != nil {
		res.Stderr = []byte("kmodcheck: " + err.Error() + "\n")
		return res
	}
	for _, line := range strings.Split(strings.TrimSuffix(step.Line, "\n"), "\n") {
		if len(line) >= maxTypedLine {
			res.Stderr = fmt.Appendf(nil, "kmodcheck: a line of %d bytes is longer than a terminal passes (%d)\n", len(line), maxTypedLine-1)
			return res
		}
		res.Exit, res.TimedOut = s.typeLine(ctx, line)
		if res.TimedOut || s.dead != "" {
			break
		}
	}
	stdout, stderr, err := s.sync(5 * time.Second)
	if err != nil && s.dead == "" {
		s.dead = err.Error()
	}
	res.Stdout = append(s.carryOut, stdout...)
	res.Stderr = append(s.carryErr, stderr...)
	s.carryOut, s.carryErr = nil, nil
	res.Shell, s.changed = s.changed, ""
	res.Duration = time.Since(start)
	return res
}

// prepare applies what the host asks of a step beyond its line: the
// directory testscript's cd chose, extra environment.
func (s *Shell) prepare(step target.Step) error {
	var lines []string
	if step.Dir != "" && step.Dir != s.cwd {
		lines = append(lines, "cd -- "+shellQuote(step.Dir))
		s.cwd = step.Dir
	}
	for _, kv := range step.Env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			lines = append(lines, "export "+k+"="+shellQuote(v))
		}
	}
	if len(lines) == 0 {
		return nil
	}
	exit, _, stderr, err := s.hidden(strings.Join(lines, "; "), 30*time.Second)
	if err == nil && exit != 0 {
		err = fmt.Errorf("%s: %s", strings.Join(lines, "; "), bytes.TrimSpace(stderr))
	}
	return err
}

// typeLine types one line and waits for the shell's next prompt.
func (s *Shell) typeLine(ctx context.Context, line string) (exit int, timedOut bool) {
	if _, err := s.ptmx.WriteString(line + "\n"); err != nil {
		s.dead = fmt.Sprintf("type into the shell: %v", err)
		return -1, false
	}
	if exit, ok := s.await(ctx); ok {
		return exit, false
	}
	// Timed out: kill the job in the foreground; if that is bash itself
	// (a loop of builtins), interrupt it as ^C would. In a nested shell,
	// kill what it runs.
	if len(s.levels) > 1 {
		s.interruptNested()
	} else if pgrp, err := unix.IoctlGetInt(int(s.ptmx.Fd()), unix.TIOCGPGRP); err == nil && pgrp != s.cmd.Process.Pid && pgrp > 1 {
		syscall.Kill(-pgrp, syscall.SIGKILL)
	} else {
		syscall.Kill(s.cmd.Process.Pid, syscall.SIGINT)
	}
	wait, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if exit, ok := s.await(wait); ok {
		return exit, true
	}
	// Killed but not gone: stuck in the kernel, uninterruptible.
	s.dead, s.stuck = "the shell's last step is stuck in the kernel", true
	return -1, true
}

// await waits for the current shell's report of the line typed, a nested
// shell's start (the line's end, status 0), or a nested shell's exit (the
// status the shell below it reports). It returns false when ctx ends first.
func (s *Shell) await(ctx context.Context) (exit int, ok bool) {
	// Most lines report at once; looking for a nested shell costs a walk
	// of /proc, slow under TCG, so the first look comes late.
	delay := 100 * time.Millisecond
	poll := time.NewTimer(delay)
	defer poll.Stop()
	queried, waiting, inputWaits, interrupted := false, 0, 0, false
	for {
		select {
		case st := <-s.status:
			if st == "more" {
				// bash waits for the rest of a quote or a compound command, as
				// at a terminal's "> " prompt: interrupt it as a reader would.
				s.ptmx.Write([]byte{3})
				s.waitStatus(5 * time.Second)
				s.stderr.w.WriteString("kmodcheck: the line is incomplete: bash waited for more input (PS2); interrupted\n")
				return 2, true
			}
			code, pid := s.report(st)
			if s.Refuse != "" && code > 128 {
				s.refuse() // a job stopped: sudo su, where sudo runs it on a pty of its own
			}
			switch i := s.level(pid); {
			case i < 0: // a shell of the session's we did not know of
				s.enter(pid)
				return 0, true
			case i < len(s.levels)-1: // the shells above it exited
				s.levels = s.levels[:i+1]
				s.changed = s.describe()
			}
			return code, true
		case <-s.exited:
			s.dead = "the shell exited (a step ran exit?); " + exitText(s.cmd.ProcessState)
			return s.cmd.ProcessState.ExitCode(), true
		case <-ctx.Done():
			return -1, false
		case <-poll.C:
		}
		kids := descendants(s.top())
		if pid := s.newShell(kids); pid != 0 {
			if s.Refuse == "" {
				s.enter(pid)
				return 0, true
			}
			s.refuse()
		} else if pid := s.inputWaiter(kids); pid == 0 {
			inputWaits = 0
		} else if inputWaits++; inputWaits == inputPolls {
			s.interruptInput(pid, interrupted)
			inputWaits, interrupted = 0, true
		}
		// A nested shell that exited returns to the one below it, which
		// reports through PROMPT_COMMAND, or is asked as below.
		if n := len(s.levels); n > 1 && !alive(s.levels[n-1]) {
			for n > 1 && !alive(s.levels[n-1]) {
				n--
			}
			s.levels = s.levels[:n]
			s.changed = s.describe()
			queried, waiting = false, 0
		}
		// A nested shell reading the terminal again, twice in a row, has
		// run the line: ask it for the status.
		if len(s.levels) > 1 && !queried {
			if shellWaiting(s.top()) {
				waiting++
			} else {
				waiting = 0
			}
			if waiting >= 2 {
				s.ptmx.WriteString(s.queryLine() + "\n")
				queried = true
			}
		}
		delay = min(2*delay, 250*time.Millisecond)
		poll.Reset(delay)
	}
}

// Stuck reports whether a step ignored SIGKILL: it sleeps uninterruptibly
// in the kernel, and the shell can run nothing more.
func (s *Shell) Stuck() bool { return s.stuck }

// Dead says why the shell can run no more steps; "" while it can.
func (s *Shell) Dead() string { return s.dead }

// report reads PROMPT_COMMAND's report, "STATUS PID PWD", keeps the
// working directory, and returns the status and the reporting shell.
func (s *Shell) report(report string) (status, pid int) {
	code, rest, _ := strings.Cut(report, " ")
	p, pwd, _ := strings.Cut(rest, " ")
	if pwd != "" {
		s.pwd = pwd
	}
	pid, _ = strconv.Atoi(p)
	n, err := strconv.Atoi(code)
	if err != nil {
		return -1, pid
	}
	return n, pid
}

// Pwd is the shell's working directory after its last line.
func (s *Shell) Pwd() string { return s.pwd }

func exitText(ps *os.ProcessState) string {
	if ps == nil {
		return "still running"
	}
	return ps.String()
}

func (s *Shell) waitStatus(d time.Duration) (string, bool) {
	select {
	case st := <-s.status:
		return st, true
	case <-time.After(d):
		return "", false
	}
}

// hidden runs a line of kmodcheck's own in the shell, out of its history,
// and returns what it printed.
func (s *Shell) hidden(line string, timeout time.Duration) (exit int, stdout, stderr []byte, err error) {
	if s.dead != "" {
		return -1, nil, nil, errors.New(s.dead)
	}
	out, errOut, err := s.sync(5 * time.Second) // background jobs': the next step's
	if err != nil {
		return -1, nil, nil, err
	}
	s.carryOut, s.carryErr = append(s.carryOut, out...), append(s.carryErr, errOut...)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	exit, timedOut := s.typeLine(ctx, " "+line)
	stdout, stderr, serr := s.sync(5 * time.Second)
	switch {
	case s.dead != "":
		return exit, stdout, stderr, errors.New(s.dead)
	case timedOut:
		return exit, stdout, stderr, fmt.Errorf("shell: %q timed out after %v", line, timeout)
	}
	return exit, stdout, stderr, serr
}

// sync returns what the shell's standard output and error received since
// the last sync: everything the shell and its finished commands wrote.
func (s *Shell) sync(timeout time.Duration) (stdout, stderr []byte, err error) {
	s.syncs++
	token := fmt.Appendf(nil, "\x00kmodcheck sync %d\x00", s.syncs)
	if stdout, err = s.stdout.sync(token, timeout); err != nil {
		return nil, nil, err
	}
	stderr, err = s.stderr.sync(token, timeout)
	return stdout, stderr, err
}

// Jobs lists the shell's jobs still running or stopped, as `jobs -l`
// prints them.
func (s *Shell) Jobs() ([]string, error) {
	_, out, _, err := s.hidden("jobs -l", 10*time.Second)
	var jobs []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "[") {
			jobs = append(jobs, l)
		}
	}
	return jobs, err
}

// StopJobs kills the shell's jobs, returning what they were.
func (s *Shell) StopJobs() ([]string, error) {
	jobs, err := s.Jobs()
	if err != nil || len(jobs) == 0 {
		return jobs, err
	}
	_, _, _, err = s.hidden(`for j in $(jobs -p); do kill -KILL -- -$j 2>/dev/null; done; wait`, 10*time.Second)
	return jobs, err
}

// Close ends the shell and everything still running in its session.
func (s *Shell) Close() {
	if s.cmd != nil && s.cmd.Process != nil {
		if pgrp, err := unix.IoctlGetInt(int(s.ptmx.Fd()), unix.TIOCGPGRP); err == nil && pgrp > 1 {
			syscall.Kill(-pgrp, syscall.SIGKILL)
		}
		// Stopped jobs and nested shells (sudo su) too.
		for _, p := range descendants(s.cmd.Process.Pid) {
			syscall.Kill(p, syscall.SIGKILL)
		}
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		s.cmd.Process.Kill()
		select {
		case <-s.exited:
		case <-time.After(5 * time.Second):
		}
	}
	if s.ptmx != nil {
		s.ptmx.Close()
	}
	for _, st := range []*stream{s.stdout, s.stderr} {
		if st != nil {
			st.close()
		}
	}
	os.RemoveAll(s.dir)
}

// A stream is one of the shell's output pipes, read as it comes so that a
// background job never blocks on it.
type stream struct {
	w       *os.File // the shell's end; kept to write sync tokens into
	mu      sync.Mutex
	buf     []byte
	changed chan struct{}
	err     error
	token   []byte // the sync token written, not yet read back
	dropped int64  // bytes past target.MaxOutput dropped since the last sync
}

// streamTail is how much of a stream's latest output trim keeps past
// MaxOutput, where the next sync token will be read.
const streamTail = 64 << 10

func newStream() (*stream, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	st := &stream{w: w, changed: make(chan struct{})}
	go st.read(r)
	return st, nil
}

func (st *stream) read(r *os.File) {
	defer r.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		st.mu.Lock()
		st.buf = append(st.buf, buf[:n]...)
		st.trim()
		if err != nil {
			st.err = err
		}
		close(st.changed)
		st.changed = make(chan struct{})
		st.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// sync writes token into the pipe and returns what came before it: a
// write of at most PIPE_BUF bytes is atomic, and whatever was written
// before it is read before it.
func (st *stream) sync(token []byte, timeout time.Duration) ([]byte, error) {
	st.mu.Lock()
	st.token = token
	st.mu.Unlock()
	if _, err := st.w.Write(token); err != nil {
		return nil, fmt.Errorf("sync shell output: %w", err)
	}
	deadline := time.After(timeout)
	for {
		st.mu.Lock()
		if i := bytes.Index(st.buf, token); i >= 0 {
			out := capOutput(bytes.Clone(st.buf[:i]), st.dropped)
			st.buf = append(st.buf[:0], st.buf[i+len(token):]...)
			st.token, st.dropped = nil, 0
			st.mu.Unlock()
			return out, nil
		}
		ch, err := st.changed, st.err
		st.mu.Unlock()
		if err != nil {
			return nil, fmt.Errorf("read shell output: %w", err)
		}
		select {
		case <-ch:
		case <-deadline:
			return nil, fmt.Errorf("shell output: sync token not read back within %v", timeout)
		}
	}
}

// trim keeps a stream within MaxOutput and streamTail bytes: past
// MaxOutput, it drops (and counts) what came before the latest streamTail
// bytes, but never the sync token nor what follows it.
func (st *stream) trim() {
	end := len(st.buf) - streamTail
	if end <= target.MaxOutput {
		return
	}
	cut := st.buf[target.MaxOutput:end]
	if i := bytes.Index(st.buf, st.token); st.token != nil && i >= 0 {
		if i <= target.MaxOutput {
			return // what follows the token is the next step's; sync takes the token now
		}
		cut = cut[:min(len(cut), i-target.MaxOutput)]
	}
	if len(cut) == 0 {
		return
	}
	st.dropped += int64(len(cut))
	st.buf = append(st.buf[:target.MaxOutput], st.buf[target.MaxOutput+len(cut):]...)
}

func (st *stream) close() { st.w.Close() }

// shellQuote quotes a word for the shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// RunSh runs a step's line with /bin/sh -c on this machine, in its own
// process group so that a timeout kills everything it started, and dying
// with kmodcheck: for a machine without bash, and for builds (whose
// unshare takes its namespace's processes with it).
func RunSh(ctx context.Context, step target.Step, env []string) target.Result {
	if step.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, step.Timeout)
		defer cancel()
	}
	var stdout, stderr OutputBuffer
	cmd := exec.Command("/bin/sh", "-c", step.Line)
	cmd.Dir = step.Dir
	cmd.Env = append(append(env, "PWD="+step.Dir), step.Env...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = time.Second
	defer DieWithKmodcheck(cmd)() // after the wait below
	start := time.Now()
	res := target.Result{Step: step, Exit: -1}
	if err := cmd.Start(); err != nil {
		res.Stderr = []byte(err.Error())
		return res
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		err = <-done
		res.TimedOut = true
	}
	res.Duration = time.Since(start)
	res.Stdout, res.Stderr = stdout.Bytes(), stderr.Bytes()
	var exitErr *exec.ExitError
	if err == nil || errors.As(err, &exitErr) {
		res.Exit = cmd.ProcessState.ExitCode()
	}
	return res
}

// sudoStandIn runs a command as sudo would for root, where there is no
// sudo: every step runs as root already. It takes the options tutorials
// use (-E keeps the environment, -u root, -- ends the options) and resets
// the environment as sudo's env_reset does without -E.
const sudoStandIn = `#!/bin/sh
# kmodcheck's stand-in for sudo, for root, where the machine has no sudo.
keep=
while [ $# -gt 0 ]; do
	case $1 in
	-E|--preserve-env|--preserve-env=*) keep=1; shift ;;
	-H|--set-home|-n|--non-interactive|-S|--stdin|-k|--reset-timestamp) shift ;;
	-u|--user) case $2 in root|'#0') shift 2 ;; *) echo "sudo: kmodcheck's stand-in runs commands as root only, not $2" >&2; exit 1 ;; esac ;;
	-uroot|--user=root) shift ;;
	--) shift; break ;;
	-*) echo "sudo: kmodcheck's stand-in does not take $1" >&2; exit 1 ;;
	*) break ;;
	esac
done
if [ $# -eq 0 ]; then echo "usage: sudo [-E] [-u root] command" >&2; exit 1; fi
if [ -z "$keep" ]; then
	exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin TERM="$TERM" LANG="$LANG" \
		HOME=/root LOGNAME=root USER=root SHELL=/bin/bash SUDO_USER=root SUDO_UID=0 SUDO_GID=0 SUDO_COMMAND="$*" "$@"
fi
exec "$@"
`

// WithSudo returns env with, where no sudo is on its PATH, kmodcheck's
// stand-in for it written into dir and first on PATH.
func WithSudo(env []string, dir string) ([]string, error) {
	path := "/usr/sbin:/usr/bin:/sbin:/bin"
	for _, kv := range env {
		if p, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = p
		}
	}
	for _, d := range filepath.SplitList(path) {
		if _, err := os.Stat(filepath.Join(d, "sudo")); err == nil {
			return env, nil
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return env, fmt.Errorf("sudo stand-in: %w", err)
	}
	if err := WriteProgram(filepath.Join(dir, "sudo"), []byte(sudoStandIn)); err != nil {
		return env, fmt.Errorf("sudo stand-in: %w", err)
	}
	return append(append([]string(nil), env...), "PATH="+dir+":"+path), nil
}

// HostEnv is this process's environment for a step run on the host (a
// build, or every step of the host target), without what a make that
// started kmodcheck passed down to its children: with MAKELEVEL and
// MAKEFLAGS inherited (make test runs go test, which runs kmodcheck), the
// tutorial's make would print "make[1]: Entering directory" and take the
// outer make's flags, where a reader's terminal has neither.
func HostEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES", "GNUMAKEFLAGS", "MAKE_TERMOUT", "MAKE_TERMERR":
			continue
		}
		env = append(env, kv)
	}
	return env
}
