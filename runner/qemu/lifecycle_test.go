package qemu

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/cache"
	"github.com/kmodcheck/kmodcheck/runner/hide"
	"github.com/kmodcheck/kmodcheck/runner/kernel"
	"github.com/kmodcheck/kmodcheck/runner/local"
	"github.com/kmodcheck/kmodcheck/runner/proctest"
	"github.com/kmodcheck/kmodcheck/runner/target"
	"golang.org/x/sys/unix"
)

// A fakeVM is a launch of the fake QEMU (fakeqemu_test.go) for one case.
type fakeVM struct {
	t      *Target
	launch launch
	c      target.Case
	dir    string // the fake's: its command line per start (boots), its PIDs (pids)
}

// newFakeVM prepares a launch of a fake QEMU that behaves as behaviour,
// with a target for a kernel of fakeRelease and a machine that is only
// words: nothing is booted.
func newFakeVM(t *testing.T, behaviour string) *fakeVM {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	script := "#!/bin/sh\necho $$ >> " + filepath.Join(dir, "pids") + "\n" +
		fakeQEMUEnv + "=" + behaviour + " " + fakeDirEnv + "=" + dir + " exec " + self + " \"$@\"\n"
	qemu := filepath.Join(dir, "qemu-system-x86_64")
	agent := filepath.Join(dir, "kmodcheck")
	for file, text := range map[string]string{qemu: script, agent: "#!/bin/sh\n"} {
		if err := local.WriteProgram(file, []byte(text)); err != nil {
			t.Fatal(err)
		}
	}
	m := machine{Kernel: "/fake/vmlinux", Initrd: "/fake/initramfs.cpio", Root: t.TempDir(), Accel: "tcg", CPUs: 2, Memory: "1G", Cmdline: kernelCmdline("tcg", 0)}
	return &fakeVM{
		t:      &Target{Kernel: &kernel.Kernel{Release: fakeRelease}, Agent: agent, BootTimeout: time.Minute},
		launch: launch{qemu: qemu, machine: m, notes: []string{"accelerator tcg (asked for)"}},
		c:      target.Case{Name: "case", WorkDir: t.TempDir(), LogDir: filepath.Join(t.TempDir(), "case")},
		dir:    dir,
	}
}

// start launches the VM, closed at the test's end.
func (f *fakeVM) start(t *testing.T, ctx context.Context) (*VM, error) {
	t.Helper()
	vm, err := f.t.launch(ctx, f.c, f.launch)
	if vm != nil {
		t.Cleanup(func() { vm.Close(context.Background()) })
	}
	return vm, err
}

// boots returns the fake QEMU's command line at each start.
func (f *fakeVM) boots(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(f.dir, "boots"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// wantStarts checks that QEMU started n times.
func (f *fakeVM) wantStarts(t *testing.T, n int) {
	t.Helper()
	if got := len(f.boots(t)); got != n {
		t.Errorf("QEMU started %d times, want %d", got, n)
	}
}

// startFake launches a VM of a fake QEMU that behaves as behaviour, and
// fails the test unless it starts.
func startFake(t *testing.T, behaviour string) (*fakeVM, *VM) {
	t.Helper()
	f := newFakeVM(t, behaviour)
	vm, err := f.start(t, context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return f, vm
}

// pid waits for the fake QEMU's first start and returns its PID.
func (f *fakeVM) pid(t *testing.T) int {
	t.Helper()
	return waitPID(t, filepath.Join(f.dir, "pids"))
}

// TestLaunch: a VM starts, runs a step and powers off.
func TestLaunch(t *testing.T) {
	f, vm := startFake(t, fakeServe)
	if got := vm.info; got.Release != fakeRelease || strings.Join(got.Notes, "\n") != "accelerator tcg (asked for)" {
		t.Errorf("the session describes itself as %+v", got)
	}
	res, _, err := vm.run(context.Background(), target.Step{Line: "echo hi", Where: target.OnKernel, Timeout: time.Minute}, false)
	if err != nil || string(res.Stdout) != "echo hi\n" {
		t.Errorf("the step: %q, %v", res.Stdout, err)
	}
	if err := vm.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-vm.exited:
	default:
		t.Error("QEMU still runs after Close")
	}
	if console, _ := os.ReadFile(filepath.Join(f.c.LogDir, "console.log")); !strings.Contains(string(console), "fake QEMU: booting") {
		t.Errorf("console.log: %q", console)
	}
}

// TestLaunchPanicRetry: a kernel that panics while booting is booted once
// more, its first console kept and the case told (TestLaunchFails: one
// that panics again).
func TestLaunchPanicRetry(t *testing.T) {
	f, vm := startFake(t, fakePanicOnce)
	f.wantStarts(t, 2)
	notes := strings.Join(vm.info.Notes, "\n")
	if !strings.Contains(notes, "the kernel panicked while booting (kept as console-failed-boot.log); booted again") {
		t.Errorf("the notes do not tell of the panic: %s", notes)
	}
	if failed, _ := os.ReadFile(filepath.Join(f.c.LogDir, "console-failed-boot.log")); !strings.Contains(string(failed), "Kernel panic - not syncing: fake") {
		t.Errorf("console-failed-boot.log: %q", failed)
	}
}

// TestLaunchRestore: a restore starts QEMU with the state's memory file,
// copied on write, and the migration deferred; over QMP it then turns on
// x-ignore-shared (the memory is the file, not in the stream) and restores
// the devices from the state's descriptor.
func TestLaunchRestore(t *testing.T) {
	f := newFakeVM(t, fakeServe)
	dir := t.TempDir()
	st := &savedState{file: filepath.Join(dir, "6.1.0-99-amd64-KEY.state"), ram: filepath.Join(dir, "6.1.0-99-amd64-KEY.ram"), console: filepath.Join(dir, "6.1.0-99-amd64-KEY.console")}
	for _, file := range []string{st.file, st.ram, st.console} {
		if err := os.WriteFile(file, []byte("saved"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f.launch.state = st
	if _, err := f.start(t, context.Background()); err != nil {
		t.Fatal(err)
	}
	boots := f.boots(t)
	if len(boots) != 1 || !strings.Contains(boots[0], "memory-backend-file,id=ram,size=1G,mem-path="+st.ram+",share=off") || !strings.HasSuffix(boots[0], " -incoming defer") {
		t.Errorf("want one restore of %s, copied on write; QEMU ran with:\n%s", st.ram, strings.Join(boots, "\n"))
	}
	log, _ := os.ReadFile(filepath.Join(f.dir, "qmp"))
	want := []string{`"qmp_capabilities"`, `"capability":"x-ignore-shared","state":true`, `{"arguments":{"uri":"fd:3"},"execute":"migrate-incoming"}`}
	lines := strings.Split(strings.TrimSpace(string(log)), "\n")
	if len(lines) != len(want) {
		t.Fatalf("QMP commands:\n%s\nwant %d", log, len(want))
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Errorf("QMP command %d: %s, want %s", i+1, lines[i], w)
		}
	}
}

// TestLaunchRestoreFallback: a saved state QEMU cannot load is discarded,
// and the case boots cold, saying why with QEMU's own words.
func TestLaunchRestoreFallback(t *testing.T) {
	f := newFakeVM(t, fakeBadState)
	dir := t.TempDir()
	st := &savedState{file: filepath.Join(dir, "6.1.0-99-amd64-KEY.state"), console: filepath.Join(dir, "6.1.0-99-amd64-KEY.console")}
	for _, file := range []string{st.file, st.console} {
		if err := os.WriteFile(file, []byte("damaged"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f.launch.state = st
	vm, err := f.start(t, context.Background())
	if err != nil {
		t.Fatal(err)
	}
	boots := f.boots(t)
	if len(boots) != 2 || !strings.HasSuffix(boots[0], " -incoming defer") || strings.Contains(boots[1], "-incoming") {
		t.Errorf("want a restore, then a cold boot; QEMU ran with:\n%s", strings.Join(boots, "\n"))
	}
	notes := strings.Join(vm.info.Notes, "\n")
	want := "restoring the saved state 6.1.0-99-amd64-KEY.state failed, booted cold: QEMU: qemu-system-x86_64: load of migration failed: Invalid argument"
	if !strings.Contains(notes, want) || strings.Contains(notes, "restored from") {
		t.Errorf("notes:\n%s\nwant %q", notes, want)
	}
	for _, file := range []string{st.file, st.console} {
		if _, err := os.Stat(file); err == nil {
			t.Errorf("%s was kept", file)
		}
	}
}

// TestLaunchFails: a start that fails says why with the error callers
// tell apart: a kernel that panics again when booted again, a QEMU that
// exits before the agent answers (started once), a boot past BootTimeout.
func TestLaunchFails(t *testing.T) {
	for _, tt := range []struct {
		behaviour   string
		bootTimeout time.Duration
		want, not   error
		starts      int
	}{
		{fakePanic, time.Minute, ErrPanicked, ErrQEMUExited, 2},
		{fakePowerOff, time.Minute, ErrQEMUExited, ErrPanicked, 1},
		{fakeHang, 200 * time.Millisecond, context.DeadlineExceeded, ErrQEMUExited, 1},
	} {
		t.Run(tt.behaviour, func(t *testing.T) {
			f := newFakeVM(t, tt.behaviour)
			f.t.BootTimeout = tt.bootTimeout
			_, err := f.start(t, context.Background())
			if !errors.Is(err, tt.want) || errors.Is(err, tt.not) {
				t.Errorf("start: %v, want %v", err, tt.want)
			}
			f.wantStarts(t, tt.starts)
		})
	}
}

// TestLaunchCancelled: a start ends as soon as its context does, with the
// context's error, its QEMU killed.
func TestLaunchCancelled(t *testing.T) {
	f := newFakeVM(t, fakeHang)
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 1)
	go func() {
		_, err := f.start(t, ctx)
		errs <- err
	}()
	pid := f.pid(t)
	cancel()
	select {
	case err := <-errs:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("start: %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the start went on 5s after its context was cancelled")
	}
	if !proctest.Dying(pid) {
		t.Errorf("QEMU %d still runs", pid)
	}
}

// TestStepCancelled: a step whose context ends while the guest does not
// answer ends at once with the context's error, and Close then kills QEMU
// without waiting for a power-off that will not come.
func TestStepCancelled(t *testing.T) {
	f, vm := startFake(t, fakeSilent)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	begin := time.Now()
	_, _, err := vm.run(ctx, target.Step{Line: "sleep 600", Where: target.OnKernel, Timeout: time.Hour}, false)
	var kerr *target.KernelError
	if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &kerr) {
		t.Errorf("the step: %v, want a KernelError for context.DeadlineExceeded", err)
	}
	if took := time.Since(begin); took > 2*time.Second {
		t.Errorf("the step took %v to end after its context", took)
	}
	begin = time.Now()
	vm.Close(context.Background())
	if took := time.Since(begin); took > 2*time.Second {
		t.Errorf("Close took %v", took)
	}
	if pid := f.pid(t); !proctest.Dying(pid) {
		t.Errorf("QEMU %d still runs after Close", pid)
	}
}

// TestFaultWhileStepRuns: once the console shows a fault report and the
// step has run on faultGrace past it, a guest that no longer echoes on its
// liveness port has locked up; one that echoes ends the step with the
// report, or, when the case expects the fault (a thread's oops while the
// step sleeps), lets it run to its end, as the reader's does.
func TestFaultWhileStepRuns(t *testing.T) {
	for _, tt := range []struct {
		name, behaviour string
		expect          bool
		want            error // nil: the step ends as the guest answers it
	}{
		{"locked up", fakeOopsDead, true, errLockedUp},
		{"alive, not expected", fakeOopsAlive, false, errFaultRanOn},
		{"alive, expected", fakeOopsAlive, true, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, vm := startFake(t, tt.behaviour)
			defer vm.Close(context.Background())
			begin := time.Now()
			res, _, err := vm.run(context.Background(), target.Step{Line: "sleep 20", Where: target.OnKernel,
				Timeout: time.Minute, ExpectFault: tt.expect}, false)
			took := time.Since(begin)
			if tt.want == nil {
				if err != nil || string(res.Stdout) != "sleep 20\n" {
					t.Errorf("the step: %q, %v; want its answer", res.Stdout, err)
				}
				return
			}
			var kerr *target.KernelError
			if !errors.Is(err, tt.want) || !errors.As(err, &kerr) || len(kerr.Faults) == 0 {
				t.Fatalf("the step: %v, want a KernelError with the report, for %v", err, tt.want)
			}
			if took > faultGrace+aliveWait+time.Second {
				t.Errorf("the step took %v to end after the oops", took)
			}
		})
	}
}

// beginGated begins a session of a fake QEMU that boots only once open is
// called, with a case build on the host's root; it is closed at the
// test's end.
func beginGated(t *testing.T) (f *fakeVM, s *Session, open func()) {
	t.Helper()
	f = newFakeVM(t, fakeGated)
	gate := filepath.Join(f.dir, "gate")
	if err := unix.Mkfifo(gate, 0o600); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable() // puts the build's machine together
	if err != nil {
		t.Fatal(err)
	}
	reader, err := caseReader("/", f.c.WorkDir)
	if err != nil {
		t.Fatal(err)
	}
	build, err := newCaseBuild(self, fakeRelease, "/", f.c.WorkDir, hide.Private{}, reader)
	if err != nil {
		t.Fatal(err)
	}
	s = f.t.begin(context.Background(), f.c, build, f.launch, time.Now())
	t.Cleanup(func() { s.Close(context.Background()) })
	return f, s, func() { os.WriteFile(gate, []byte("boot\n"), 0o600) }
}

// booting reports whether the session's boot is still under way.
func booting(s *Session) bool {
	select {
	case <-s.booted:
		return false
	default:
		return true
	}
}

// TestSessionBuildsWhileBooting: a case's build step runs, on its own
// machine and for its kernel, while its VM is still booting; the steps on
// the kernel wait for the boot.
func TestSessionBuildsWhileBooting(t *testing.T) {
	_, s, open := beginGated(t)
	work := s.work
	res, err := s.Run(context.Background(), target.Step{Line: "uname -r > built; cat built", Dir: work, Where: target.OnBuild, Timeout: time.Minute})
	if err != nil || res.Exit != 0 || string(res.Stdout) != fakeRelease+"\n" {
		t.Fatalf("the build step: exit %d, %v, %q %q", res.Exit, err, res.Stdout, res.Stderr)
	}
	if !booting(s) {
		t.Fatal("the VM booted before its gate opened: the build did not run while it booted")
	}
	open()
	info, err := s.Ready(context.Background())
	if err != nil || info.Release != fakeRelease {
		t.Fatalf("ready: %+v, %v", info, err)
	}
	res, err = s.Run(context.Background(), target.Step{Line: "cat built", Dir: work, Where: target.OnKernel, Timeout: time.Minute})
	if err != nil || string(res.Stdout) != "cat built\n" {
		t.Errorf("the step on the kernel: %q, %v", res.Stdout, err)
	}
}

// TestSessionBuildWhereTheShellIs: a build step runs where the case's
// shell is, when the host sees it (cd drv, then make); where it does not
// (a directory of the guest's own), the step fails saying so.
func TestSessionBuildWhereTheShellIs(t *testing.T) {
	_, s, open := beginGated(t)
	open()
	work := s.work
	if err := os.Mkdir(filepath.Join(work, "drv"), 0o755); err != nil {
		t.Fatal(err)
	}
	build := target.Step{Line: "pwd", Dir: work, Where: target.OnBuild, Timeout: time.Minute}
	onKernel := func(line string) {
		if _, err := s.Run(context.Background(), target.Step{Line: line, Dir: work, Where: target.OnKernel, Timeout: time.Minute}); err != nil {
			t.Fatal(err)
		}
	}
	onKernel("cd " + filepath.Join(work, "drv"))
	if res, err := s.Run(context.Background(), build); err != nil || strings.TrimSpace(string(res.Stdout)) != filepath.Join(work, "drv") {
		t.Errorf("the build after cd drv: %q, %v; want it in drv", res.Stdout, err)
	}
	onKernel("cd /root/src")
	if _, err := s.Run(context.Background(), build); err == nil || !strings.Contains(err.Error(), "the case's shell is in /root/src, outside the work directory") {
		t.Errorf("the build after cd /root/src: %v", err)
	}
}

// TestSessionClosedWhileBooting: a case that ends while its VM boots (its
// build failed) kills the VM at once, and leaves nothing of its build.
func TestSessionClosedWhileBooting(t *testing.T) {
	f, s, _ := beginGated(t)
	res, err := s.Run(context.Background(), target.Step{Line: "echo 'kthread.c:3: error' >&2; exit 2", Dir: s.work, Where: target.OnBuild, Timeout: time.Minute})
	if err != nil || res.Exit != 2 {
		t.Fatalf("the failing build: exit %d, %v", res.Exit, err)
	}
	pid := f.pid(t)
	if !booting(s) {
		t.Fatal("the VM booted before its gate opened")
	}
	if err := s.Close(context.Background()); err != nil {
		t.Errorf("close: %v", err)
	}
	if !proctest.Dying(pid) {
		t.Errorf("QEMU %d still runs after the case closed", pid)
	}
	if _, err := os.Stat(s.build.dir); !os.IsNotExist(err) {
		t.Errorf("the case's build directory %s is left: %v", s.build.dir, err)
	}
	if _, err := s.Ready(context.Background()); err == nil {
		t.Error("a session closed while booting says it is ready")
	}
}

// TestPruneStates: a state unused for a day goes with its memory and
// console; so do the parts a killed save left, but not those of a save
// under way, nor the state kept. A kernel keeps its three most recently
// used states, and any in use (used in the last ten minutes); another
// kernel's go after a week unused.
func TestPruneStates(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	old := now.Add(-25 * time.Hour)
	files := map[string]time.Time{
		"6.1.0-99-amd64-OLD.state": old, "6.1.0-99-amd64-OLD.ram": old, "6.1.0-99-amd64-OLD.console": old,
		"6.1.0-99-amd64-NEW.state": old, "6.1.0-99-amd64-NEW.ram": old,
		"6.1.0-99-amd64-NEW.ram.123.part": old, "6.1.0-99-amd64-NEW.state.123.part": old,
		"6.1.0-99-amd64-NEW.ram.456.part": now,
		// Used a minute and two ago (in use), an hour and two ago.
		"6.1.0-99-amd64-A.state": now.Add(-time.Minute), "6.1.0-99-amd64-B.state": now.Add(-2 * time.Minute),
		"6.1.0-99-amd64-C.state": now.Add(-time.Hour), "6.1.0-99-amd64-C.ram": now.Add(-time.Hour),
		"6.1.0-99-amd64-D.state": now.Add(-2 * time.Hour),
		// Another kernel's: two days unused, and eight.
		"7.3.4+deb13-amd64-E.state": now.Add(-48 * time.Hour), "7.3.4+deb13-amd64-F.state": now.Add(-8 * 24 * time.Hour),
	}
	for name, mtime := range files {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(f, mtime, mtime)
	}
	pruneStates(dir, "6.1.0-99-amd64", filepath.Join(dir, "6.1.0-99-amd64-NEW.state"))
	var left []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		left = append(left, e.Name())
	}
	want := []string{"6.1.0-99-amd64-A.state", "6.1.0-99-amd64-B.state",
		"6.1.0-99-amd64-NEW.ram", "6.1.0-99-amd64-NEW.ram.456.part", "6.1.0-99-amd64-NEW.state",
		"7.3.4+deb13-amd64-E.state"}
	if !slices.Equal(left, want) {
		t.Errorf("left %v, want %v", left, want)
	}
}

// TestSaveNoRoom saves a state where the disk has less room than the
// guest's memory: the save says so and never starts QEMU, which would die
// of SIGBUS writing the memory; where old states took the room, it removes
// them first. The memory sizes QEMU's -m takes are read as it reads them.
func TestSaveNoRoom(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounts a small tmpfs: root only")
	}
	c := cache.Dir(t.TempDir())
	small := c.Path("state", "")
	if err := os.MkdirAll(small, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("small", small, "tmpfs", 0, "size=16m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(small, unix.MNT_DETACH) })
	qemu := filepath.Join(t.TempDir(), "qemu-system-x86_64")
	// A QEMU that answers -version and exits at once otherwise: a save
	// that started it would fail as QEMU exiting, not for want of room.
	if err := local.WriteProgram(qemu, []byte("#!/bin/sh\necho 'QEMU emulator version 7.2.0'\n")); err != nil {
		t.Fatal(err)
	}
	tg := &Target{Kernel: &kernel.Kernel{Release: fakeRelease, Image: qemu}, QEMU: qemu, Cache: c}
	m := machine{Kernel: "/fake/vmlinux", Initrd: "/fake/initramfs.cpio", Accel: "tcg", CPUs: 2, Memory: "1G"}
	_, err := tg.savedState(context.Background(), m)
	if !errors.Is(err, errNoRoom) || !strings.Contains(err.Error(), "16 MB free") {
		t.Errorf("saving with 16 MB free: %v, want no room", err)
	}
	// A disk full of old states: the save removes them first, then has
	// the room.
	old := time.Now().Add(-48 * time.Hour)
	for _, f := range []string{fakeRelease + "-OLD.state", fakeRelease + "-OLD.ram"} {
		if err := os.WriteFile(filepath.Join(small, f), make([]byte, 12<<20), 0o644); err != nil && !errors.Is(err, unix.ENOSPC) {
			t.Fatal(err)
		}
		os.Chtimes(filepath.Join(small, f), old, old)
	}
	m.Memory = "8M"
	if _, err := tg.savedState(context.Background(), m); err == nil || errors.Is(err, errNoRoom) {
		t.Errorf("saving 8M with 16 MB, old states holding 12 MB of it: %v, want to try (and fail on this QEMU)", err)
	}
	for size, want := range map[string]uint64{"1G": 1 << 30, "512": 512 << 20, "512m": 512 << 20, "2048K": 2 << 20, "1T": 1 << 40} {
		if got, err := memoryBytes(size); got != want || err != nil {
			t.Errorf("memoryBytes(%q) = %d, %v; want %d", size, got, err, want)
		}
	}
	if _, err := memoryBytes("1 GB"); err == nil {
		t.Error(`memoryBytes("1 GB"): no error`)
	}
}
