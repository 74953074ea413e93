package kernel

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmodcheck/kmodcheck/runner/cache"
	"github.com/kmodcheck/kmodcheck/runner/local"
	"golang.org/x/sys/unix"
)

// mountingMmdebstrap is an mmdebstrap that does what the real one does in
// root mode when its unmount fails or it is killed: it makes a root and
// leaves a file system mounted in it.
const mountingMmdebstrap = `#!/bin/sh
set -e
for a; do
	case $a in
	-*) ;;
	*) if [ -z "$suite" ]; then suite=$a; elif [ -z "$target" ]; then target=$a; fi ;;
	esac
done
mkdir -p "$target/sys" "$target/usr/bin" "$target/var/lib/dpkg"
echo "a shell of $suite" > "$target/usr/bin/sh"
echo "Package: $*" > "$target/var/lib/dpkg/status"
mount -t tmpfs kmodcheck-test-left "$target/sys"
`

// TestRootsMountsStayInside makes a root with an mmdebstrap that leaves a
// mount in it: the mount must not reach the host, where it would stay in
// the finished root (and a machine linked from it would meet another file
// system), nor outlive mmdebstrap.
func TestRootsMountsStayInside(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mmdebstrap mounts only as root")
	}
	bin := t.TempDir()
	if err := local.WriteProgram(filepath.Join(bin, "mmdebstrap"), []byte(mountingMmdebstrap)); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	c := cache.Dir(t.TempDir())
	t.Cleanup(func() { unmountBelow(string(c)) }) // what the test found left
	rel := "7.3.4+deb13-amd64"
	kroot := filepath.Join(string(c), "kernels", rel)
	makeFakeRoot(t, kroot, fakeKernel{release: rel, image: rel, modules: rel, headers: rel})
	os.WriteFile(filepath.Join(kroot, metaFile), []byte(`{"suite":"trixie-backports"}`), 0o644)
	a := &Archive{URL: "http://archive.example/debian", SecurityURL: "http://archive.example/debian-security", Keyring: "/k.gpg", Cache: c}
	r := &Roots{Archive: a, Cache: c}
	base, err := r.base(context.Background(), inspect(kroot, rel))
	if err != nil {
		t.Fatal(err)
	}
	if left := mountsBelow(string(c)); len(left) > 0 {
		t.Fatalf("the root %s was made with mounts left in the host's namespace:\n%s", base, strings.Join(left, "\n"))
	}
}

// mountsBelow lists the host's mount points below dir.
func mountsBelow(dir string) []string {
	info, _ := os.ReadFile("/proc/self/mountinfo")
	var below []string
	for _, l := range strings.Split(string(info), "\n") {
		if f := strings.Fields(l); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			below = append(below, f[4])
		}
	}
	return below
}

func unmountBelow(dir string) {
	for _, m := range mountsBelow(dir) {
		exec.Command("umount", "--lazy", m).Run()
	}
}

// TestMachineSkipsMountsInRoot makes a machine from a userland root that
// has a file system mounted in it, as an older kmodcheck's mmdebstrap left
// its sysfs: the machine is made, and that directory is empty in it (a
// hard link cannot cross file systems, and what is mounted there is not the
// root's).
func TestMachineSkipsMountsInRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounts a tmpfs: root only")
	}
	c := cache.Dir(t.TempDir())
	t.Cleanup(func() { unmountBelow(string(c)) })
	rel := "7.3.4+deb13-amd64"
	kroot := filepath.Join(string(c), "kernels", rel)
	makeFakeRoot(t, kroot, fakeKernel{release: rel, image: rel, modules: rel, headers: rel})
	os.WriteFile(filepath.Join(kroot, metaFile), []byte(`{"suite":"trixie-backports"}`), 0o644)
	k := inspect(kroot, rel)
	a := &Archive{URL: "http://archive.example/debian", SecurityURL: "http://archive.example/debian-security", Keyring: "/k.gpg", Cache: c}
	r := &Roots{Archive: a, Cache: c, Run: (&fakeMmdebstrap{}).run}
	base, err := r.base(context.Background(), k)
	if err != nil {
		t.Fatal(err)
	}
	sys := filepath.Join(base, "sys")
	if err := os.MkdirAll(sys, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("left", sys, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sys, "bind"), []byte("not the root's"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := r.Machine(context.Background(), k)
	if err != nil {
		t.Fatalf("a machine from a root with a mount in it: %v", err)
	}
	if entries, err := os.ReadDir(filepath.Join(m, "sys")); err != nil || len(entries) > 0 {
		t.Errorf("the machine's /sys: %v, %v; want an empty directory", entries, err)
	}
	if _, err := os.Stat(filepath.Join(m, "usr/bin/sh")); err != nil {
		t.Errorf("the rest of the root was not linked: %v", err)
	}
}
