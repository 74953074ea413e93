package host

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/kmodcheck/kmodcheck/runner/local"
)

// The reader is the user who ran kmodcheck with sudo: not root, and not
// anyone when kmodcheck was run as root itself.
func TestSudoReader(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("sudo's variables name a reader only to root")
	}
	for _, c := range []struct {
		uid, gid string
		want     string // the reader's name; "" for none
	}{
		{"65534", "65534", "nobody"},
		{"0", "0", ""},
		{"", "", ""},
		{"x", "1", ""},
	} {
		t.Setenv("SUDO_UID", c.uid)
		t.Setenv("SUDO_GID", c.gid)
		r, home, ok := sudoReader()
		if ok != (c.want != "") || r.Name != c.want {
			t.Errorf("SUDO_UID=%q: reader %+v, %v; want %q", c.uid, r, ok, c.want)
		}
		if ok && (r.UID != 65534 || r.GID != 65534 || home == "") {
			t.Errorf("SUDO_UID=%q: reader %+v, home %q", c.uid, r, home)
		}
	}
}

// A user whose sudo would ask for a password (nobody is in no sudoers
// file) cannot be the reader: a step's sudo would wait at the prompt.
func TestReaderSudoAsksPassword(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run as another user")
	}
	if _, err := exec.LookPath("sudo"); err != nil {
		t.Skip("no sudo here")
	}
	why := readerSudo(context.Background(), "/", local.LoginEnv("nobody", "/nonexistent"), local.UserCred(65534, 65534))
	if why == "" {
		t.Fatal("nobody's sudo asks no password")
	}
	t.Log(why)
	if why := readerSudo(context.Background(), "/", local.LoginEnv("root", "/root"), local.UserCred(0, 0)); why != "" {
		t.Errorf("root's sudo: %s", why)
	}
}
