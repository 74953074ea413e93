package host

import (
	"os"
	"testing"
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
