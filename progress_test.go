package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/kmodcheck/kmodcheck/runner/report"
	"github.com/kmodcheck/kmodcheck/runner/targettest"
)

// TestProgressOnTerminal runs one case with kmodcheck's standard output a
// terminal and reads the screen as it changes: the case's line shows its
// stage (booting, building, the step running, comparing a golden) with
// its times, rewritten in place rather than added to, and the screen is
// left with the outcome and the summary only. It boots the kernel once.
func TestProgressOnTerminal(t *testing.T) {
	targettest.BootsVM(t)
	bin, err := exec.LookPath("kmodcheck") // this test binary, set up by TestMain
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "run", "-accel", options().Accel, "-run", "^well_behaved$", "-out", t.TempDir(), "testdata/faults/cases/")
	cmd.Env = append(os.Environ(), "TERM=xterm")
	const width = 120
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 30, Cols: width})
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()

	screen := &report.Screen{Width: width}
	var raw bytes.Buffer
	var frames [][]string // the screen after each read
	buf := make([]byte, 8192)
	for {
		n, err := tty.Read(buf)
		if n > 0 {
			raw.Write(buf[:n])
			screen.Write(buf[:n])
			frames = append(frames, screen.Lines())
		}
		if err != nil { // EIO once kmodcheck has exited
			break
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("kmodcheck run: %v\n%s", err, screen)
	}
	t.Logf("final screen:\n%s", screen)
	// What kmodcheck logs once (a delay loop calibrated, a state saved on
	// a machine that had none) stays above the live rows; the live rows
	// are the rest.
	final := screen.String()
	logged := map[string]bool{}
	for _, l := range strings.Split(final, "\n") {
		if strings.HasPrefix(l, "PASS") {
			break
		}
		logged[l] = true
	}
	live := func(frame []string) []string {
		return slices.DeleteFunc(slices.Clone(frame), func(l string) bool { return logged[l] })
	}

	// Every stage was drawn.
	for _, stage := range []string{"booting", "building: make", "running: sudo insmod ./fine.ko", "comparing: kmsg insmod", "running: sudo rmmod fine", "comparing: kmsg rmmod"} {
		if !bytes.Contains(raw.Bytes(), []byte("  "+stage)) {
			t.Errorf("the stage %q was never drawn", stage)
		}
	}

	// While it builds and boots (at once: the boot's line comes back when
	// the build is done and the kernel is not up yet), the case's line
	// stays on one row and the stage's time goes up: the line is
	// rewritten, not repeated.
	stageLine := regexp.MustCompile(`^  well_behaved \[\S+\]\s+(\d+\.\d)s  (booting|building: make) (\d+\.\d)s$`)
	row, last, seen := -1, map[string]float64{}, map[string]int{}
	for _, f := range frames {
		for i, l := range live(f) {
			m := stageLine.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			if row >= 0 && i != row {
				t.Fatalf("the case's line moved from row %d to %d:\n%s", row, i, strings.Join(f, "\n"))
			}
			row = i
			if v, _ := strconv.ParseFloat(m[3], 64); v > last[m[2]] {
				last[m[2]], seen[m[2]] = v, seen[m[2]]+1
			}
		}
	}
	if seen["booting"] < 3 && seen["building: make"] < 3 {
		t.Errorf("the booting and building lines showed %v different times, want one redrawn as time passes", seen)
	}
	maxRows := 0
	for _, f := range frames {
		if !strings.Contains(strings.Join(f, "\n"), "PASS") {
			maxRows = max(maxRows, len(live(f)))
		}
	}
	if redraws := bytes.Count(raw.Bytes(), []byte("\x1b[J")); redraws < 10 || maxRows > 2 {
		t.Errorf("%d redraws, and the screen grew to %d rows before the outcome: want the 2 rows (the case, the counts) redrawn in place", redraws, maxRows)
	}

	// At the end, only the outcome and the summary.
	for _, want := range []string{"PASS    well_behaved [", "artifacts: ", "ok: 1 passed, 0 failed, 0 skipped\n"} {
		if !strings.Contains(final, want) {
			t.Errorf("the final screen lacks %q", want)
		}
	}
	if regexp.MustCompile(`booting|running:|comparing:|building:|done \|`).MatchString(final) {
		t.Errorf("progress left on the final screen:\n%s", final)
	}
}
