package scratch

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestRemoveStale: the directories of a process that is gone are removed,
// this process's stay, and so do names Dir did not make and those of
// another PID namespace (a VM's view of the host's, say), where the PID
// means another process.
func TestRemoveStale(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	dead := filepath.Join(os.TempDir(), fmt.Sprintf("kmodcheck-vm-%d-%s-123", gone.Process.Pid, pidSpace()))
	other := filepath.Join(os.TempDir(), "kmodcheck-vm-4567") // no PID: not Dir's
	elsewhere := filepath.Join(os.TempDir(), fmt.Sprintf("kmodcheck-shell-%d-0badf00d-89", gone.Process.Pid))
	for _, d := range []string{dead, other, elsewhere, filepath.Join(dead, "upper", "etc")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mine, err := Dir("case")
	if err != nil {
		t.Fatal(err)
	}
	removed := RemoveStale()
	if len(removed) != 1 || removed[0] != dead {
		t.Errorf("removed %q, want only %s", removed, dead)
	}
	for d, want := range map[string]bool{dead: false, other: true, elsewhere: true, mine: true} {
		if _, err := os.Stat(d); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", d, err == nil, want)
		}
	}
}
