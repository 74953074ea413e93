package host

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kmodcheck/kmodcheck/runner/kmsg"
	"github.com/kmodcheck/kmodcheck/runner/local"
	"github.com/kmodcheck/kmodcheck/runner/target"
)

// TestStepLogWritesNothing runs steps on this machine's kernel, one of
// which writes a line into the kernel log: the step gets that line, with
// the task that wrote it where the host can trace, and the kernel log gets
// nothing from kmodcheck (before, each step wrote two markers into it,
// which the reader's dmesg on the runner showed).
func TestStepLogWritesNothing(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("reads and writes /dev/kmsg: needs root")
	}
	ctx := context.Background()
	s, err := (&Target{StepTimeout: time.Minute}).Start(ctx, target.Case{Name: "log", WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	start := nextSeq()
	text := fmt.Sprintf("kmodcheck host test %d", time.Now().UnixNano())
	steps := []string{"true", "echo '<6>" + text + "' > /dev/kmsg", "true"}
	var got []string
	for _, line := range steps {
		res, err := s.Run(ctx, target.Step{Line: line, Dir: t.TempDir()})
		if err != nil || res.Exit != 0 {
			t.Fatalf("%s: exit %d, %v: %s", line, res.Exit, err, res.Stderr)
		}
		for _, r := range res.Log {
			got = append(got, fmt.Sprintf("%s: %q by %q", line, r.Text, r.Task))
		}
	}
	info, _ := s.Ready(ctx)
	t.Logf("records: %q; notes %q", got, info.Notes)
	if len(got) != 1 || !strings.Contains(got[0], text) {
		t.Errorf("the steps' records: %q, want the one line the second step wrote", got)
	} else if info.Notes == nil && !strings.HasSuffix(got[0], `by "bash"`) && !strings.HasSuffix(got[0], `by "sh"`) {
		t.Errorf("the line is not the shell's: %s", got[0]) // where the host can trace
	}
	recs, _ := readKmsg()
	for _, r := range recs {
		if r.Seq >= start && strings.HasPrefix(r.Text, "kmodcheck:") {
			t.Errorf("kmodcheck wrote into the kernel log: %q", r.Text)
		}
	}
}

// TestStaleTraceRemoved: a trace instance of a kmodcheck that no longer
// runs (SIGKILLed: it could not remove it) goes when a case starts; one of
// a kmodcheck still running stays.
func TestStaleTraceRemoved(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("makes trace instances: needs root")
	}
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	parent := os.Getppid() // go test's own process: alive
	var dirs []string
	for _, pid := range []int{gone.Process.Pid, parent} {
		dir := filepath.Join(local.TraceRoot, "instances", fmt.Sprintf("%s%d", tracePrefix, pid))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Skipf("cannot make a trace instance here: %v", err)
		}
		dirs = append(dirs, dir)
		t.Cleanup(func() { os.Remove(dir) })
	}
	ctx := context.Background()
	s, err := (&Target{}).Start(ctx, target.Case{Name: "stale", WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	s.Close(ctx)
	if _, err := os.Stat(dirs[0]); err == nil {
		t.Errorf("%s, of a process that has exited, is still there", dirs[0])
	}
	if _, err := os.Stat(dirs[1]); err != nil {
		t.Errorf("%s, of a running process, was removed: %v", dirs[1], err)
	}
}

// nextSeq is the sequence number the kernel's next log record will have.
func nextSeq() uint64 {
	recs, _ := readKmsg()
	if len(recs) == 0 {
		return 0
	}
	return recs[len(recs)-1].Seq + 1
}

// readKmsg reads every record the kernel still holds, without blocking.
func readKmsg() ([]kmsg.Record, error) {
	fd, err := unix.Open("/dev/kmsg", unix.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/kmsg: %w", err)
	}
	defer unix.Close(fd)
	var recs []kmsg.Record
	buf := make([]byte, 8192)
	for {
		n, err := unix.Read(fd, buf)
		if err == unix.EPIPE {
			continue
		}
		if err != nil || n <= 0 {
			return recs, nil
		}
		if r, err := kmsg.ParseRecord(strings.TrimRight(string(buf[:n]), "\n")); err == nil {
			recs = append(recs, r)
		}
	}
}
