package guest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kmodcheck/kmodcheck/runner/hide"
	"github.com/kmodcheck/kmodcheck/runner/local"
	"github.com/kmodcheck/kmodcheck/runner/proto"
	"github.com/kmodcheck/kmodcheck/runner/target"
)

// IsGuest reports whether this process was started as kmodcheck's guest side,
// or as the host's maker of the guest's view of its root (proto.RoleView).
// The kmodcheck command (and the test binary) call Main first thing when it is.
// Anywhere but in a VM kmodcheck booted the variable is ignored, with a
// warning (role.go).
func IsGuest() bool { return guestRole() != "" }

// Main runs the guest side and never returns. /init's shell, PID 1, starts
// it as the agent at boot: it waits for its case (awaitCase), sets the
// machine up, serves the host, and powers the machine off when the host is
// done with it or serving fails.
func Main() {
	if os.Getenv(proto.EnvRole) == proto.RoleView {
		viewMain() // execs QEMU, or exits
	}
	work, reader, err := awaitCase()
	if err != nil {
		fmt.Fprintf(os.Stderr, "kmodcheck-agent: %v\n", err)
		unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
		os.Exit(1) // not reached
	}
	os.Setenv(proto.EnvWork, work)
	setupErr := errors.Join(setUp(), addReader("/", reader)) // the agent still serves, and says so in its Hello
	if setupErr != nil {
		fmt.Fprintf(os.Stderr, "kmodcheck-agent: %v\n", setupErr)
	}
	if err := serve(reader, setupErr); err != nil {
		fmt.Fprintf(os.Stderr, "kmodcheck-agent: %v\n", err)
	}
	unix.Sync()
	unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	os.Exit(1) // not reached
}

// writableDirs get a tmpfs each, of the mode a Debian machine gives the
// directory: every user's (/tmp, /dev/shm; /run is /init's), and where the
// host's own root would show its users' files (/root, /home); so do the
// rest of hide.Dirs, and the shadow files lose their hashes. The rest of
// the root is an overlay of /init's, writable.
var writableDirs = map[string]string{"/tmp": "1777", "/dev/shm": "1777", "/root": "0700", "/home": "0755"}

func setUp() error {
	mounts := []struct{ source, target, fstype, data string }{
		{"proc", "/proc", "proc", ""},
		{"sysfs", "/sys", "sysfs", ""},
		{"devpts", "/dev/pts", "devpts", "ptmxmode=0666,mode=0620"},
		{"debugfs", "/sys/kernel/debug", "debugfs", ""},
	}
	for _, d := range slices.Sorted(maps.Keys(writableDirs)) {
		mounts = append(mounts, struct{ source, target, fstype, data string }{"tmpfs", d, "tmpfs", "mode=" + writableDirs[d]})
	}
	for _, d := range hide.Dirs {
		if _, writable := writableDirs[d]; writable {
			continue
		}
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
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
	work    string                   // the case's work directory, where a reader's .ko is
	log     *local.KernelLog         // nil where /dev/kmsg cannot be read
	steps   int                      // steps run so far
	seen    map[string]*loadedModule // every module seen loaded, by name
	loads   int                      // modules seen loaded so far (loadedModule.seq)
	shell   shells                   // OpShell, OpResize (shell.go)
	warm    chan struct{}            // closed when warmSudo is done
	session local.Steps              // the case's steps (started when the clock is set)
	journal journal                  // systemd-journald, for journalctl (journal.go)
	syslog  syslog                   // rsyslogd, for /var/log/kern.log (syslog.go)
}

func serve(reader proto.Reader, setupErr error) error {
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
	if alive, err := openPort(proto.AlivePortName, time.Second); err == nil {
		defer alive.Close()
		go echo(alive)
	}
	wire := proto.NewConn(port)

	hello := proto.Hello{Release: release(), Tainted: local.ProcTainted(), Shell: local.ShellName()}
	if setupErr != nil {
		hello.Error = setupErr.Error()
	}
	env, cred := local.LoginEnv(reader.Name, reader.Home(), reader.Lang), local.UserCred(reader.UID, reader.GID)
	a := &agent{work: os.Getenv(proto.EnvWork), seen: map[string]*loadedModule{}, session: local.Steps{Env: env, Cred: cred}}
	a.shell.env, a.shell.cred = env, cred
	a.log, err = local.OpenKernelLog(logPort)
	if err != nil {
		hello.Error = strings.TrimPrefix(hello.Error+"; ", "; ") + err.Error()
	}
	a.noteModules()
	if a.log != nil {
		if hello.NextSeq, err = a.startLog(); err != nil {
			return err
		}
	}
	if err := wire.Send(hello); err != nil {
		return fmt.Errorf("send hello: %w", err)
	}
	sudoWithoutPty() // before the session starts
	a.warm = make(chan struct{})
	go func() { // while the host builds
		defer close(a.warm)
		warmSudo(env, cred)
	}()
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
		a.session.StartEarly(a.work) // after the clock: bash's $SECONDS reads it
		return proto.Response{}
	case proto.OpRun:
		return a.run(req)
	case proto.OpLog:
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		tainted := local.ProcTainted() // before the log's end, as in run
		recs, dropped := a.log.Since(ctx, req.Since)
		return proto.Response{Records: recs, Dropped: dropped, Tainted: tainted}
	case proto.OpInspect:
		a.noteModules()
		st, err := a.session.Inspect()
		if err != nil {
			return proto.Response{Error: err.Error()}
		}
		a.addLeaks(&st)
		return proto.Response{State: &st}
	case proto.OpSysrq:
		err := os.WriteFile("/proc/sysrq-trigger", []byte(req.Line), 0)
		if err != nil {
			return proto.Response{Error: fmt.Sprintf("sysrq %s: %v", req.Line, err)}
		}
		return proto.Response{}
	}
	return proto.Response{Error: fmt.Sprintf("unknown request %q", req.Op)}
}

// addLeaks adds to st the leaks the case's modules left, once it has run
// a step: before that nothing of the case can have leaked, and the scan
// of every kmalloc cache's allocations costs about a second under TCG.
func (a *agent) addLeaks(st *target.State) {
	if a.steps > 0 {
		st.Leaks, st.LeakNote = a.leaks()
	}
}

// startLog sets the first step's start, the records read so far being
// the boot's, and returns it. Without a printk trace, step boundaries go
// into the kernel log.
func (a *agent) startLog() (uint64, error) {
	a.log.MarkSteps = true
	if err := a.log.Trace(proto.TraceInstance); err != nil {
		fmt.Fprintf(os.Stderr, "kmodcheck-agent: %v; step boundaries go into the kernel log\n", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return a.log.Start(ctx)
}

// run runs one step and finds its records (local.KernelLog.StepEnd).
func (a *agent) run(req proto.Request) proto.Response {
	a.steps++
	resp := a.runStep(req)
	a.noteModules()
	if a.log == nil {
		resp.Tainted = local.ProcTainted()
		return resp
	}
	// The taint before the log's end: the kernel sets it after printing
	// the report (an oops, a WARN), so a report that tainted it is then
	// in the step's records, not left for the next step's.
	resp.Tainted = local.ProcTainted()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	recs, dropped, err := a.log.StepEnd(ctx, a.steps, req.Line)
	if err != nil {
		resp.Error = err.Error()
	}
	resp.Records, resp.Dropped = recs, dropped
	return resp
}

// runStep runs the step in the case's session (local.Steps), after
// taking the changes a build made to the machine, and starting the
// services the line reads the kernel log through.
func (a *agent) runStep(req proto.Request) proto.Response {
	if req.Sync {
		if err := syncMachine(); err != nil {
			return proto.Response{Exit: -1, Error: err.Error()}
		}
	}
	// The warm-up's sudo is never among a step's processes (ps).
	select {
	case <-a.warm:
	case <-time.After(sudoWarmWait):
	}
	var note string
	if a.log != nil {
		note += a.journal.before(req.Line, a.log.Last())
		note += a.syslog.before(req.Line, a.log.LastWhere)
	}
	step := target.Step{Line: req.Line, Dir: req.Dir, Env: req.Env, Timeout: time.Duration(req.TimeoutMs) * time.Millisecond}
	res, err := a.session.Run(context.Background(), step)
	resp := proto.Response{
		Exit: res.Exit, Stdout: res.Stdout, Stderr: append([]byte(note), res.Stderr...),
		TimedOut: res.TimedOut, Stuck: a.session.Stuck(), Pwd: a.session.Pwd(), Shell: res.Shell,
	}
	if err != nil {
		resp.Error = err.Error()
	}
	return resp
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

// openPort opens the virtio-serial port named name (findPort).
func openPort(name string, wait time.Duration) (*os.File, error) {
	dev, err := findPort(name, wait)
	if err != nil {
		return nil, err
	}
	return os.OpenFile(dev, os.O_RDWR, 0)
}

// findPort finds a virtio-serial port's device by the port's name: there
// is no udev to make the /dev/virtio-ports link.
func findPort(name string, wait time.Duration) (string, error) {
	deadline := time.Now().Add(wait)
	for {
		names, _ := filepath.Glob("/sys/class/virtio-ports/*/name")
		for _, n := range names {
			b, err := os.ReadFile(n)
			if err == nil && strings.TrimSpace(string(b)) == name {
				return "/dev/" + filepath.Base(filepath.Dir(n)), nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no virtio-serial port named %s after %v", name, wait)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// echo writes back what it reads on the liveness port
// (proto.AlivePortName): the host's proof, while a step runs on after a
// fault report, that the guest still schedules. The host connects before
// it sends the case's line; an empty read is its going.
func echo(port *os.File) {
	buf := make([]byte, 64)
	for {
		n, err := port.Read(buf)
		if err != nil || n == 0 {
			return
		}
		if _, err := port.Write(buf[:n]); err != nil {
			return
		}
	}
}

func release() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}
