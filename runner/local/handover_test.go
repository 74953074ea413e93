package local

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestHandover: what root writes in the work directory between steps
// becomes the reader's; what a step made root's stays root's.
func TestHandover(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	const reader = 65534
	dir := t.TempDir()
	owner := func(path string) uint32 {
		t.Helper()
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Sys().(*syscall.Stat_t).Uid
	}
	write := func(path string) string {
		t.Helper()
		p := filepath.Join(dir, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if err := GiveTree(dir, reader, reader); err != nil {
		t.Fatal(err)
	}
	h := Handover{Dir: dir, UID: reader, GID: reader}
	// A step, with sudo, makes a file root's.
	bySudo := write("installed")
	if err := h.After(); err != nil {
		t.Fatal(err)
	}
	// Between steps, builtins make a directory and a file in it.
	byBuiltin := write("sub/hello.txt")
	if err := h.Before(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Dir(byBuiltin), byBuiltin} {
		if got := owner(p); got != reader {
			t.Errorf("%s: owner %d, want the reader's %d", p, got, reader)
		}
	}
	if got := owner(bySudo); got != 0 {
		t.Errorf("%s, made root's by a step: owner %d, want 0", bySudo, got)
	}
	// The zero Handover does nothing.
	var none Handover
	write("other")
	if err := errors.Join(none.Before(), none.After()); err != nil || owner(filepath.Join(dir, "other")) != 0 {
		t.Errorf("zero Handover: %v, owner %d", err, owner(filepath.Join(dir, "other")))
	}
}
