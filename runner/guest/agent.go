package guest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/kmodcheck/kmodcheck/runner/hide"
	"github.com/kmodcheck/kmodcheck/runner/kmsg"
	"github.com/kmodcheck/kmodcheck/runner/local"
	"github.com/kmodcheck/kmodcheck/runner/proto"
	"github.com/kmodcheck/kmodcheck/runner/target"
)

// The guest side's roles (proto.EnvRole): /init hands over to the agent as
// roleInit; it starts itself again as roleServ to serve the host.
const (
	roleInit = proto.RoleInit
	roleServ = "serve"
)

// IsGuest reports whether this process was started as kmodcheck's guest side,
// or as the host's maker of the guest's view of its root (proto.RoleView).
// The kmodcheck command (and the test binary) call Main first thing when it is.
// Anywhere but in a VM kmodcheck booted the variable is ignored, with a
// warning (role.go).
func IsGuest() bool { return guestRole() != "" }

// Main runs the guest side and never returns: as PID 1 it sets the machine up,
// runs the agent as its child and powers off when the agent exits.
func Main() {
	if os.Getenv(proto.EnvRole) == proto.RoleView {
		viewMain() // execs QEMU, or exits
	}
	if os.Getenv(proto.EnvRole) == roleServ {
		err := serve()
		if err != nil {
			fmt.Fprintf(os.Stderr, "kmodcheck-agent: %v\n", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if err := setUp(); err != nil {
		// The agent still starts, and says so in its Hello.
		fmt.Fprintf(os.Stderr, "kmodcheck-init: %v\n", err)
		os.Setenv("KMODCHECK_SETUP_ERROR", err.Error())
	}
	agent := exec.Command("/proc/self/exe")
	agent.Env = append(os.Environ(), proto.EnvRole+"="+roleServ)
	agent.Stdout, agent.Stderr = os.Stdout, os.Stderr
	if err := agent.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "kmodcheck-init: start agent: %v\n", err)
		powerOff()
	}
	// As PID 1 we inherit every orphan; reap them all, and stop with the agent.
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.ECHILD || pid == agent.Process.Pid {
			if ws.ExitStatus() != 0 {
				fmt.Fprintf(os.Stderr, "kmodcheck-init: agent exited: %v\n", ws.ExitStatus())
			}
			powerOff()
		}
	}
}

func powerOff() {
	unix.Sync()
	unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	os.Exit(1) // not reached
}

// writableDirs get a tmpfs each, as on a Debian machine (/tmp, /dev/shm;
// /run is /init's), and where the host's own root would show its users'
// files (/root, /home); so do the rest of hide.Dirs, and the
// shadow files lose their hashes. The rest of the root is an overlay of
// /init's, writable.
var writableDirs = []string{"/tmp", "/root", "/home", "/dev/shm"}

func setUp() error {
	mounts := []struct{ source, target, fstype, data string }{
		{"proc", "/proc", "proc", ""},
		{"sysfs", "/sys", "sysfs", ""},
		{"devpts", "/dev/pts", "devpts", "ptmxmode=0666,mode=0620"},
		{"debugfs", "/sys/kernel/debug", "debugfs", ""},
	}
	for _, d := range writableDirs {
		mounts = append(mounts, struct{ source, target, fstype, data string }{"tmpfs", d, "tmpfs", "mode=0755"})
	}
	for _, d := range hide.Dirs {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() && !slices.Contains(writableDirs, d) {
			mounts = append(mounts, struct{ source, target, fstype, data string }{"tmpfs", d, "tmpfs", "mode=0755"})
		}
	}
	var errs []error
	for _, m := range mounts {
		os.MkdirAll(m.target, 0o755) // fails harmlessly on the read-only root
		if err := unix.Mount(m.source, m.target, m.fstype, 0, m.data); err != nil {
			errs = append(errs, fmt.Errorf("mount %s on %s: %w", m.fstype, m.target, err))
		}
	}
	if work := os.Getenv(proto.EnvWork); work != "" {
		os.MkdirAll(work, 0o755)
		opts := "trans=virtio,version=9p2000.L,msize=512000,cache=none"
		if err := unix.Mount("work", work, "9p", 0, opts); err != nil {
			errs = append(errs, fmt.Errorf("mount work directory %s: %w", work, err))
		}
	}
	for _, f := range hide.Files {
		if fi, err := os.Stat(f); err == nil && fi.Mode().IsRegular() {
			if err := os.Truncate(f, 0); err != nil {
				errs = append(errs, fmt.Errorf("hide %s: %w", f, err))
			}
		}
	}
	for _, f := range hide.ShadowFiles {
		// The root is writable (an overlay): the scrubbed copy replaces
		// the host's there, and the host's stays as it is.
		if data, err := os.ReadFile(f); err == nil {
			if err := os.WriteFile(f, hide.ScrubShadow(data), 0o640); err != nil {
				errs = append(errs, fmt.Errorf("scrub %s: %w", f, err))
			}
		}
	}
	unix.Sethostname([]byte(hostName()))
	return errors.Join(errs...)
}

// hostName is the host's name, from the shared root: its /etc/hosts
// resolves it, and sudo warns about a name that does not resolve.
func hostName() string {
	b, err := os.ReadFile("/etc/hostname")
	if name := strings.TrimSpace(string(b)); err == nil && name != "" {
		return name
	}
	return "kmodcheck"
}

type agent struct {
	log      *kmsgReader
	steps    int
	lastMark uint64                   // sequence number of the last marker written
	next     uint64                   // the first record of the next step (with trace)
	trace    *local.PrintkTrace       // printk:console, or nil: markers in the kernel log
	marks    int                      // trace markers written (agent ready, each step's end)
	seen     map[string]*loadedModule // every module seen loaded, by name
	shell    shells                   // OpShell, OpResize (shell.go)
	session  *local.Shell             // the case's bash session, taken from early at its first step
	early    *earlyShell              // the session, starting since the clock was set
	journal  journal                  // systemd-journald, for journalctl (journal.go)
	syslog   syslog                   // rsyslogd, for /var/log/kern.log (syslog.go)
}

func serve() error {
	port, err := openPort(proto.PortName, 10*time.Second)
	if err != nil {
		return err
	}
	defer port.Close()
	logPort, err := openPort(proto.LogPortName, time.Second)
	if err != nil {
		return err
	}
	defer logPort.Close()
	wire := proto.NewConn(port)

	hello := proto.Hello{Release: release(), Tainted: local.ProcTainted(), Error: os.Getenv("KMODCHECK_SETUP_ERROR"), Shell: stepShell()}
	log, err := newKmsgReader(logPort)
	if err != nil {
		hello.Error = strings.TrimPrefix(hello.Error+"; ", "; ") + err.Error()
	}
	a := &agent{log: log, seen: map[string]*loadedModule{}}
	a.noteModules()
	if log != nil {
		a.trace, err = local.NewPrintkTrace("kmodcheck")
		if err != nil {
			fmt.Fprintf(os.Stderr, "kmodcheck-agent: %v; step boundaries go into the kernel log\n", err)
		}
	}
	if a.trace != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := a.ready(ctx)
		cancel()
		if err != nil {
			return err
		}
		hello.NextSeq = a.next
	} else if log != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		seq, err := log.mark(ctx, "kmodcheck: agent ready")
		cancel()
		if err != nil {
			return err
		}
		hello.NextSeq = seq + 1
		a.lastMark = seq
	}
	if err := wire.Send(hello); err != nil {
		return fmt.Errorf("send hello: %w", err)
	}
	out := newReplies(wire) // in order, though OpShell answers only when its shell exits
	for {
		var req proto.Request
		if err := wire.Receive(&req); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read request: %w", err)
		}
		var err error
		switch req.Op {
		case proto.OpPoweroff:
			return nil
		case proto.OpResize:
			a.shell.resize(req) // no Response
		case proto.OpShell:
			err = out.later(func() proto.Response { return a.shell.shell(req) })
		default:
			err = out.send(a.handle(req))
		}
		if err != nil {
			return err
		}
	}
}

func (a *agent) handle(req proto.Request) proto.Response {
	switch req.Op {
	case proto.OpClock:
		tv := unix.NsecToTimeval(req.UnixNano)
		if err := unix.Settimeofday(&tv); err != nil {
			return proto.Response{Error: fmt.Sprintf("set clock: %v", err)}
		}
		if a.session == nil && a.early == nil { // after the clock: bash's $SECONDS reads it
			a.early = startEarly(os.Getenv(proto.EnvWork))
		}
		return proto.Response{}
	case proto.OpRun:
		return a.run(req)
	case proto.OpLog:
		if a.trace != nil { // attribute what came since the last step
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			_, err := a.barrier(ctx, "log")
			if err == nil && a.log.pending() { // printed after the barrier: one more proves them
				a.barrier(ctx, "log, again")
			}
			cancel()
		}
		recs, dropped := a.log.since(req.Since)
		return proto.Response{Records: recs, Dropped: dropped, Tainted: local.ProcTainted()}
	case proto.OpInspect:
		a.noteModules()
		mods, err := local.ProcModules()
		if err != nil {
			return proto.Response{Error: err.Error()}
		}
		st := &target.State{Kthreads: local.ProcKthreads(), Tainted: local.ProcTainted()}
		for _, m := range mods {
			st.Modules = append(st.Modules, m.Name)
		}
		sort.Strings(st.Modules)
		st.Leaks, st.LeakNote = a.leaks()
		if a.session != nil && a.session.Dead() == "" {
			st.Jobs, _ = a.session.Jobs()
		}
		return proto.Response{State: st}
	case proto.OpSysrq:
		err := os.WriteFile("/proc/sysrq-trigger", []byte(req.Line), 0)
		if err != nil {
			return proto.Response{Error: fmt.Sprintf("sysrq %s: %v", req.Line, err)}
		}
		return proto.Response{}
	}
	return proto.Response{Error: fmt.Sprintf("unknown request %q", req.Op)}
}

// ready sets the first step's start: the records read so far are the
// boot's. A trace marker separates the printks before it from the step's.
func (a *agent) ready(ctx context.Context) error {
	if err := a.log.sync(ctx); err != nil {
		return err
	}
	a.next = a.log.last() + 1
	a.log.attribute(func(string) (local.PrintkEvent, bool) { return local.PrintkEvent{}, false }, a.next)
	var err error
	a.marks, err = a.trace.Mark(ctx, "agent ready")
	return err
}

// barrier writes a trace marker, reads the kernel log to its end and
// pairs the records with the trace's events. It returns the markers seen.
func (a *agent) barrier(ctx context.Context, text string) (int, error) {
	proven := a.log.end() // read before the marker: their events precede it
	marks, err := a.trace.Mark(ctx, text)
	if err != nil {
		return 0, err
	}
	a.marks = marks
	if err := a.log.sync(ctx); err != nil {
		return 0, err
	}
	a.log.attribute(a.trace.Attribute, proven)
	return marks, nil
}

// stepEnd finds where the step's records end, with a trace marker: the
// records the kernel stored before the marker are the step's. It returns
// the first sequence number after them. A message still waiting for its
// newline shows in the trace but in no record: only then a marker goes
// into the kernel log, which completes it, as the next printk would.
func (a *agent) stepEnd(ctx context.Context, line string) (uint64, error) {
	marks, err := a.barrier(ctx, fmt.Sprintf("step %d done", a.steps))
	if err != nil {
		return 0, err
	}
	if a.trace.Pending(marks) {
		proven := a.log.end()
		if _, err := a.log.mark(ctx, fmt.Sprintf("kmodcheck: step %d done: %s", a.steps, oneLine(line))); err != nil {
			return 0, err
		}
		a.log.attribute(a.trace.Attribute, proven)
	}
	a.trace.DropBefore(marks)
	return a.log.boundary(a.next, marks), nil
}

// run runs one step and finds its records: with the printk trace, those
// stored before the step's trace barrier (stepEnd); without it, those
// before a marker written to the kernel log, which both flushes a message
// still waiting for its newline and proves that everything before it has
// been read (markers name the step, so the console log reads as a
// transcript).
func (a *agent) run(req proto.Request) proto.Response {
	a.steps++
	resp := a.runStep(req)
	a.noteModules()
	markCtx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if a.trace != nil {
		end, err := a.stepEnd(markCtx, req.Line)
		if err != nil {
			resp.Error = err.Error()
		}
		var recs []kmsg.Record
		all, dropped := a.log.since(a.next)
		for _, r := range all {
			if end != 0 && r.Seq >= end {
				break
			}
			if !(r.Facility == 1 && strings.HasPrefix(r.Text, "kmodcheck: step ")) {
				recs = append(recs, r)
			}
		}
		if end != 0 {
			a.next = end
		}
		resp.Records, resp.Dropped, resp.Tainted = recs, dropped, local.ProcTainted()
		return resp
	}
	end, err := a.log.mark(markCtx, fmt.Sprintf("kmodcheck: step %d done: %s", a.steps, oneLine(req.Line)))
	if err != nil {
		resp.Error = err.Error()
	}
	recs, dropped := a.log.since(a.lastMark + 1)
	for i, r := range recs {
		if end != 0 && r.Seq >= end {
			recs = recs[:i]
			break
		}
	}
	if end != 0 {
		a.lastMark = end
	}
	resp.Records, resp.Dropped, resp.Tainted = recs, dropped, local.ProcTainted()
	return resp
}

func oneLine(s string) string {
	// The kernel logs a byte outside printable ASCII, and a backslash, as
	// \xNN: the marker would never be read back as written.
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r >= 127 || r == '\\' {
			return '?'
		}
		return r
	}, s)
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// stepShell says what runs the steps, for the transcript.
func stepShell() string {
	if _, err := os.Stat(local.Bash); err != nil {
		return "/bin/sh -c, one process per step (no " + local.Bash + ")"
	}
	return local.Bash + ", one interactive session per case"
}

// runStep types the line into the case's bash session, starting it at the
// first step (or again after a step ended it), or runs it with /bin/sh -c
// where there is no bash.
func (a *agent) runStep(req proto.Request) proto.Response {
	if req.Sync {
		if err := syncMachine(); err != nil {
			return proto.Response{Exit: -1, Error: err.Error()}
		}
	}
	var note string
	if a.session != nil && a.session.Dead() != "" {
		note = fmt.Sprintf("kmodcheck: a new shell session: the last one ended (%s)\n", a.session.Dead())
		a.session.Close()
		a.session = nil
	}
	if a.session == nil {
		sh, err := a.takeSession(req.Dir)
		if errors.Is(err, os.ErrNotExist) {
			return runOnPty(req)
		}
		if err != nil {
			return proto.Response{Exit: -1, Error: err.Error()}
		}
		a.session = sh
	}
	if a.log != nil {
		note += a.journal.before(req.Line, a.log.last())
		note += a.syslog.before(req.Line, a.log.lastWhere)
	}
	step := target.Step{Line: req.Line, Dir: req.Dir, Env: req.Env, Timeout: time.Duration(req.TimeoutMs) * time.Millisecond}
	res := a.session.Run(context.Background(), step)
	return proto.Response{
		Exit: res.Exit, Stdout: res.Stdout, Stderr: append([]byte(note), res.Stderr...),
		TimedOut: res.TimedOut, Stuck: a.session.Stuck(), Pwd: a.session.Pwd(), Shell: res.Shell,
	}
}

// An earlyShell is the case's bash session, started in the case's work
// directory as soon as the host has set the guest's clock (right after the
// agent's hello): a reader's terminal is open before they type, and
// bash's start (0.4 s of the first step under TCG) then overlaps the
// host's first build.
type earlyShell struct {
	done chan struct{}
	sh   *local.Shell
	err  error
}

func startEarly(dir string) *earlyShell {
	e := &earlyShell{done: make(chan struct{})}
	go func() {
		defer close(e.done)
		e.sh, e.err = newSession(dir)
	}()
	return e
}

// takeSession returns the session started early, or, for a session that
// ended or one that could not start early, a new one in dir.
func (a *agent) takeSession(dir string) (*local.Shell, error) {
	if e := a.early; e != nil {
		a.early = nil
		<-e.done
		if e.err == nil || errors.Is(e.err, os.ErrNotExist) {
			return e.sh, e.err
		}
	}
	return newSession(dir)
}

// newSession starts a bash session in dir, sudo as a reader's.
func newSession(dir string) (*local.Shell, error) {
	env, err := local.WithSudo(baseEnv, "/run/kmodcheck/bin")
	if err != nil {
		return nil, err
	}
	sudoWithoutPty()
	return local.StartShell(dir, env)
}

// sudoersNoPty is a sudoers file written into the guest's root (its
// overlay: the machine's files are not changed). Debian's sudoers sets
// use_pty: sudo then runs the command on a pseudo-terminal of its own and,
// its standard output being a pipe, in that terminal's background, where a
// shell it starts (sudo su, sudo -i, sudo -s) stops as soon as it reads the
// terminal. Without use_pty the command reads the session's terminal in
// its foreground, as it does at a reader's terminal through sudo's pty.
const sudoersNoPty = "/etc/sudoers.d/kmodcheck-no-pty"

func sudoWithoutPty() {
	if _, err := os.Stat("/etc/sudoers.d"); err != nil {
		return
	}
	if err := os.WriteFile(sudoersNoPty, []byte("# kmodcheck: a nested shell (sudo su) reads the session's terminal\nDefaults !use_pty\n"), 0o440); err != nil {
		fmt.Fprintf(os.Stderr, "kmodcheck-agent: %v\n", err)
	}
}

// baseEnv is a root login shell's environment, with colour off.
var baseEnv = local.ShellEnv

// runOnPty runs the line with /bin/sh -c and a pseudo-terminal as its controlling terminal
// and standard input, as in a reader's terminal (ps -N selects by terminal),
// while standard output and error stay separate.
func runOnPty(req proto.Request) proto.Response {
	ptmx, tty, err := pty.Open()
	if err != nil {
		return proto.Response{Exit: -1, Error: fmt.Sprintf("open pty: %v", err)}
	}
	defer ptmx.Close()
	var stdout, stderr local.OutputBuffer
	cmd := exec.Command("/bin/sh", "-c", req.Line)
	cmd.Dir = req.Dir
	cmd.Env = append(append(append([]string(nil), baseEnv...), "SHELL=/bin/sh", "PWD="+req.Dir), req.Env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	cmd.WaitDelay = time.Second
	err = cmd.Start()
	tty.Close()
	if err != nil {
		return proto.Response{Exit: -1, Error: fmt.Sprintf("start: %v", err)}
	}
	go io.Copy(io.Discard, ptmx)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var timeout <-chan time.Time
	if req.TimeoutMs > 0 {
		timeout = time.After(time.Duration(req.TimeoutMs) * time.Millisecond)
	}
	var resp proto.Response
	select {
	case err = <-done:
	case <-timeout:
		resp.TimedOut = true
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		select {
		case err = <-done:
		case <-time.After(2 * time.Second):
			// Killed but not gone: stuck in the kernel, uninterruptible.
			resp.Stuck = true
		}
	}
	resp.Stdout, resp.Stderr = stdout.Bytes(), stderr.Bytes()
	resp.Exit = cmd.ProcessState.ExitCode()
	if resp.Stuck {
		resp.Exit = -1
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) && !resp.Stuck {
		resp.Error = err.Error()
	}
	return resp
}

// openPort finds the agent's virtio-serial port by name: there is no udev to
// make the /dev/virtio-ports link.
func openPort(name string, wait time.Duration) (*os.File, error) {
	deadline := time.Now().Add(wait)
	for {
		names, _ := filepath.Glob("/sys/class/virtio-ports/*/name")
		for _, n := range names {
			b, err := os.ReadFile(n)
			if err == nil && strings.TrimSpace(string(b)) == name {
				dev := "/dev/" + filepath.Base(filepath.Dir(n))
				return os.OpenFile(dev, os.O_RDWR, 0)
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no virtio-serial port named %s after %v", name, wait)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func release() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}
