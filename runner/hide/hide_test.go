package hide

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestScrubShadow(t *testing.T) {
	in := "root:$y$j9T$abc$def:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\nsudo:!:alice,bob\nodd\nshort:x"
	want := "root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\nsudo:*:alice,bob\nodd\nshort:*"
	if got := string(ScrubShadow([]byte(in))); got != want {
		t.Errorf("ScrubShadow =\n%s\nwant\n%s", got, want)
	}
}

func TestReaderEnv(t *testing.T) {
	got := ReaderEnv([]string{"HOME=/root", "GITHUB_TOKEN=x", "LC_ALL=C", "LANG=C.UTF-8", "LANGUAGE=de", "AWS_SECRET_ACCESS_KEY=y", "PATH=/bin", "MAKEFLAGS=-j2"}, "en_US.UTF-8")
	if want := []string{"HOME=/root", "PATH=/bin", "LANG=en_US.UTF-8"}; !slices.Equal(got, want) {
		t.Errorf("ReaderEnv = %q, want %q", got, want)
	}
}

func TestScanPrivate(t *testing.T) {
	root := t.TempDir()
	for path, mode := range map[string]fs.FileMode{
		"etc/postgresql/pg_hba.conf": 0o600, // found: a service's secret no list names
		"etc/hostname":               0o644,
		"etc/sudoers":                0o440, // kept: sudo reads it
		"etc/shadow":                 0o640, // scrubbed instead
		"var/lib/db/secret/key":      0o600, // in a private directory: the directory is found
		"var/lib/dpkg/lock":          0o600, // empty: nothing to read
		"root/.ssh/id_ed25519":       0o600, // in Dirs already
		"usr/lib/helper":             0o4750,
		"tmp/x":                      0o600,
		"boot/System.map":            0o600,
	} {
		full := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		data := []byte("secret")
		if strings.HasSuffix(path, "lock") {
			data = nil
		}
		if err := os.WriteFile(full, data, mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(full, mode) // whatever the umask
	}
	os.Chmod(filepath.Join(root, "var/lib/db/secret"), 0o700)
	os.Symlink("/etc/postgresql/pg_hba.conf", filepath.Join(root, "etc/link"))
	got, err := ScanPrivate(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	want := Private{Dirs: []string{"/var/lib/db/secret"}, Files: []string{"/boot/System.map", "/etc/postgresql/pg_hba.conf"}}
	if !slices.Equal(got.Dirs, want.Dirs) || !slices.Equal(got.Files, want.Files) {
		t.Errorf("ScanPrivate = %+v, want %+v", got, want)
	}
}
