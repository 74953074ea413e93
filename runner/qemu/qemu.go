// Package qemu is the default target: it boots a real distribution kernel
// under qemu-system-x86_64, one fresh virtual machine per case, with the
// host's root filesystem shared read-only over 9p and the case's work
// directory shared read-write at the same path.
//
// Commands reach the guest agent (package guest) over a virtio-serial port,
// in runner/proto; the VM boots an initramfs built here (initramfs.go);
// the kernel console goes to a log file kept for every case. Builds run on the
// host against the target kernel's headers, where they take a second instead
// of half a minute under TCG.
package qemu

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/cache"
	"github.com/kmodcheck/kmodcheck/runner/hide"
	"github.com/kmodcheck/kmodcheck/runner/kernel"
	"github.com/kmodcheck/kmodcheck/runner/kmsg"
	"github.com/kmodcheck/kmodcheck/runner/proto"
	"github.com/kmodcheck/kmodcheck/runner/scratch"
	"github.com/kmodcheck/kmodcheck/runner/target"
)

// Target boots Kernel under QEMU.
type Target struct {
	Kernel  *kernel.Kernel
	Cache   cache.Dir
	Accel   string // auto, kvm or tcg
	CPUs    int
	Memory  string // QEMU -m, e.g. 1G
	Agent   string // the program the guest runs as its agent: this one
	Busybox string // a static busybox for the initramfs
	// Progress is told of the work done once per kernel (calibration, the
	// saved state); nil: nobody.
	Progress io.Writer
	// Roots makes the release root a fetched kernel's guest boots with
	// and its builds run in; the system's kernels use the host's root.
	Roots *kernel.Roots
	QEMU  string // qemu-system-x86_64; empty: found on PATH ($KMODCHECK_QEMU overrides)

	// BootTimeout bounds boot to the agent's hello.
	BootTimeout time.Duration
	// StepTimeout is the default bound for one step.
	StepTimeout time.Duration

	// Boot is BootSnapshot (the default, also when empty) or BootCold.
	Boot string

	mu         sync.Mutex
	accel      string // the probe's verdict, once made
	note       string
	lpj        uint64 // the delay loop's calibration, once measured
	machine    string // the machine root, once made
	machineErr error  // why it could not be made
	// rootOnly is what only root may read of the host's root, when the
	// machine is the host's (hide.ScanPrivate): hidden from its cases.
	rootOnly hide.Private
	version  string // qemu -version, once asked

	saving sync.Mutex // held while a state is saved (snapshot.go)
}

// Ways to boot a case's VM.
const (
	BootSnapshot = "snapshot" // restore a state saved once per kernel and machine
	BootCold     = "cold"     // boot the kernel
)

func (t *Target) Name() string { return "qemu" }

func (t *Target) Release() string { return t.Kernel.Release }

func (t *Target) qemuPath() string {
	if t.QEMU != "" {
		return t.QEMU
	}
	if p, err := exec.LookPath("qemu-system-x86_64"); err == nil {
		return p
	}
	return "qemu-system-x86_64"
}

// Check reports what the target lacks on this machine, naming the package.
func (t *Target) Check() error {
	if _, err := exec.LookPath(t.qemuPath()); err != nil {
		return fmt.Errorf("%s not found: install the qemu-system-x86 package (make setup)", t.qemuPath())
	}
	if _, err := os.Stat(t.Busybox); err != nil {
		return fmt.Errorf("static busybox %s not found: install the busybox-static package (make setup)", t.Busybox)
	}
	if !t.Kernel.Complete() {
		return fmt.Errorf("kernel %s cannot be used: %s", t.Kernel.Release, t.Kernel.Problem())
	}
	return nil
}

// prepare does the per-kernel work once: extract the kernel, build the
// initramfs, decide the accelerator and calibrate the delay loop. It
// returns the machine every case of this kernel boots, and notes for them.
func (t *Target) prepare(ctx context.Context) (machine, []string, error) {
	vmlinux, pvh, err := kernel.Vmlinux(ctx, t.Kernel, t.Cache)
	if err != nil {
		return machine{}, nil, err
	}
	var notes []string
	if !pvh {
		vmlinux = t.Kernel.Image
		notes = append(notes, "no PVH entry in the kernel: booting the bzImage")
	}
	initrd, err := initramfs(ctx, t.Kernel.Modules, t.Busybox, t.Agent, t.Cache)
	if err != nil {
		return machine{}, nil, fmt.Errorf("initramfs for %s: %w", t.Kernel.Release, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.accel == "" {
		t.accel, t.note, err = t.chooseAccel(ctx, vmlinux)
		if err != nil {
			return machine{}, nil, err
		}
	}
	if t.note != "" {
		notes = append([]string{t.note}, notes...)
	}
	if t.lpj == 0 {
		if t.lpj, err = t.loopsPerJiffy(ctx, vmlinux, t.accel); err != nil {
			return machine{}, nil, fmt.Errorf("calibrate the delay loop of %s: %w", t.Kernel.Release, err)
		}
	}
	if t.machine == "" && t.machineErr == nil {
		t.machine, t.machineErr = t.machineRoot(ctx)
		if t.machine == "/" {
			t.rootOnly, t.machineErr = hide.ScanPrivate(ctx, t.machine)
		}
	}
	if t.machineErr != nil {
		return machine{}, nil, t.machineErr // made once: every case of the kernel says why
	}
	m := machine{Kernel: vmlinux, Initrd: initrd, Root: t.machine, Accel: t.accel, CPUs: t.CPUs, Memory: t.Memory, Cmdline: kernelCmdline(t.accel, t.lpj)}
	if m.CPUs == 0 {
		m.CPUs = 2
	}
	if m.Memory == "" {
		m.Memory = "1G"
	}
	return m, notes, nil
}

func (t *Target) progress(format string, args ...any) {
	if t.Progress != nil {
		fmt.Fprintf(t.Progress, format+"\n", args...)
	}
}

// machineRoot is the root the kernel's guest boots with and its builds
// run in: the host's for a system kernel, else its release root, made on
// first use.
func (t *Target) machineRoot(ctx context.Context) (string, error) {
	if t.Kernel.System() {
		return "/", nil
	}
	if t.Roots == nil {
		return "", fmt.Errorf("kernel %s: no release roots to run it in", t.Kernel.Release)
	}
	root, err := t.Roots.Machine(ctx, t.Kernel)
	if err != nil {
		return "", fmt.Errorf("release root of %s: %w", t.Kernel.Release, err)
	}
	if err := staticAgent(t.Agent); err != nil {
		return "", err
	}
	return root, nil
}

// Prepare does, before any case, the work done once per kernel: the
// release root, the vmlinux and initramfs, the accelerator probe, the
// delay calibration and, for snapshot boots, the saved state. Cases that
// come after pay none of it within their own time bounds.
func (t *Target) Prepare(ctx context.Context) error {
	if err := t.Check(); err != nil {
		return err
	}
	m, _, err := t.prepare(ctx)
	if err != nil {
		return err
	}
	if t.Boot == "" || t.Boot == BootSnapshot {
		if _, err := t.savedState(ctx, m); errors.Is(err, errNoRoom) {
			t.progress("%v: each case boots cold", err)
		} else if err != nil {
			return err
		}
	}
	return nil
}

// Start begins one case's VM and returns its session at once: the VM
// boots (restored from the kernel's saved state unless Boot is "cold",
// and booted cold when the restore fails) while the case's build steps
// run on the host, so that a case costs about the longer of its build
// and its boot rather than both (session.go).
func (t *Target) Start(ctx context.Context, c target.Case) (target.Session, error) {
	if err := t.Check(); err != nil {
		return nil, err
	}
	for what, path := range map[string]string{"work directory": c.WorkDir, "agent": t.Agent} {
		if strings.ContainsAny(path, " \t\n\"'") {
			return nil, fmt.Errorf("%s %q: it reaches the guest's /init as a word of one line and cannot carry spaces or quotes", what, path)
		}
	}
	begin := time.Now()
	m, notes, err := t.prepare(ctx)
	if err != nil {
		return nil, err
	}
	var st *savedState
	switch t.Boot {
	case "", BootSnapshot:
		st, err = t.savedState(ctx, m)
		if err != nil {
			notes = append(notes, fmt.Sprintf("booted cold: no saved state: %v", err))
		}
	case BootCold:
	default:
		return nil, fmt.Errorf("unknown boot %q (want %s or %s)", t.Boot, BootSnapshot, BootCold)
	}
	t.mu.Lock()
	rootOnly := t.rootOnly
	t.mu.Unlock()
	reader, err := caseReader(m.Root, c.WorkDir)
	if err != nil {
		return nil, err
	}
	if reader.Lang != proto.ReaderLocale {
		notes = append(notes, fmt.Sprintf("steps run in the locale %s: the machine has no %s, a reader's (make setup makes it in the host's root)", reader.Lang, proto.ReaderLocale))
	}
	build, err := newCaseBuild(t.Agent, t.Kernel.Release, m.Root, c.WorkDir, rootOnly, reader)
	if err != nil {
		return nil, err
	}
	return t.begin(ctx, c, build, launch{qemu: t.qemuPath(), machine: m, state: st, notes: notes, reader: reader}, begin), nil
}

// A launch is what starting one case's VM takes once its kernel is
// prepared: apart from that preparation (a real kernel's), so that the
// tests start VMs of a fake QEMU.
type launch struct {
	qemu    string // the QEMU binary
	machine machine
	state   *savedState // to restore; nil: boot cold
	notes   []string    // for the case, from the preparation
	// changes is the case's machine changes (caseBuild.upper), shared
	// with the guest; empty: a directory of the VM's own.
	changes string
	reader  proto.Reader // who the steps run as (caseReader)
}

// Errors Start returns, for callers that must tell its failures apart
// (errors.Is); a start that ctx ended is ctx's error (errors.Is again).
var (
	// ErrPanicked: the kernel panicked while booting, once more when booted
	// again.
	ErrPanicked = errors.New("the kernel panicked while booting")
	// ErrQEMUExited: QEMU exited before the guest agent answered, and not
	// because the kernel panicked (QEMU refused its command line, say).
	ErrQEMUExited = errors.New("QEMU exited before the guest agent answered")
)

// launch starts the VM of case c as l says. A kernel that panics before
// the agent starts is booted once more: under TCG a PREEMPT_RT kernel was
// seen to oops while patching its own code in about one boot in fifteen,
// which is not the case's doing. A state that fails to restore is
// discarded (the next case saves a new one) and this case boots cold.
func (t *Target) launch(ctx context.Context, c target.Case, l launch) (*VM, error) {
	now := time.Now()
	os.Chtimes(l.machine.Initrd, now, now) // in use: see pruneInitramfs
	for attempt := 1; ; attempt++ {
		vm, err := t.startVM(ctx, c, l)
		if err == nil {
			return vm, nil
		}
		switch {
		case l.state != nil && ctx.Err() == nil:
			t.discardState(l.state)
			l.notes = append(l.notes, fmt.Sprintf("restoring the saved state %s failed, booted cold: %s", filepath.Base(l.state.file), vm.whyFailed(err)))
			l.state = nil
			attempt-- // the cold boot may still be retried after a panic
			continue
		case attempt > 1 || vm == nil || !vm.panicked():
			return nil, &startError{err: fmt.Errorf("boot %s: %w", t.Kernel.Release, err), why: vm.failedFor(ctx)}
		}
		l.notes = append(l.notes, fmt.Sprintf("the kernel panicked while booting (kept as console-failed-boot.log); booted again: %v", firstLine(nil, err)))
		os.Rename(vm.info.Console, filepath.Join(filepath.Dir(vm.info.Console), "console-failed-boot.log"))
	}
}

// startError is why Start failed, in words, and which of Start's errors
// (or ctx's) it is, for errors.Is.
type startError struct {
	err error
	why error // ErrPanicked, ErrQEMUExited, ctx's error, or nil
}

func (e *startError) Error() string { return e.err.Error() }
func (e *startError) Unwrap() []error {
	if e.why == nil {
		return []error{e.err}
	}
	return []error{e.err, e.why}
}

// failedFor says which of Start's errors a VM that failed to start is:
// ctx's when ctx ended (QEMU killed with it), else ErrPanicked or
// ErrQEMUExited when QEMU exited by itself; nil when there is no telling
// (a boot past its timeout says so itself).
func (vm *VM) failedFor(ctx context.Context) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case vm == nil || vm.exited == nil:
		return nil
	case vm.panicked():
		return ErrPanicked
	}
	select {
	case <-vm.exited:
		if killed(vm.exitErr) {
			return nil // by Close, after a boot past its timeout
		}
		return ErrQEMUExited
	default:
		return nil
	}
}

// startVM boots one VM as l says; on failure it returns the closed VM, to
// be asked why.
func (t *Target) startVM(ctx context.Context, c target.Case, l launch) (*VM, error) {
	tmp, err := scratch.Dir("vm")
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	rootOnly := t.rootOnly
	t.mu.Unlock()
	vm := &VM{t: t, qemu: l.qemu, tmp: tmp, work: c.WorkDir, logDir: c.LogDir, machine: l.machine.Root, rootOnly: rootOnly,
		changes: l.changes, reader: l.reader, info: target.Info{Target: "qemu", Release: t.Kernel.Release, Accel: l.machine.Accel}}
	if err := vm.shareDirs(); err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	vm.info.Notes = append(vm.info.Notes, l.notes...)
	if l.state != nil {
		vm.info.Notes = append(vm.info.Notes, "restored from the saved state "+filepath.Base(l.state.file))
	}
	if err := vm.boot(ctx, l.machine, l.state); err != nil {
		vm.Close(context.Background())
		return vm, err
	}
	return vm, nil
}

// whyFailed says in a line why a VM that failed to start did: QEMU's last
// words when it exited (a state that does not load), else err's first line.
func (vm *VM) whyFailed(err error) string {
	if vm == nil || vm.exited == nil {
		return firstLine(nil, err)
	}
	select {
	case <-vm.exited: // its stderr is complete
		lines := strings.Split(strings.TrimSpace(vm.stderr.String()), "\n")
		if last := lines[len(lines)-1]; last != "" {
			return "QEMU: " + last
		}
	case <-time.After(2 * time.Second):
	}
	return firstLine(nil, err)
}

// panicked reports whether QEMU has exited because the kernel panicked:
// pvpanic makes it exit 1, but a panic before the pvpanic module is loaded
// only shows on the console.
func (vm *VM) panicked() bool {
	if vm.exited == nil {
		return false
	}
	select {
	case <-vm.exited:
		var ee *exec.ExitError
		if errors.As(vm.exitErr, &ee) && ee.ExitCode() == 1 {
			return true
		}
		for _, l := range vm.console.lines(consoleTailLines) {
			if strings.Contains(l, "Kernel panic - not syncing") {
				return true
			}
		}
		return false
	default:
		return false
	}
}

// A VM is one booted guest serving one case.
type VM struct {
	t      *Target
	qemu   string // the QEMU binary it runs
	tmp    string
	work   string
	reader proto.Reader
	logDir string
	info   target.Info

	cmd      *exec.Cmd
	exited   chan struct{} // closed when QEMU exits
	exitErr  error
	console  *console
	conn     net.Conn
	kmsgConn net.Conn      // the guest's kernel records, copied to kernel.log
	kmsgDone chan struct{} // closed when kernel.log is complete
	alive    net.Conn      // the agent echoes what is written here (live.go)
	probes   byte          // liveness probes sent on alive, each its own byte
	dropped  uint64        // records the agent had dropped by the last step
	peakRSS  uint64        // QEMU's VmHWM when closed
	wire     *proto.Conn   // the agent's messages on conn
	reqMu    sync.Mutex
	machine  string // the machine root (machine.Root)
	rootOnly hide.Private
	changes  string // the machine's changes the guest takes (launch.changes)
	stderr   bytes.Buffer
	// silent is set when the agent failed to answer: a kernel that locked
	// up will not power off when asked, so Close kills QEMU at once.
	silent bool
}

// boot starts QEMU for machine m, restoring st unless it is nil, and
// waits for the agent.
func (vm *VM) boot(ctx context.Context, m machine, st *savedState) error {
	consolePath := filepath.Join(vm.tmp, "console.log")
	if vm.logDir != "" {
		if err := os.MkdirAll(vm.logDir, 0o755); err != nil {
			return err
		}
		consolePath = filepath.Join(vm.logDir, "console.log")
	}
	vm.info.Console = consolePath
	con, err := newConsole(consolePath)
	if err != nil {
		return err
	}
	vm.console = con
	e := vm.endpoints()
	var files []*os.File
	if st != nil {
		f, err := st.open(con)
		if err != nil {
			return err
		}
		defer f.Close() // QEMU has its own copy once started
		files = append(files, f)
		e.IncomingFD = 3 // the first of ExtraFiles
		e.RAM, e.QMP = st.ram, filepath.Join(vm.tmp, "qmp.sock")
	}
	view, err := vm.rootView(&e)
	if err != nil {
		return fmt.Errorf("the guest's view of the host's root: %w", err)
	}
	if err := vm.start(ctx, view, m.args(e), files); err != nil {
		return err
	}
	timeout := vm.t.BootTimeout
	if timeout == 0 {
		timeout = 90 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if st != nil {
		if err := vm.restoreState(ctx, e.QMP, e.IncomingFD); err != nil {
			return vm.failure("restore the saved state", err)
		}
	}
	return vm.handshake(ctx)
}

// endpoints are the VM's sockets, in its temporary directory, and its work
// directory.
func (vm *VM) endpoints() endpoints {
	return endpoints{
		Work: vm.work, Agent: filepath.Join(vm.tmp, "agent.sock"), Kmsg: filepath.Join(vm.tmp, "kmsg.sock"),
		Shell: vm.shellSock(), Alive: filepath.Join(vm.tmp, "alive.sock"), Changes: vm.changes,
	}
}

// start starts QEMU with args, in view unless it is nil (see rootView),
// its serial console copied to vm.console and files given to it as
// descriptors 3, 4, ...; ctx's end kills it, as does kmodcheck's own death
// (process.go).
func (vm *VM) start(ctx context.Context, view *proto.View, args []string, files []*os.File) error {
	// Killed when the case or the run is stopped.
	vm.cmd = exec.CommandContext(ctx, vm.qemu, args...)
	if view != nil {
		var err error
		if vm.cmd, err = vm.viewCommand(ctx, view, append([]string{vm.qemu}, args...)); err != nil {
			return fmt.Errorf("the guest's view of the host's root: %w", err)
		}
	}
	vm.cmd.Stdin = nil
	vm.cmd.ExtraFiles = files
	stdout, err := vm.cmd.StdoutPipe()
	if err != nil {
		return err
	}
	vm.cmd.Stderr = &vm.stderr
	return vm.startQEMU(vm.console, stdout) // process.go
}

// handshake gives the waiting agent the case's line, connects the kernel
// log and waits for the agent's hello, then sets the guest's clock.
func (vm *VM) handshake(ctx context.Context) error {
	e := vm.endpoints()
	conn, err := vm.dial(ctx, e.Agent)
	if err != nil {
		return vm.failure("connect to the guest agent", err)
	}
	vm.conn = conn
	vm.wire = proto.NewConn(conn)
	// Before the case's line: the agent, given it, reads the port from
	// then on, and a read with no host connected returns at once, empty.
	if vm.alive, err = vm.dial(ctx, e.Alive); err != nil {
		return vm.failure("connect to the guest's liveness port", err)
	}
	seed := make([]byte, 32)
	rand.Read(seed)
	if _, err := io.WriteString(conn, proto.CaseLine(vm.work, seed, vm.reader)); err != nil {
		return vm.failure("send the case to the guest agent", err)
	}
	kmsgConn, err := vm.dial(ctx, e.Kmsg)
	if err != nil {
		return vm.failure("connect to the guest's kernel log port", err)
	}
	kernelLog, err := os.Create(filepath.Join(filepath.Dir(vm.info.Console), "kernel.log"))
	if err != nil {
		return err
	}
	vm.kmsgDone = make(chan struct{})
	go func() {
		io.Copy(kernelLog, kmsgConn)
		kernelLog.Close()
		close(vm.kmsgDone)
	}()
	vm.kmsgConn = kmsgConn
	var hello proto.Hello
	if err := vm.receive(ctx, &hello); err != nil {
		return vm.failure("wait for the guest agent", err)
	}
	if hello.Error != "" {
		return vm.failure("guest set-up", errors.New(hello.Error))
	}
	if hello.Release != vm.t.Kernel.Release {
		return fmt.Errorf("guest runs %s, not %s", hello.Release, vm.t.Kernel.Release)
	}
	vm.info.Release = hello.Release
	vm.info.LogStart = hello.NextSeq
	vm.info.Shell = hello.Shell
	var resp proto.Response
	return vm.call(ctx, proto.Request{Op: proto.OpClock, UnixNano: time.Now().UnixNano()}, &resp)
}

// failure explains a boot that did not reach the agent with the console's
// last lines: the kernel's own words for what went wrong.
func (vm *VM) failure(what string, err error) error {
	select {
	case <-vm.exited:
		err = fmt.Errorf("QEMU exited (%v) %s", vm.exitErr, strings.TrimSpace(vm.stderr.String()))
	default:
	}
	return fmt.Errorf("%s: %w\nlast console lines:\n%s", what, err, vm.console.tail(20))
}

func (vm *VM) dial(ctx context.Context, sock string) (net.Conn, error) {
	for {
		conn, err := net.Dial("unix", sock)
		if err == nil {
			return conn, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-vm.exited:
			return nil, errors.New("QEMU exited")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// receive decodes the agent's next message, giving up at ctx's deadline or
// when QEMU exits.
func (vm *VM) receive(ctx context.Context, v any) error {
	done := make(chan error, 1)
	go func() { done <- vm.wire.Receive(v) }()
	select {
	case err := <-done:
		if errors.Is(err, io.EOF) {
			<-vm.exitedOrTimeout(2 * time.Second)
			return fmt.Errorf("the guest closed its channel: %s", vm.exitState())
		}
		return err
	case <-ctx.Done():
		vm.conn.SetReadDeadline(time.Now()) // unblock the decoder
		<-done
		return fmt.Errorf("no answer from the guest: %w", context.Cause(ctx))
	}
}

func (vm *VM) exitedOrTimeout(d time.Duration) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		select {
		case <-vm.exited:
		case <-time.After(d):
		}
		close(ch)
	}()
	return ch
}

func (vm *VM) exitState() string {
	select {
	case <-vm.exited:
		if vm.exitErr != nil {
			return fmt.Sprintf("QEMU exited: %v (the kernel panicked)", vm.exitErr)
		}
		return "QEMU exited: the guest powered off"
	default:
		return "QEMU still running"
	}
}

// call sends one request and waits for its response.
func (vm *VM) call(ctx context.Context, req proto.Request, resp *proto.Response) error {
	vm.reqMu.Lock()
	defer vm.reqMu.Unlock()
	if vm.conn == nil {
		return errors.New("no guest agent")
	}
	if err := vm.wire.Send(req); err != nil {
		return fmt.Errorf("send %s: %w", req.Op, err)
	}
	if err := vm.receive(ctx, resp); err != nil {
		vm.silent = true // and a late answer would be taken for the next request's
		return fmt.Errorf("%s: %w", req.Op, err)
	}
	if resp.Error != "" {
		return fmt.Errorf("guest %s: %s", req.Op, resp.Error)
	}
	return nil
}

// run runs a step in the guest, having it take the machine's changes
// first when sync is set, and returns the case's shell's working
// directory after it.
func (vm *VM) run(ctx context.Context, step target.Step, sync bool) (target.Result, string, error) {
	start := time.Now()
	req := proto.Request{Op: proto.OpRun, Line: step.Line, Dir: step.Dir, Env: step.Env, TimeoutMs: step.Timeout.Milliseconds(), Sync: sync}
	// The agent enforces the step's timeout; allow it time to report, but
	// not a kernel that locked up (live.go).
	ctx, cancel := vm.watchStep(ctx, step)
	defer cancel()
	var resp proto.Response
	err := vm.call(ctx, req, &resp)
	res := target.Result{
		Step: step, Exit: resp.Exit, Stdout: resp.Stdout, Stderr: resp.Stderr,
		Duration: time.Since(start), Log: resp.Records, TimedOut: resp.TimedOut, Tainted: resp.Tainted,
		Shell: resp.Shell,
	}
	if resp.Dropped > vm.dropped {
		res.Dropped, vm.dropped = resp.Dropped-vm.dropped, resp.Dropped
	}
	if err != nil {
		return res, resp.Pwd, vm.explain(err)
	}
	return res, resp.Pwd, nil
}

// explain adds to a failed request what the kernel console says: the
// kernel's own reports since the step began when it died, else the
// console's last lines.
func (vm *VM) explain(err error) error {
	faults := kmsg.Faults(vm.console.stepLines()) // the step's first report first
	if len(faults) == 0 {
		return &target.KernelError{Err: err, Text: fmt.Sprintf("%v\nlast console lines:\n%s", err, vm.console.tail(30))}
	}
	var b strings.Builder
	for _, f := range faults {
		fmt.Fprintf(&b, "\nthe kernel reported %s (from the console):\n    %s", kmsg.Article(f.Kind), strings.Join(f.Summary(), "\n    "))
	}
	return &target.KernelError{Err: err, Faults: faults, Text: fmt.Sprintf("%v%s", err, b.String())}
}

// Log returns the kernel records from since on.
func (vm *VM) Log(ctx context.Context, since uint64) ([]kmsg.Record, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var resp proto.Response
	if err := vm.call(ctx, proto.Request{Op: proto.OpLog, Since: since}, &resp); err != nil {
		return nil, err
	}
	return resp.Records, nil
}

// PeakRSS is the most memory QEMU held at once, in bytes, as read when the
// VM was closed.
func (vm *VM) PeakRSS() uint64 { return vm.peakRSS }

// readPeakRSS reads VmHWM, the high-water mark of a process's resident memory.
func readPeakRSS(pid int) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			var kb uint64
			fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), " kB"), &kb)
			return kb << 10
		}
	}
	return 0
}

// Close powers the guest off, or kills QEMU when it does not go.
func (vm *VM) Close(ctx context.Context) error {
	if vm.cmd != nil && vm.cmd.Process != nil {
		vm.peakRSS = readPeakRSS(vm.cmd.Process.Pid)
		vm.reqMu.Lock()
		silent := vm.silent
		vm.reqMu.Unlock()
		if vm.conn != nil && !silent {
			vm.wire.Send(proto.Request{Op: proto.OpPoweroff})
		}
		powerOff := 10 * time.Second
		if silent || vm.conn == nil { // none to answer, or none asked
			powerOff = 0
		}
		select {
		case <-vm.exited:
		case <-time.After(powerOff):
			vm.cmd.Process.Kill()
			<-vm.exited
		case <-ctx.Done():
			vm.cmd.Process.Kill()
			<-vm.exited
		}
	}
	if vm.conn != nil {
		vm.conn.Close()
	}
	if vm.alive != nil {
		vm.alive.Close()
	}
	if vm.kmsgConn != nil {
		select { // QEMU has exited: the rest is in the socket already
		case <-vm.kmsgDone:
		case <-time.After(5 * time.Second):
			vm.kmsgConn.Close()
			<-vm.kmsgDone
		}
	}
	if vm.console != nil {
		vm.console.close()
	}
	return os.RemoveAll(vm.tmp)
}

// Inspect reports the guest's modules, kernel threads and leaks.
func (vm *VM) Inspect(ctx context.Context) (target.State, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var resp proto.Response
	if err := vm.call(ctx, proto.Request{Op: proto.OpInspect}, &resp); err != nil {
		return target.State{}, err
	}
	if resp.State == nil {
		return target.State{}, errors.New("inspect: empty answer")
	}
	return *resp.State, nil
}

// BlockedTasks has the guest kernel list its blocked tasks (SysRq w) and
// returns what it printed.
func (vm *VM) BlockedTasks(ctx context.Context) ([]kmsg.Record, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	recs, err := vm.Log(ctx, 0)
	if err != nil {
		return nil, err
	}
	var next uint64
	if len(recs) > 0 {
		next = recs[len(recs)-1].Seq + 1
	}
	var resp proto.Response
	if err := vm.call(ctx, proto.Request{Op: proto.OpSysrq, Line: "w"}, &resp); err != nil {
		return nil, err
	}
	if err := vm.sync(ctx); err != nil { // live.go
		return nil, err
	}
	return vm.Log(ctx, next)
}
