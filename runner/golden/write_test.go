package golden

import (
	"os"
	"path/filepath"
	"testing"
)

// TestWriteGoldenKeepsMode: -update rewrites a golden's lines, not its
// mode; a new golden is a plain text file.
func TestWriteGoldenKeepsMode(t *testing.T) {
	dir := t.TempDir()
	for _, mode := range []os.FileMode{0o640, 0o664} {
		path := filepath.Join(dir, "insmod.kmsg")
		if err := os.WriteFile(path, []byte("old\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		if err := Write(path, []byte("new\n")); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Mode().Perm(); got != mode {
			t.Errorf("mode %04o after the rewrite, want %04o", got, mode)
		}
		if b, _ := os.ReadFile(path); string(b) != "new\n" {
			t.Errorf("content %q", b)
		}
	}
	fresh := filepath.Join(dir, "sub", "rmmod.kmsg")
	if err := Write(fresh, []byte("x\n")); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(fresh); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("new golden: %v, %v; want mode 0644", st, err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".tmp-*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
