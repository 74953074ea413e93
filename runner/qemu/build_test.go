package qemu

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kmodcheck/kmodcheck/runner/hide"
	"github.com/kmodcheck/kmodcheck/runner/local"
	"github.com/kmodcheck/kmodcheck/runner/proto"
)

func TestWrapNS(t *testing.T) {
	got := wrapNS("/usr/bin/kmodcheck", "/tmp/x/build machine.json", `make -C "/a b" 'c'`, true, true)
	want := `KMODCHECK_GUEST=view KMODCHECK_VIEW='/tmp/x/build machine.json' exec unshare --mount --propagation private --net --uts --ipc --pid --fork --kill-child --map-root-user -- /usr/bin/kmodcheck 'make -C "/a b" '\''c'\'''`
	if got != want {
		t.Errorf("wrapNS =\n%s\nwant\n%s", got, want)
	}
	out, err := exec.Command("/bin/sh", "-c", "printf '%s\\n' "+shellQuote(`it's "x" $y`)).Output()
	if err != nil || string(out) != "it's \"x\" $y\n" {
		t.Errorf("shellQuote round trip: %q, %v", out, err)
	}
}

func TestBuildMachineViewRefuses(t *testing.T) {
	if _, err := buildMachineView(buildMachine{Root: filepath.Join(t.TempDir(), "none"), Release: "6.12.1-amd64"}); err == nil {
		t.Error("buildMachineView accepted a machine root that is not there")
	}
	bad := filepath.Join(t.TempDir(), "a:b")
	os.MkdirAll(filepath.Join(bad, "usr"), 0o755)
	if _, err := buildMachineView(buildMachine{Root: bad, Release: "6.12.1-amd64", Upper: "/u", OvlWork: "/w"}); err == nil || !strings.Contains(err.Error(), "colon") {
		t.Errorf("buildMachineView with a colon in the root: %v", err)
	}
}

// TestBuildMachine runs build steps on a machine made of the host's root,
// as a system kernel's builds run: a step sees the root, uname -r names
// the target's release, a step's writes outside the work directory (a
// make install into /lib/modules) land in the case's upper directory and
// are seen by the next step, and never reach the host; writes into the
// work directory do. It needs root, or unprivileged user namespaces and
// overlayfs.
func TestBuildMachine(t *testing.T) {
	m, step := hostMachine(t)
	extra := "/lib/modules/" + m.Release + "/extra"
	out := step("mkdir -p " + extra + " && echo module > " + extra + "/hi.ko && uname -r && pwd && echo built > hi.ko")
	if want := m.Release + "\n" + m.Work + "\n"; out != want {
		t.Errorf("first step printed %q, want %q", out, want)
	}
	if out := step("cat " + extra + "/hi.ko"); out != "module\n" {
		t.Errorf("the next step reads %q from %s/hi.ko, want what the first wrote", out, extra)
	}
	if _, err := os.Stat(extra); err == nil {
		t.Errorf("%s reached the host", extra)
	}
	found, _ := filepath.Glob(filepath.Join(m.Upper, "*", "*", "modules", m.Release, "extra", "hi.ko"))
	more, _ := filepath.Glob(filepath.Join(m.Upper, "*", "modules", m.Release, "extra", "hi.ko"))
	if len(found)+len(more) != 1 {
		t.Errorf("hi.ko is not in the upper directory %s once: %v %v", m.Upper, found, more)
	}
	if b, err := os.ReadFile(filepath.Join(m.Work, "hi.ko")); err != nil || string(b) != "built\n" {
		t.Errorf("the work directory's hi.ko: %q, %v", b, err)
	}
}

// hostMachine puts together a build machine of the host's root, as a
// system kernel's, and returns it with a function that runs a line on it
// and returns its output.
func hostMachine(t testing.TB) (buildMachine, func(line string) string) {
	t.Helper()
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("no unshare")
	}
	tmp := t.TempDir()
	m := buildMachine{Root: "/", Release: "9.9.9-kmodcheck-test", Work: t.TempDir(), Private: tmp}
	for _, d := range []*string{&m.Upper, &m.OvlWork, &m.Mount, &m.Bin} {
		*d = filepath.Join(tmp, map[*string]string{&m.Upper: "upper", &m.OvlWork: "ovlwork", &m.Mount: "mnt", &m.Bin: "bin"}[d])
		os.MkdirAll(*d, 0o755)
	}
	local.WriteProgram(filepath.Join(m.Bin, "uname"), []byte("#!/bin/sh\n[ \"$*\" = -r ] && { echo "+m.Release+"; exit 0; }\nexec /bin/uname \"$@\"\n"))
	var err error
	if m.Scrubbed, err = scrubShadowFiles(m.Root, filepath.Join(tmp, "scrubbed")); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(tmp, buildView)
	if err := writeBuildView(m, file); err != nil {
		t.Fatal(err)
	}
	agent, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return m, func(line string) string {
		t.Helper()
		cmd := exec.Command("/bin/sh", "-c", wrapNS(agent, file, line, os.Geteuid() != 0, true))
		cmd.Dir = m.Work
		cmd.Env = append(os.Environ(), "PWD="+m.Work)
		out, err := cmd.CombinedOutput()
		if err != nil {
			if strings.Contains(string(out), "kmodcheck: cannot put") || strings.Contains(string(out), "unshare:") {
				t.Skipf("no private mounts here: %s", out)
			}
			t.Fatalf("%s: %v: %s", line, err, out)
		}
		return string(out)
	}
}

// TestBuildMachineConfined checks what a build step cannot reach on a
// machine of the host's root: capabilities, the network, the host's
// processes, devices and users' files, password hashes, and the kernel's
// settings.
func TestBuildMachineConfined(t *testing.T) {
	_, step := hostMachine(t)
	checks := []struct{ line, want, why string }{
		{"grep ^CapEff: /proc/self/status", "CapEff:\t0000000000000000\n", "a build runs without capabilities"},
		{"grep ^NoNewPrivs: /proc/self/status", "NoNewPrivs:\t1\n", "a build cannot gain privileges (setuid programs)"},
		{"ls /sys/class/net", "lo\n", "a build has no network"},
		{"ls /dev | tr '\\n' ' '", "fd full null ptmx pts random shm stderr stdin stdout tty urandom zero ", "a build sees a few devices, no disks"},
		{"ls /proc | grep -c '^[0-9]' | awk '{print ($1 < 10)}'", "1\n", "a build sees its own processes only"},
		{"[ -w /proc/sys/kernel/hostname ] && echo writable || echo read-only", "read-only\n", "a build cannot change the kernel's settings"},
		{"[ -w /proc/sysrq-trigger ] && echo writable || echo read-only", "read-only\n", "a build cannot send the kernel a SysRq"},
		{"cut -d: -f2 /etc/shadow | sort -u", "*\n", "password hashes are scrubbed"},
		{"ls -A /root /home /etc/ssh /var/backups 2>/dev/null | grep -v -e '^/' -e '^$' | wc -l", "0\n", "users' files, keys and backups are hidden"},
	}
	// One step for all: each puts the machine together anew.
	var lines []string
	for _, c := range checks {
		lines = append(lines, "{ "+c.line+"; }; echo @@")
	}
	outs := strings.Split(step(strings.Join(lines, "; ")), "@@\n")
	for i, c := range checks {
		if got := outs[i]; got != c.want {
			t.Errorf("%s: %s printed %q, want %q", c.why, c.line, got, c.want)
		}
	}
	if entries, _ := os.ReadDir("/root"); len(entries) == 0 {
		t.Log("the host's /root is empty: its hiding is not shown here")
	}
}

// TestViewMounts checks the guest's view of the host's root: the whole
// root bound, the API directories fresh, hidden directories empty, hidden
// and root-only files empty, shadow files scrubbed.
func TestViewMounts(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"proc", "tmp", "var/tmp", "root", "etc/ssh"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	rootOnly := hide.Private{Dirs: []string{"/var/lib/db"}, Files: []string{"/etc/app/key"}}
	got := viewMounts("/vm/root", "/vm/empty", root, rootOnly, map[string]string{"/etc/shadow": "/vm/scrubbed/shadow"})
	want := []proto.Mount{
		{Source: root, Target: "/vm/root", Bind: true, Recursive: true},
		{Source: "kmodcheck", Target: "/vm/root/proc", Type: "tmpfs", Data: "mode=0755", Hides: true},
		{Source: "kmodcheck", Target: "/vm/root/tmp", Type: "tmpfs", Data: "mode=1777", Hides: true},
		{Source: "kmodcheck", Target: "/vm/root/var/tmp", Type: "tmpfs", Data: "mode=1777", Hides: true},
		{Source: "hidden", Target: "/vm/root/root", Type: "tmpfs", Data: "mode=0755", Hides: true},
		{Source: "hidden", Target: "/vm/root/etc/ssh", Type: "tmpfs", Data: "mode=0755", Hides: true},
		{Source: "hidden", Target: "/vm/root/var/lib/db", Type: "tmpfs", Data: "mode=0755", Hides: true},
		{Source: "/vm/empty", Target: "/vm/root/etc/app/key", Bind: true, Hides: true},
		{Source: "/vm/scrubbed/shadow", Target: "/vm/root/etc/shadow", Bind: true, Hides: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("viewMounts (-want +got):\n%s", diff)
	}
}

// TestMachineChanged: the empty top-level upper directories the build
// namespace makes are no change; anything in them, or beside them, is.
func TestMachineChanged(t *testing.T) {
	tops := func() string {
		dir := t.TempDir()
		for _, d := range []string{"etc", "usr", "root"} {
			if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	if machineChanged(tops()) {
		t.Errorf("empty top-level directories taken for a change")
	}
	for _, change := range []func(dir string) error{
		func(dir string) error { return os.WriteFile(filepath.Join(dir, "usr", "installed"), nil, 0o644) },
		func(dir string) error { return os.Mkdir(filepath.Join(dir, "etc", "new.d"), 0o755) },
		func(dir string) error { return os.Symlink("x", filepath.Join(dir, "root", "link")) },
		func(dir string) error { return os.WriteFile(filepath.Join(dir, "toplevel"), nil, 0o644) },
	} {
		dir := tops()
		if err := change(dir); err != nil {
			t.Fatal(err)
		}
		if !machineChanged(dir) {
			out, _ := exec.Command("find", dir).Output()
			t.Errorf("a change not seen:\n%s", out)
		}
	}
	if !machineChanged(filepath.Join(t.TempDir(), "missing")) {
		t.Errorf("an upper directory that cannot be read taken for no change")
	}
}

// BenchmarkBuildMachine times what a build step costs besides its line:
// putting the case's machine together (some sixty mounts) and running
// `true` there.
func BenchmarkBuildMachine(b *testing.B) {
	_, step := hostMachine(b)
	for b.Loop() {
		step("true")
	}
}
