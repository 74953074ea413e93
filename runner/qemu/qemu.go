// Package qemu is the default target: it boots a real distribution kernel
// under qemu-system-x86_64, one fresh virtual machine per case, with the
// host's root filesystem shared read-only over 9p and the case's work
// directory shared read-write at the same path.
//
// Commands reach the guest agent (package guest) over a virtio-serial port;
// the kernel console goes to a log file kept for every case. Builds run on the
// host against the target kernel's headers, where they take a second instead
// of half a minute under TCG.
package qemu

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
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
	"github.com/kmodcheck/kmodcheck/runner/guest"
	"github.com/kmodcheck/kmodcheck/runner/kernel"
	"github.com/kmodcheck/kmodcheck/runner/kmsg"
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
	QEMU    string // qemu-system-x86_64; empty: found on PATH ($KMODCHECK_QEMU overrides)

	// BootTimeout bounds boot to the agent's hello.
	BootTimeout time.Duration
	// StepTimeout is the default bound for one step.
	StepTimeout time.Duration

	mu    sync.Mutex
	accel string // the probe's verdict, once made
	note  string
}

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

// Prepare does the per-kernel work once: extract the kernel, build the
// initramfs and decide the accelerator.
func (t *Target) prepare(ctx context.Context) (vmlinux, initrd, accel, note string, pvh bool, err error) {
	vmlinux, pvh, err = kernel.Vmlinux(ctx, t.Kernel, t.Cache)
	if err != nil {
		return
	}
	if !pvh {
		vmlinux = t.Kernel.Image
	}
	initrd, err = guest.Initramfs(ctx, t.Kernel.Modules, t.Busybox, t.Cache)
	if err != nil {
		err = fmt.Errorf("initramfs for %s: %w", t.Kernel.Release, err)
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.accel == "" {
		t.accel, t.note, err = t.chooseAccel(ctx, vmlinux)
		if err != nil {
			return
		}
	}
	return vmlinux, initrd, t.accel, t.note, pvh, nil
}

// Start boots a VM for one case.
func (t *Target) Start(ctx context.Context, c target.Case) (target.Session, error) {
	workDir := c.WorkDir
	if err := t.Check(); err != nil {
		return nil, err
	}
	if strings.ContainsAny(workDir, " \t\n\"'") {
		return nil, fmt.Errorf("work directory %q: the kernel command line cannot carry spaces or quotes", workDir)
	}
	begin := time.Now()
	vmlinux, initrd, accel, note, pvh, err := t.prepare(ctx)
	if err != nil {
		return nil, err
	}
	var notes []string
	if note != "" {
		notes = append(notes, note)
	}
	if !pvh {
		notes = append(notes, "no PVH entry in the kernel: booting the bzImage")
	}
	// A kernel that panics before the agent starts is retried once: under
	// TCG a PREEMPT_RT kernel was seen to oops while patching its own code
	// in about one boot in fifteen, which is not the case's doing.
	for attempt := 1; ; attempt++ {
		vm, err := t.startVM(ctx, c, vmlinux, initrd, accel, notes)
		if err == nil {
			vm.info.Boot = time.Since(begin)
			return vm, nil
		}
		if attempt > 1 || vm == nil || !vm.panicked() {
			return nil, fmt.Errorf("boot %s: %w", t.Kernel.Release, err)
		}
		notes = append(notes, fmt.Sprintf("the kernel panicked while booting (kept as console-failed-boot.log); booted again: %v", firstLine(nil, err)))
		os.Rename(vm.info.Console, filepath.Join(filepath.Dir(vm.info.Console), "console-failed-boot.log"))
	}
}

// startVM boots one VM; on failure it returns the closed VM, to be asked why.
func (t *Target) startVM(ctx context.Context, c target.Case, vmlinux, initrd, accel string, notes []string) (*VM, error) {
	tmp, err := os.MkdirTemp("", "kmodcheck-vm-")
	if err != nil {
		return nil, err
	}
	vm := &VM{t: t, tmp: tmp, work: c.WorkDir, logDir: c.LogDir, info: target.Info{Target: "qemu", Release: t.Kernel.Release, Accel: accel}}
	vm.info.Notes = append(vm.info.Notes, notes...)
	if err := vm.boot(ctx, vmlinux, initrd, accel); err != nil {
		vm.Close(context.Background())
		return vm, err
	}
	return vm, nil
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
	tmp    string
	work   string
	logDir string
	info   target.Info

	cmd      *exec.Cmd
	exited   chan struct{} // closed when QEMU exits
	exitErr  error
	console  *console
	conn     net.Conn
	kmsgConn net.Conn      // the guest's kernel records, copied to kernel.log
	kmsgDone chan struct{} // closed when kernel.log is complete
	dropped  uint64        // records the agent had dropped by the last step
	peakRSS  uint64        // QEMU's VmHWM when closed
	dec      *json.Decoder
	reqMu    sync.Mutex
	unameDir string
	stderr   bytes.Buffer
}

func (vm *VM) Describe() target.Info { return vm.info }

func (vm *VM) boot(ctx context.Context, vmlinux, initrd, accel string) error {
	t := vm.t
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

	sock := filepath.Join(vm.tmp, "agent.sock")
	kmsgSock := filepath.Join(vm.tmp, "kmsg.sock")
	cpus := t.CPUs
	if cpus == 0 {
		cpus = 2
	}
	mem := t.Memory
	if mem == "" {
		mem = "1G"
	}
	cpu := "max"
	if accel == "kvm" {
		cpu = "host"
	}
	// The serial console gets warnings and worse (oopses and panics raise
	// the level themselves): at 0.4 MB/s it would slow a chatty module down.
	// Every record reaches kernel.log through the agent instead.
	cmdline := []string{
		"console=ttyS0", "loglevel=5", "log_buf_len=32M", "panic=-1", "tsc=reliable", "8250.nr_uarts=1",
		// A busy host can starve a TCG guest long enough for the timer check
		// to fail ("IO-APIC + timer doesn't work!"), as cloud images know.
		"no_timer_check",
		// Track slab allocation sites, to find what a module never freed.
		"slub_debug=U,kmalloc-*",
		guest.EnvAgent + "=" + t.Agent, guest.EnvWork + "=" + vm.work,
	}
	args := []string{
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-machine", "pc", "-accel", accelArg(accel), "-cpu", cpu, "-smp", fmt.Sprint(cpus), "-m", mem,
		"-kernel", vmlinux, "-initrd", initrd, "-append", strings.Join(cmdline, " "),
		"-chardev", "stdio,id=con,signal=off", "-serial", "chardev:con",
		"-fsdev", "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap",
		"-device", "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot",
		"-fsdev", "local,id=work,path=" + vm.work + ",security_model=none,multidevs=remap",
		"-device", "virtio-9p-pci,fsdev=work,mount_tag=work",
		"-device", "virtio-serial-pci",
		"-chardev", "socket,id=agent,path=" + sock + ",server=on,wait=off",
		"-device", "virtserialport,chardev=agent,name=" + guest.PortName,
		"-chardev", "socket,id=kmsg,path=" + kmsgSock + ",server=on,wait=off",
		"-device", "virtserialport,chardev=kmsg,name=" + guest.LogPortName,
		"-chardev", "socket,id=shell,path=" + vm.shellSock() + ",server=on,wait=off", // shell.go
		"-device", "virtserialport,chardev=shell,name=" + guest.ShellPortName,
		"-device", "pvpanic-pci", "-action", "panic=exit-failure",
	}
	vm.cmd = exec.Command(t.qemuPath(), args...)
	vm.cmd.Stdin = nil
	stdout, err := vm.cmd.StdoutPipe()
	if err != nil {
		return err
	}
	vm.cmd.Stderr = &vm.stderr
	if err := vm.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", t.qemuPath(), err)
	}
	vm.exited = make(chan struct{})
	go func() {
		con.copy(stdout)
		vm.exitErr = vm.cmd.Wait()
		close(vm.exited)
	}()

	timeout := t.BootTimeout
	if timeout == 0 {
		timeout = 90 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := vm.dial(ctx, sock)
	if err != nil {
		return vm.failure("connect to the guest agent", err)
	}
	kmsgConn, err := vm.dial(ctx, kmsgSock)
	if err != nil {
		return vm.failure("connect to the guest's kernel log port", err)
	}
	kernelLog, err := os.Create(filepath.Join(filepath.Dir(consolePath), "kernel.log"))
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
	vm.conn = conn
	vm.dec = json.NewDecoder(bufio.NewReader(conn))
	var hello guest.Hello
	if err := vm.receive(ctx, &hello); err != nil {
		return vm.failure("wait for the guest agent", err)
	}
	if hello.Error != "" {
		return vm.failure("guest set-up", errors.New(hello.Error))
	}
	if hello.Release != t.Kernel.Release {
		return fmt.Errorf("guest runs %s, not %s", hello.Release, t.Kernel.Release)
	}
	vm.info.Release = hello.Release
	vm.info.LogStart = hello.NextSeq
	vm.info.Shell = hello.Shell
	var resp guest.Response
	if err := vm.call(ctx, guest.Request{Op: guest.OpClock, UnixNano: time.Now().UnixNano()}, &resp); err != nil {
		return err
	}
	return vm.makeUname()
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
	go func() { done <- vm.dec.Decode(v) }()
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
		return fmt.Errorf("no answer from the guest: %w", ctx.Err())
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
func (vm *VM) call(ctx context.Context, req guest.Request, resp *guest.Response) error {
	vm.reqMu.Lock()
	defer vm.reqMu.Unlock()
	if vm.conn == nil {
		return errors.New("no guest agent")
	}
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if _, err := vm.conn.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("send %s: %w", req.Op, err)
	}
	if err := vm.receive(ctx, resp); err != nil {
		return fmt.Errorf("%s: %w", req.Op, err)
	}
	if resp.Error != "" {
		return fmt.Errorf("guest %s: %s", req.Op, resp.Error)
	}
	return nil
}

// Run runs a step in the guest, or for builds on the host.
func (vm *VM) Run(ctx context.Context, step target.Step) (target.Result, error) {
	if step.Timeout == 0 {
		step.Timeout = vm.t.StepTimeout
	}
	if step.Where == target.OnBuild {
		return vm.build(ctx, step)
	}
	start := time.Now()
	req := guest.Request{Op: guest.OpRun, Line: step.Line, Dir: step.Dir, Env: step.Env, TimeoutMs: step.Timeout.Milliseconds()}
	// The agent enforces the step's timeout; allow it time to report.
	ctx, cancel := context.WithTimeout(ctx, step.Timeout+60*time.Second)
	defer cancel()
	var resp guest.Response
	err := vm.call(ctx, req, &resp)
	res := target.Result{
		Step: step, Exit: resp.Exit, Stdout: resp.Stdout, Stderr: resp.Stderr,
		Duration: time.Since(start), Log: resp.Records, TimedOut: resp.TimedOut, Tainted: resp.Tainted,
	}
	if resp.Dropped > vm.dropped {
		res.Dropped, vm.dropped = resp.Dropped-vm.dropped, resp.Dropped
	}
	if err != nil {
		return res, vm.explain(err)
	}
	return res, nil
}

// explain adds to a failed request what the kernel console says: the
// kernel's own report when it died, else the console's last lines.
func (vm *VM) explain(err error) error {
	var lines []string
	for _, l := range vm.console.lines(consoleTailLines) {
		lines = append(lines, kmsg.StripTimestamp(l))
	}
	faults := kmsg.Faults(lines)
	if len(faults) == 0 {
		return fmt.Errorf("%w\nlast console lines:\n%s", err, vm.console.tail(30))
	}
	var b strings.Builder
	for _, f := range faults {
		fmt.Fprintf(&b, "\nthe kernel reported a %s (from the console):\n    %s", f.Kind, strings.Join(f.Summary(), "\n    "))
	}
	return fmt.Errorf("%w%s", err, b.String())
}

// Log returns the kernel records from since on.
func (vm *VM) Log(ctx context.Context, since uint64) ([]kmsg.Record, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var resp guest.Response
	if err := vm.call(ctx, guest.Request{Op: guest.OpLog, Since: since}, &resp); err != nil {
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
		if vm.conn != nil {
			b, _ := json.Marshal(guest.Request{Op: guest.OpPoweroff})
			vm.conn.Write(append(b, '\n'))
		}
		select {
		case <-vm.exited:
		case <-time.After(10 * time.Second):
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
	var resp guest.Response
	if err := vm.call(ctx, guest.Request{Op: guest.OpInspect}, &resp); err != nil {
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
	var resp guest.Response
	if err := vm.call(ctx, guest.Request{Op: guest.OpSysrq, Line: "w"}, &resp); err != nil {
		return nil, err
	}
	time.Sleep(500 * time.Millisecond) // the dump is printed asynchronously
	return vm.Log(ctx, next)
}
