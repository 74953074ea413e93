package qemu_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/cache"
	"github.com/kmodcheck/kmodcheck/runner/guest"
	"github.com/kmodcheck/kmodcheck/runner/kernel"
	"github.com/kmodcheck/kmodcheck/runner/qemu"
	"github.com/kmodcheck/kmodcheck/runner/setup"
	"github.com/kmodcheck/kmodcheck/runner/target"
	"github.com/kmodcheck/kmodcheck/runner/targettest"
	"golang.org/x/sys/unix"
)

// The tests below boot VMs: this test binary is also the guest's agent,
// and the lifecycle tests' fake QEMU.
func TestMain(m *testing.M) {
	if guest.IsGuest() {
		guest.Main()
	}
	qemu.FakeQEMU()
	os.Exit(m.Run())
}

// vmTarget is the qemu target for the kernel pattern names ("" the
// system's), skipped when there is none or with -short.
func vmTarget(t *testing.T, pattern, boot string) *qemu.Target {
	t.Helper()
	targettest.BootsVM(t)
	// The target kmodcheck run builds: a fetched kernel gets its release
	// root, the agent is this test binary.
	o := setup.Options{Kernel: pattern, Boot: boot, Accel: os.Getenv("KMODCHECK_ACCEL"), StepTimeout: time.Minute}
	c, err := cache.Default()
	if err != nil {
		t.Fatal(err)
	}
	ks, err := kernel.Discover(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kernel.Select(ks, pattern); err != nil {
		t.Skipf("no kernel %q: %v", pattern, err)
	}
	tt, err := o.NewTarget()
	if err != nil {
		t.Skip(err)
	}
	tg := tt.(*qemu.Target)
	return tg
}

// start starts a session for a case named name, closed at the test's end.
func start(t *testing.T, tg *qemu.Target, name string) (target.Session, string) {
	t.Helper()
	work := t.TempDir()
	s, err := tg.Start(context.Background(), target.Case{Name: name, WorkDir: work, LogDir: filepath.Join(t.TempDir(), name)})
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	info := ready(t, s)
	t.Logf("%s: ready in %v, notes %q", name, info.Boot, info.Notes)
	return s, work
}

// ready waits for the session's kernel and fails the test unless it is up.
func ready(t *testing.T, s target.Session) target.Info {
	t.Helper()
	info, err := s.Ready(context.Background())
	if err != nil {
		t.Fatalf("boot: %v", err)
	}
	return info
}

// run runs line in the guest (or on the host for a build) and fails the
// test unless it exits 0.
func run(t *testing.T, s target.Session, work, line, where string) target.Result {
	t.Helper()
	res, err := s.Run(context.Background(), target.Step{Line: line, Dir: work, Where: where, Timeout: time.Minute})
	if err != nil || res.Exit != 0 {
		t.Fatalf("%s: exit %d, %v\n%s%s", line, res.Exit, err, res.Stdout, res.Stderr)
	}
	return res
}

// module copies testdata/NAME into work and builds it for the session's kernel.
func module(t *testing.T, s target.Session, work, name string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("testdata", name, "*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(work, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run(t, s, work, "make", target.OnBuild)
}

// restoredFrom returns the saved state a session was restored from, from
// its notes, and fails the test when it booted cold.
func restoredFrom(t *testing.T, s target.Session) string {
	t.Helper()
	for _, n := range ready(t, s).Notes {
		if st, ok := strings.CutPrefix(n, "restored from the saved state "); ok {
			return st
		}
	}
	t.Fatalf("not restored from a saved state: notes %q", ready(t, s).Notes)
	return ""
}

// TestSnapshotIsolation: a case restored from the saved state sees nothing
// of an earlier case restored from the same state, which loaded a module
// that tainted the kernel, started a kernel thread, printed, wrote a file
// and read random numbers, and was left running; and it starts as a cold
// boot does: the same modules, no taint.
func TestSnapshotIsolation(t *testing.T) {
	tg := vmTarget(t, "", qemu.BootSnapshot)
	ctx := context.Background()

	dirty, work := start(t, tg, "dirty")
	module(t, dirty, work, "isolation")
	run(t, dirty, work, "sudo insmod ./isolation.ko && touch /tmp/leftover", target.OnKernel)
	random1 := run(t, dirty, work, "head -c 16 /dev/urandom | od -An -tx1", target.OnKernel).Stdout
	st, err := dirty.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(st.Modules, "isolation") || st.Tainted == 0 || !slices.Contains(st.Kthreads, "isolation thread") {
		t.Fatalf("the module left no trace to look for: %+v", st)
	}

	clean, work2 := start(t, tg, "clean")
	if a, b := restoredFrom(t, dirty), restoredFrom(t, clean); a != b {
		t.Fatalf("the cases restored different states: %s, %s", a, b)
	}
	st2, err := clean.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(st2.Modules, "isolation") || st2.Tainted != 0 || slices.Contains(st2.Kthreads, "isolation thread") {
		t.Errorf("the second case inherited the first's kernel: %+v", st2)
	}
	recs, err := clean.Log(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if strings.Contains(r.Text, "isolation") {
			t.Errorf("the second case's kernel log has the first's record %q", r.Text)
		}
	}
	if res, _ := clean.Run(ctx, target.Step{Line: "test -e /tmp/leftover", Dir: work2, Where: target.OnKernel, Timeout: time.Minute}); res.Exit == 0 {
		t.Error("the second case sees the first's /tmp/leftover")
	}
	random2 := run(t, clean, work2, "head -c 16 /dev/urandom | od -An -tx1", target.OnKernel).Stdout
	if string(random1) == string(random2) {
		t.Errorf("both cases read the same random bytes %s", random1)
	}

	cold, _ := start(t, vmTarget(t, "", qemu.BootCold), "cold")
	st3, err := cold.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(st2.Modules, st3.Modules) || st2.Tainted != st3.Tainted {
		t.Errorf("restored: modules %v taint %d; booted cold: modules %v taint %d", st2.Modules, st2.Tainted, st3.Modules, st3.Tainted)
	}
}

// TestTCGGuest: under TCG a program maps its libraries where it did the
// last time it ran, so that what TCG translated of them serves again
// (norandmaps), and the kernel spends no time on defences against a
// real CPU's speculation; under KVM both are as on a reader's machine.
func TestTCGGuest(t *testing.T) {
	s, work := start(t, vmTarget(t, "", qemu.BootSnapshot), "maps")
	tcg := ready(t, s).Accel == "tcg"
	const libc = "grep -m1 -F libc.so /proc/self/maps"
	first := run(t, s, work, libc, target.OnKernel).Stdout
	second := run(t, s, work, libc, target.OnKernel).Stdout
	if same := string(first) == string(second); same != tcg {
		t.Errorf("accel %s: libc mapped at\n%s then\n%s", ready(t, s).Accel, first, second)
	}
	spectre := run(t, s, work, "cat /sys/devices/system/cpu/vulnerabilities/spectre_v2", target.OnKernel).Stdout
	if off := strings.HasPrefix(string(spectre), "Vulnerable"); off != tcg {
		t.Errorf("accel %s: spectre_v2 %q", ready(t, s).Accel, spectre)
	}
}

// TestRestoreFallback: a saved state that does not restore makes its case
// boot cold, saying why in its notes, and is saved anew for the next case.
func TestRestoreFallback(t *testing.T) {
	tg := vmTarget(t, "", qemu.BootSnapshot)
	tg.Cache = cache.Dir(t.TempDir()) // the state is damaged on purpose
	first, _ := start(t, tg, "first")
	state := tg.Cache.Path("state", restoredFrom(t, first))
	first.Close(context.Background())
	fi, err := os.Stat(state)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(state, fi.Size()/2); err != nil {
		t.Fatal(err)
	}

	second, work := start(t, tg, "second")
	notes := strings.Join(ready(t, second).Notes, "\n")
	if !strings.Contains(notes, "failed, booted cold") {
		t.Fatalf("a damaged state restored, or the case did not say it booted cold: %s", notes)
	}
	run(t, second, work, "true", target.OnKernel)

	third, _ := start(t, tg, "third")
	restoredFrom(t, third)
}

// TestDelayEveryCPU: mdelay(5000) lasts 5 s on every vCPU, and every vCPU
// shows the same bogomips: the delay loop is calibrated on each.
func TestDelayEveryCPU(t *testing.T) {
	for _, pattern := range []string{"system", "6.12"} {
		t.Run(pattern, func(t *testing.T) {
			p := pattern
			if p == "system" {
				p = ""
			}
			tg := vmTarget(t, p, qemu.BootSnapshot)
			s, work := start(t, tg, "delay")
			bogo := run(t, s, work, "grep bogomips /proc/cpuinfo", target.OnKernel).Stdout
			lines := strings.Split(strings.TrimSpace(string(bogo)), "\n")
			if len(lines) != 2 || lines[0] != lines[1] {
				t.Errorf("/proc/cpuinfo:\n%s\nwant the same bogomips on both CPUs", bogo)
			}
			module(t, s, work, "delay")
			res := run(t, s, work, "sudo insmod ./delay.ko", target.OnKernel)
			load := loadAverage(t)
			busy := load > float64(runtime.NumCPU())
			var took []int
			for _, r := range res.Log {
				var cpu, ms int
				if _, err := fmt.Sscanf(r.Text, "delay: cpu %d: mdelay(5000) took %d ms", &cpu, &ms); err == nil {
					took = append(took, ms)
					t.Logf("%s", r.Text)
					// A miscalibrated CPU returns early, so that bound always
					// holds. Under single-threaded TCG every udelay(1000) of
					// the 5000 also overshoots by the time its vCPU waits for
					// the host thread, which a loaded host stretches to
					// milliseconds: the upper bound is judged on a quiet host.
					switch {
					case ms < 4500:
						t.Errorf("cpu %d: mdelay(5000) took %d ms, want 5000 ms ±10%%", cpu, ms)
					case ms > 5500 && busy:
						t.Logf("cpu %d: mdelay(5000) took %d ms; the host is too busy (load %.1f) to hold it to 5500 ms", cpu, ms, load)
					case ms > 5500:
						t.Errorf("cpu %d: mdelay(5000) took %d ms, want 5000 ms ±10%%", cpu, ms)
					}
				}
			}
			t.Logf("insmod took %v on the host", res.Duration)
			if len(took) != 2 {
				t.Errorf("want a measurement per CPU, got %v from %v", took, res.Log)
			}
			if res.Duration < 9*time.Second {
				t.Errorf("insmod of two mdelay(5000) took %v on the host's clock", res.Duration)
			}
		})
	}
}

// loadAverage is the host's load average over the last minute.
func loadAverage(t *testing.T) float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		t.Fatal(err)
	}
	var l float64
	fmt.Sscan(string(b), &l)
	return l
}

// TestConcurrentSave: two targets (as two kmodcheck processes would) that
// want the same state at once save it once and both restore it.
func TestConcurrentSave(t *testing.T) {
	dir := cache.Dir(t.TempDir())
	var tgs [2]*qemu.Target
	for i := range tgs {
		tgs[i] = vmTarget(t, "", qemu.BootSnapshot)
		tgs[i].Cache = dir
	}
	tgs[1].Accel = "tcg" // skip the second probe; the first decides
	if tgs[0].Accel == "" || tgs[0].Accel == "auto" {
		tgs[0].Accel = "tcg"
	}
	var sessions [2]target.Session
	errs := make(chan error, 2)
	for i := range tgs {
		go func() {
			s, err := tgs[i].Start(context.Background(), target.Case{Name: fmt.Sprint("case", i), WorkDir: t.TempDir()})
			sessions[i] = s
			errs <- err
		}()
	}
	for range tgs {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range sessions {
		defer s.Close(context.Background())
	}
	if a, b := restoredFrom(t, sessions[0]), restoredFrom(t, sessions[1]); a != b {
		t.Errorf("restored %s and %s", a, b)
	}
	left, _ := filepath.Glob(dir.Path("state", "*"))
	var states []string
	for _, f := range left {
		if strings.HasSuffix(f, ".part") {
			t.Errorf("a partial state was left: %s", f)
		}
		if strings.HasSuffix(f, ".state") {
			states = append(states, filepath.Base(f))
		}
	}
	if len(states) != 1 {
		t.Errorf("states saved: %v, want one", states)
	}
	// The memory file keeps its pages of zeros as holes: a restore reads a
	// hole as zeros, and a state takes a third of the room. 63% of its
	// blocks on disk held only zeros before; fallocate's one pass leaves
	// some (9 to 509 blocks of 27,000 here; a second pass finds them).
	for _, f := range left {
		if strings.HasSuffix(f, ".ram") {
			if zero, data := zeroBlocks(t, f); zero*20 > data {
				t.Errorf("%s: %d of its %d blocks on disk hold only zeros, want at most 5%%", f, zero, data)
			}
		}
	}
}

// zeroBlocks counts the 4 KiB blocks of file on disk (not in a hole), and
// those of them that hold only zeros.
func zeroBlocks(t *testing.T, file string) (zero, data int) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	block := make([]byte, 4096)
	for off := int64(0); off < fi.Size(); {
		start, err := f.Seek(off, unix.SEEK_DATA)
		if err != nil {
			break // no data after off
		}
		end, err := f.Seek(start, unix.SEEK_HOLE)
		if err != nil {
			t.Fatal(err)
		}
		for p := start; p < end; p += int64(len(block)) {
			n, err := f.ReadAt(block, p)
			if n == 0 && err != nil {
				t.Fatal(err)
			}
			data++
			if bytes.Count(block[:n], []byte{0}) == n {
				zero++
			}
		}
		off = end
	}
	return zero, data
}
