package local

import (
	"context"
	"os"
	"os/exec"
	"testing"
)

// A user whose sudo would ask for a password (nobody is in no sudoers
// file) cannot be a reader: a step's sudo would wait at the prompt.
// Root's asks none.
func TestSudoNoPassword(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run as another user")
	}
	if _, err := exec.LookPath("sudo"); err != nil {
		t.Skip("no sudo here")
	}
	err := SudoNoPassword(context.Background(), "/", LoginEnv("nobody", "/nonexistent", "C.UTF-8"), UserCred(65534, 65534))
	if err == nil {
		t.Fatal("nobody's sudo asks no password")
	}
	t.Log(err)
	if err := SudoNoPassword(context.Background(), "/", LoginEnv("root", "/root", "C.UTF-8"), UserCred(0, 0)); err != nil {
		t.Errorf("root's sudo: %v", err)
	}
}
