package local

import (
	"os"
	"os/exec"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/kmodcheck/kmodcheck/runner/kmsg"
)

// TestMarkExited marks the last record of a process that has exited (run
// and reaped, or a zombie not yet reaped), and not its earlier records,
// nor those of one that runs, printed in interrupt context or by an
// unknown task.
func TestMarkExited(t *testing.T) {
	reaped := exec.Command("true")
	if err := reaped.Run(); err != nil {
		t.Fatal(err)
	}
	// A child that has exited but is not reaped yet is a zombie: its
	// /proc entry is still there. waitid(WNOWAIT) waits for its exit and
	// leaves it unreaped.
	zombie := exec.Command("true")
	if err := zombie.Start(); err != nil {
		t.Fatal(err)
	}
	defer zombie.Wait()
	var info unix.Siginfo
	if err := unix.Waitid(unix.P_PID, zombie.Process.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil); err != nil {
		t.Fatalf("wait for %d: %v", zombie.Process.Pid, err)
	}

	self := os.Getpid()
	recs := []kmsg.Record{
		{PID: self, Task: "local.test"},
		{PID: reaped.Process.Pid, Task: "true"},
		{PID: zombie.Process.Pid, Task: "sh"},
		{PID: reaped.Process.Pid, Context: kmsg.Softirq},
		{Text: "unattributed"},
		{PID: reaped.Process.Pid, Task: "true"},
	}
	markExited(recs)
	for i, want := range []bool{false, false, true, false, false, true} {
		if recs[i].Exited != want {
			t.Errorf("record %d (pid %d, %q): Exited = %v, want %v", i, recs[i].PID, recs[i].Context, recs[i].Exited, want)
		}
	}
}
