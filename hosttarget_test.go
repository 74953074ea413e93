package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/local"
	"github.com/kmodcheck/kmodcheck/runner/targettest"
)

// TestHostTargetInVM runs the host target for real. This machine cannot
// load modules into its own kernel, so the test boots a VM (kmodcheck
// shell) and, as root in it, runs there what a privileged CI runner runs:
// kmodcheck run -target host on a fault fixture (an oops in a kernel
// thread: reported, and the module unloaded when the case ends), then go
// test -run TestCases . -args -target host (every seed case); before them,
// a run killed with SIGKILL, which its guard undoes (its steps' processes,
// the module they loaded, its trace instance); and no run writes a line
// into the kernel log. The binaries
// are this test binary, built on the host and copied with the cases into
// the shell's work directory; make runs in the guest, as the host target
// does, which under TCG takes most of the time (see docs/internals.md,
// "The host target, tested").
func TestHostTargetInVM(t *testing.T) {
	// A VM that builds four modules: minutes under TCG.
	targettest.BootsVM(t)
	t.Parallel() // one VM, mostly make under TCG: alongside TestCases and TestCLI
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The guest sees the host's root read-only, but with tmpfs over /tmp,
	// /home and the like, where a clone of this repository may well be; it
	// always sees the shell's work directory, at the same path. So the
	// binaries and what the runs read go there, once the shell names it.
	stage := func(work string) string {
		for _, dir := range []string{"cases", "modules", "golden", "testdata/hosttarget"} {
			if err := os.CopyFS(filepath.Join(work, "repo", dir), os.DirFS(dir)); err != nil {
				t.Errorf("copy %s into the shell's work directory: %v", dir, err)
			}
		}
		for _, name := range []string{"kmodcheck", "kmodcheck.test"} { // the command, and go test's binary
			if err := copyFile(self, filepath.Join(work, "bin", name)); err != nil {
				t.Errorf("copy %s: %v", name, err)
			}
		}
		return hostTargetScript
	}
	start := time.Now()
	_, out, errs := shellPiped(t, 30*time.Minute, stage)
	t.Logf("host target in a VM: %v in all", time.Since(start).Round(time.Second))
	result := map[string]int{}
	for _, m := range regexp.MustCompile(`@@(\w+)=(\d+) (\d+s)@@`).FindAllStringSubmatch(out.String(), -1) {
		result[m[1]], _ = strconv.Atoi(m[2])
		t.Logf("%s: status %s after %s", m[1], m[2], m[3])
	}
	if result["nullderef"] == 0 {
		t.Errorf("the fault's report does not name the NULL dereference")
	}
	// A run SIGKILLed while its trace instance is there (killedtrace) is
	// undone by its guard: the instance (killedleft), what its steps left
	// running (killedjobs), the module they loaded (killedmodule); no
	// instance is left after the runs (staletraces); no run writes into
	// the kernel log (markers), not even where a step ends with a message
	// waiting for its newline (two seed modules print their last line at
	// rmmod without one): the step takes it from the printk trace.
	// The steps are the reader's, who ran kmodcheck with sudo (reader).
	for name, want := range map[string]int{"fault": 1, "oops": 1, "loaded": 0, "gotest": 0, "reader": 0,
		"killedtrace": 1, "killedleft": 0, "killedjobs": 0, "killedmodule": 0,
		"staletraces": 0, "markers": 0} {
		if got, ok := result[name]; !ok || got != want {
			t.Errorf("%s = %d (reported: %v), want %d", name, got, ok, want)
		}
	}
	// TestCases/RELEASE/CASE for each case in cases/, and TestCases/RELEASE.
	if cases, _ := filepath.Glob("cases/*.txtar"); result["gotestpass"] != len(cases)+1 {
		t.Errorf("%d TestCases subtests passed, want %d", result["gotestpass"], len(cases)+1)
	}
	if t.Failed() {
		t.Logf("shell output:\n%s\nstderr:\n%s", out.String(), errs.String())
	}
}

// hostTargetScript is what the guest's shell runs, in the work directory
// the test filled: each result is echoed as @@NAME=N TIMEs@@. The work
// directory, and what the runs wrote in it, goes when the shell exits.
// The shell is the reader's: a privileged CI runner's is root's (sudo -s).
const hostTargetScript = `exec sudo -s
W=$PWD; cd $W/repo; I=/sys/kernel/tracing/instances; marks0=$(dmesg | grep -c 'kmodcheck:'); t0=$(date +%s)
$W/bin/kmodcheck run -target host testdata/hosttarget/killed.txtar >$W/killed.out 2>&1 & k=$!
for i in $(seq 600); do pgrep -fx 'sleep 600' >/dev/null && break; sleep 0.1; done
echo "@@killedtrace=$(ls -d $I/kmodcheck-$k 2>/dev/null | wc -l) $(( $(date +%s) - t0 ))s@@"; kill -9 $k; wait $k; t0=$(date +%s)
for i in $(seq 100); do grep -q '^dummy ' /proc/modules || break; sleep 0.1; done
echo "@@killedleft=$(ls -d $I/kmodcheck-$k 2>/dev/null | wc -l) $(( $(date +%s) - t0 ))s@@"
echo "@@killedjobs=$(pgrep -fx 'sleep [67]00' | wc -l) 0s@@"
echo "@@killedmodule=$(grep -c '^dummy ' /proc/modules) 0s@@"; t0=$(date +%s)
$W/bin/kmodcheck run -target host -step-timeout 6m -json $W/fault.json testdata/hosttarget/oops_thread.txtar >$W/fault.out 2>&1; echo "@@fault=$? $(( $(date +%s) - t0 ))s@@"
echo "@@oops=$(grep -c 'the kernel reported an oops' $W/fault.out) 0s@@"
echo "@@nullderef=$(grep -c 'BUG: kernel NULL pointer dereference' $W/fault.out) 0s@@"
echo "@@loaded=$(grep -c '^oopsthread ' /proc/modules) 0s@@"; t0=$(date +%s)
$W/bin/kmodcheck run -target host testdata/hosttarget/reader.txtar >$W/reader.out 2>&1; echo "@@reader=$? $(( $(date +%s) - t0 ))s@@"; t0=$(date +%s)
$W/bin/kmodcheck.test -test.v -test.run '^TestCases$' -target host -step-timeout 6m >$W/gotest.out 2>&1; echo "@@gotest=$? $(( $(date +%s) - t0 ))s@@"
echo "@@gotestpass=$(grep -c -e '--- PASS: TestCases/' $W/gotest.out) 0s@@"
echo "@@staletraces=$(ls -d $I/kmodcheck-* 2>/dev/null | wc -l) 0s@@"
dmesg | grep 'kmodcheck:' | tail -n +$((marks0 + 1)) >$W/markers.out
echo "@@markers=$(grep -c 'kmodcheck:' $W/markers.out) 0s@@"
for f in $W/*.out; do echo "==> $f"; tail -n 60 $f; done
exit 0
`

// copyFile copies an executable file, making the directory it goes in.
func copyFile(from, to string) error {
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return local.WriteProgram(to, data)
}
