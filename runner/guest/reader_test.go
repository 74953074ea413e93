package guest

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/kmodcheck/kmodcheck/runner/proto"
)

// machineRoot writes a machine's /etc as Debian's has it, and returns its
// root.
func machineRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"etc/passwd":  "root:x:0:0:root:/root:/bin/bash\nsystemd-network:x:998:998::/:/usr/sbin/nologin\n",
		"etc/group":   "root:x:0:\nadm:x:4:\nsudo:x:27:alice\nsystemd-journal:x:999:\n",
		"etc/shadow":  "root:*:20000:0:99999:7:::\n",
		"etc/gshadow": "root:*::\n",
	}
	for _, d := range []string{"etc/sudoers.d", "etc/profile.d", "home", "bin"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(root, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAddReader makes the reader a user of a machine as adduser makes its
// first user, with sudo and the groups that read the system log.
func TestAddReader(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("gives the reader their home directory: needs root")
	}
	root := machineRoot(t)
	r := proto.Reader{Name: "reader", UID: 1000, GID: 1000}
	if err := addReader(root, r); err != nil {
		t.Fatal(err)
	}
	at := func(p string) string { return filepath.Join(root, p) }
	for file, want := range map[string]string{
		"etc/passwd":  "reader:x:1000:1000:kmodcheck's reader,,,:/home/reader:/bin/sh\n",
		"etc/shadow":  "reader:*:",
		"etc/gshadow": "reader:!::\n",
		"etc/group":   "adm:x:4:reader\nsudo:x:27:alice,reader\nsystemd-journal:x:999:reader\nreader:x:1000:\n",
	} {
		if got := readFile(t, at(file)); !strings.Contains(got, want) {
			t.Errorf("%s:\n%s\nwant it to hold %q", file, got, want)
		}
	}
	if got := readFile(t, at(sudoersReader)); !strings.Contains(got, "\nreader ALL=(ALL:ALL) NOPASSWD: ALL\n") {
		t.Errorf("sudoers: %q", got)
	}
	if got := readFile(t, at(profileReaderPath)); !strings.Contains(got, "PATH=/usr/local/sbin:") {
		t.Errorf("profile: %q", got)
	}
	fi, err := os.Stat(at("home/reader"))
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 1000 || st.Gid != 1000 {
		t.Errorf("home owned by %d:%d, want 1000:1000", st.Uid, st.Gid)
	}
}

// TestAddReaderKeepsTheMachinesUser: a machine that has a user of the
// reader's ID (kmodcheck run by that user) keeps it, and it gets sudo.
func TestAddReaderKeepsTheMachinesUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	root := machineRoot(t)
	passwd := filepath.Join(root, "etc/passwd")
	before := readFile(t, passwd) + "alice:x:1000:1000:Alice:/home/alice:/bin/bash\n"
	if err := os.WriteFile(passwd, []byte(before), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := addReader(root, proto.Reader{Name: "alice", UID: 1000, GID: 1000}); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, passwd); got != before {
		t.Errorf("passwd changed:\n%s", got)
	}
	if got := readFile(t, filepath.Join(root, "etc/group")); !strings.Contains(got, "sudo:x:27:alice\n") || strings.Contains(got, "alice,alice") {
		t.Errorf("group:\n%s", got)
	}
}
