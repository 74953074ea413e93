package qemu

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestOverlays(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"lib/modules/6.12.1-amd64", "usr/lib/linux-kbuild-6.12", "usr/src/linux-headers-6.12.1-amd64", "usr/share/doc", "boot"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	ovs, err := overlays(root)
	if err != nil {
		t.Fatal(err)
	}
	sysLib, _ := filepath.EvalSymlinks("/lib")
	sysUsrLib, _ := filepath.EvalSymlinks("/usr/lib")
	var want []overlay
	if sysLib == sysUsrLib { // merged /usr: one mount shows both
		want = []overlay{
			{sysUsrLib, []string{root + "/lib", root + "/usr/lib", sysUsrLib}},
		}
	} else {
		want = []overlay{
			{sysLib, []string{root + "/lib", sysLib}},
			{sysUsrLib, []string{root + "/usr/lib", sysUsrLib}},
		}
	}
	sysSrc, _ := filepath.EvalSymlinks("/usr/src")
	want = append(want, overlay{sysSrc, []string{root + "/usr/src", sysSrc}})
	if !reflect.DeepEqual(ovs, want) {
		t.Errorf("overlays = %+v\nwant %+v", ovs, want)
	}

	if _, err := buildNSScript(t.TempDir(), "6.12.1-amd64"); err == nil {
		t.Error("buildNSScript accepted a root with nothing to show")
	}
	bad := filepath.Join(t.TempDir(), "a:b")
	os.MkdirAll(filepath.Join(bad, "usr/src"), 0o755)
	if _, err := buildNSScript(bad, "6.12.1-amd64"); err == nil || !strings.Contains(err.Error(), "colon") {
		t.Errorf("buildNSScript with a colon in the root: %v", err)
	}
}

func TestWrapNS(t *testing.T) {
	got := wrapNS("/tmp/x/kmodcheck-buildns", `make -C "/a b" 'c'`, true)
	want := `exec unshare --mount --propagation private --map-root-user -- /tmp/x/kmodcheck-buildns 'make -C "/a b" '\''c'\'''`
	if got != want {
		t.Errorf("wrapNS =\n%s\nwant\n%s", got, want)
	}
	out, err := exec.Command("/bin/sh", "-c", "printf '%s\\n' "+shellQuote(`it's "x" $y`)).Output()
	if err != nil || string(out) != "it's \"x\" $y\n" {
		t.Errorf("shellQuote round trip: %q, %v", out, err)
	}
}

// TestBuildNamespace runs a command through the namespace script: it must
// see the fake root's files at their system paths, and the host must not.
// It needs root, or unprivileged user namespaces and overlayfs.
func TestBuildNamespace(t *testing.T) {
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("no unshare")
	}
	root := t.TempDir()
	name := "kmodcheck-test-" + filepath.Base(root)
	os.MkdirAll(filepath.Join(root, "usr/src", name), 0o755)
	os.WriteFile(filepath.Join(root, "usr/src", name, "Makefile"), []byte("all:\n\t@echo built\n"), 0o644)
	os.MkdirAll(filepath.Join(root, "lib/modules", name), 0o755)
	os.Symlink("/usr/src/"+name, filepath.Join(root, "lib/modules", name, "build"))
	script, err := buildNSScript(root, name)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), buildNS)
	if err := os.WriteFile(file, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	line := "cat /lib/modules/" + name + "/build/Makefile >/dev/null && ls /usr/src && echo pwd=$(pwd)"
	cmd := exec.Command("/bin/sh", "-c", wrapNS(file, line, os.Geteuid() != 0))
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "PWD="+cmd.Dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "kmodcheck: cannot show") || strings.Contains(string(out), "unshare:") {
			t.Skipf("no private mounts here: %s", out)
		}
		t.Fatalf("%v: %s", err, out)
	}
	if !strings.Contains(string(out), name) || !strings.Contains(string(out), "pwd="+cmd.Dir) {
		t.Errorf("inside the namespace: %s; want %s listed in /usr/src, in %s", out, name, cmd.Dir)
	}
	if _, err := os.Stat("/usr/src/" + name); err == nil {
		t.Errorf("/usr/src/%s is visible outside the build's namespace", name)
	}
}
