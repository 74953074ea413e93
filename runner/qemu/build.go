package qemu

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/kmodcheck/kmodcheck/runner/hide"
	"github.com/kmodcheck/kmodcheck/runner/local"
	"github.com/kmodcheck/kmodcheck/runner/scratch"
	"github.com/kmodcheck/kmodcheck/runner/target"
)

// buildNS is the name of the script that runs a build step on the case's
// machine; it lives beside the uname.
const buildNS = "kmodcheck-buildns"

// Where a build step's chroot finds the uname that reports the target's
// release: first on its PATH.
const (
	chrootBin  = "/run/kmodcheck/bin"
	chrootPath = chrootBin + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// A caseBuild is one case's build side: the overlays of its machine
// (whose changes the guest takes before its next step), the uname that
// reports the target's release and the namespace script, in a directory
// of the case's own. It is made before the case's VM starts and outlives
// every boot attempt, so that builds run while the VM boots.
type caseBuild struct {
	dir    string // the case's directory
	script string // the namespace script (buildNSScript)
	upper  string // the overlays' upper directories: the machine's changes
}

// newCaseBuild makes the build side of a case whose work directory is
// work, on the machine root of release (hiding rootOnly of it).
func newCaseBuild(release, root, work string, rootOnly hide.Private) (*caseBuild, error) {
	dir, err := scratch.Dir("case")
	if err != nil {
		return nil, err
	}
	b := &caseBuild{dir: dir, script: filepath.Join(dir, "bin", buildNS), upper: filepath.Join(dir, "upper")}
	if err := b.write(release, root, work, rootOnly); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("the build's machine for %s: %w", release, err)
	}
	return b, nil
}

// write writes the uname that builds see first on PATH, which reports
// release for -r, so the tutorial's unchanged Makefile
// (make -C /lib/modules/$(shell uname -r)/build) builds for the target,
// and the build namespace script (see run).
func (b *caseBuild) write(release, root, work string, rootOnly hide.Private) error {
	bin := filepath.Dir(b.script)
	script := fmt.Sprintf("#!/bin/sh\n# kmodcheck: the kernel under test is %s\n[ \"$*\" = -r ] && { echo %s; exit 0; }\nexec /bin/uname \"$@\"\n",
		release, release)
	for _, d := range []string{bin, b.upper, filepath.Join(b.dir, "ovlwork"), filepath.Join(b.dir, "mnt")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(bin, "uname"), []byte(script), 0o755); err != nil {
		return err
	}
	m := buildMachine{
		Root: root, Release: release, Work: work,
		Upper: b.upper, OvlWork: filepath.Join(b.dir, "ovlwork"),
		Mount: filepath.Join(b.dir, "mnt"), Bin: bin, Private: b.dir,
		RootOnly: rootOnly,
	}
	var err error
	if m.Scrubbed, err = scrubShadowFiles(m.Root, filepath.Join(b.dir, "scrubbed")); err != nil {
		return err
	}
	ns, err := buildNSScript(m)
	if err != nil {
		return err
	}
	return os.WriteFile(b.script, []byte(ns), 0o755)
}

// run runs a build step on the host, where it is fast, on the case's
// machine: chrooted into the kernel's release root (the host's root for
// a system kernel) under an overlay whose changes are the case's own, with
// uname -r reporting the target's release. What the step writes outside
// the work directory (make install into /lib/modules) lands in the
// overlay, never on the host, and reaches the guest before its next step.
// The step reaches nothing else of the host: it runs without capabilities
// and network, sees only its own processes, a few devices, the host's
// /sys read-only, the machine with hide.Dirs empty and password
// hashes scrubbed, and a reader's environment (hide.ReaderEnv).
func (b *caseBuild) run(ctx context.Context, step target.Step) target.Result {
	wrapped := step
	wrapped.Line = wrapNS(b.script, step.Line, os.Geteuid() != 0)
	res := local.RunSh(ctx, wrapped, hide.ReaderEnv(local.HostEnv()))
	res.Step = step
	return res
}

// changed says whether the case's builds changed its machine outside the
// work directory (machineChanged).
func (b *caseBuild) changed() bool { return machineChanged(b.upper) }

// hostLine is the shell line that runs line as the case's build steps
// run, for a user at the host's shell.
func (b *caseBuild) hostLine(line string) string {
	return strings.TrimPrefix(wrapNS(b.script, line, os.Geteuid() != 0), "exec ")
}

func (b *caseBuild) remove() error { return os.RemoveAll(b.dir) }

// machineChanged says whether builds left anything in the overlays' upper
// directories besides the empty top-level ones the build namespace makes:
// a file, a link, a directory, a whiteout. Only then must the guest take
// the changes before its next step, a walk of them over 9p that cost the
// first step after a tutorial's make (which writes only in the work
// directory) about 0.2 s under TCG.
func machineChanged(upper string) bool {
	tops, err := os.ReadDir(upper)
	if err != nil {
		return true // not known: take them
	}
	for _, top := range tops {
		if !top.IsDir() {
			return true
		}
		f, err := os.Open(filepath.Join(upper, top.Name()))
		if err != nil {
			return true
		}
		names, err := f.Readdirnames(1)
		f.Close()
		if len(names) > 0 || err != io.EOF {
			return true
		}
	}
	return false
}

// wrapNS returns the shell line that runs line through the namespace
// script under unshare.
func wrapNS(script, line string, mapRoot bool) string {
	// Its own mounts, network (none), processes, host name and IPC; the
	// namespace's processes die with unshare, which a timeout kills.
	args := []string{"exec", "unshare", "--mount", "--propagation", "private", "--net", "--uts", "--ipc", "--pid", "--fork", "--kill-child"}
	if mapRoot {
		args = append(args, "--map-root-user")
	}
	args = append(args, "--", shellQuote(script), shellQuote(line))
	return strings.Join(args, " ")
}

// A buildMachine is what the namespace script puts together.
type buildMachine struct {
	Root    string // the machine's root: a release root, or "/"
	Release string
	Work    string // the case's work directory, bound at its own path
	Upper   string // the overlays' upper directories, one per top-level directory
	OvlWork string // overlayfs's work directories, beside them
	Mount   string // where the machine is put together
	Bin     string // the uname directory, bound at chrootBin
	Private string // the case's own directory (caseBuild), never overlaid
	// Scrubbed maps a shadow file of the root (hide.ShadowFiles) to its
	// copy without password hashes, bound over it.
	Scrubbed map[string]string
	// RootOnly is what only root may read of the host's root
	// (hide.ScanPrivate), hidden as hide.Dirs and hide.Files are.
	RootOnly hide.Private
}

// scrubShadowFiles writes into dir, for each of hide.ShadowFiles in
// root, a copy with its password hashes scrubbed, and returns where each
// went.
func scrubShadowFiles(root, dir string) (map[string]string, error) {
	copies := map[string]string{}
	for _, f := range hide.ShadowFiles {
		data, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			continue // not there, or not readable: nothing to hide
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		dst := filepath.Join(dir, filepath.Base(f))
		if err := os.WriteFile(dst, hide.ScrubShadow(data), 0o640); err != nil {
			return nil, fmt.Errorf("scrub %s: %w", f, err)
		}
		copies[f] = dst
	}
	return copies, nil
}

// apiDirs are a machine's kernel and run-time directories: bound from the
// host or fresh tmpfs, never overlaid.
var apiDirs = map[string]bool{"dev": true, "proc": true, "sys": true, "tmp": true, "run": true}

// buildNSScript is the script unshare runs: in its new, private mount
// namespace it builds the machine at m.Mount (a tmpfs with, for each
// top-level directory of the root, an overlay whose upper directory is the
// case's) and runs the step's line ($1) chrooted there. One overlay per
// directory rather than one over the root: overlayfs refuses layers that
// overlap, and the upper directories live under the host's root.
func buildNSScript(m buildMachine) (string, error) {
	entries, err := os.ReadDir(m.Root)
	if err != nil {
		return "", fmt.Errorf("machine root of %s: %w", m.Release, err)
	}
	for _, p := range []string{"unshare", "mount", "chroot"} {
		if _, err := exec.LookPath(p); err != nil {
			return "", fmt.Errorf("building for %s needs %s: install util-linux, mount and coreutils", m.Release, p)
		}
	}
	for _, p := range []string{m.Root, m.Upper, m.OvlWork} {
		if strings.ContainsAny(p, ",:\n") {
			return "", fmt.Errorf("overlayfs cannot take a directory whose path has a comma or colon (%s); set KMODCHECK_CACHE or TMPDIR elsewhere", p)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "#!/bin/sh\n# kmodcheck: run a build step on the machine of %s (root %s),\n", m.Release, m.Root)
	b.WriteString("# its changes in the case's overlay, in this process's own mount namespace only.\n")
	b.WriteString("# Run as: unshare --mount --propagation private [--map-root-user] -- THIS 'COMMAND LINE'\n")
	b.WriteString("fail() { echo \"kmodcheck: cannot put the build's machine together: $* (needs root, or unprivileged user namespaces and overlayfs: Linux 5.11 or later)\" >&2; exit 125; }\n")
	mnt := shellQuote(m.Mount)
	fmt.Fprintf(&b, "mount -t tmpfs -o mode=0755 kmodcheck %s || fail tmpfs\n", mnt)
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, name := range names {
		src := filepath.Join(m.Root, name)
		dst := shellQuote(filepath.Join(m.Mount, name))
		fi, err := os.Lstat(src)
		switch {
		case err != nil:
			continue
		case fi.Mode()&os.ModeSymlink != 0:
			link, _ := os.Readlink(src)
			fmt.Fprintf(&b, "ln -s %s %s\n", shellQuote(link), dst)
		case !fi.IsDir():
		case apiDirs[name]:
			fmt.Fprintf(&b, "mkdir %s\n", dst)
		case within(m.Private, src) || within(src, m.Private):
			// The VM's own directory is under it: overlayfs would see
			// overlapping layers. Bound as it is.
			fmt.Fprintf(&b, "mkdir %s && mount --rbind %s %s || fail %s\n", dst, shellQuote(src), dst, shellQuote(name))
		default:
			up, wk := shellQuote(filepath.Join(m.Upper, name)), shellQuote(filepath.Join(m.OvlWork, name))
			opts := shellQuote("lowerdir=" + src + ",upperdir=" + filepath.Join(m.Upper, name) + ",workdir=" + filepath.Join(m.OvlWork, name))
			fmt.Fprintf(&b, "mkdir -p %s %s %s && mount -t overlay -o %s kmodcheck %s || fail overlay %s\n", dst, up, wk, opts, dst, shellQuote(name))
		}
	}
	writeHidden(&b, m)
	writeAPIMounts(&b, mnt)
	fmt.Fprintf(&b, "mkdir -p %s/tmp %s/run && mount -t tmpfs -o mode=1777 tmp %s/tmp && mount -t tmpfs -o mode=0755 run %s/run || fail tmpfs\n", mnt, mnt, mnt, mnt)
	bin := shellQuote(m.Mount + chrootBin)
	fmt.Fprintf(&b, "mkdir -p %s && mount --bind %s %s || fail uname\n", bin, shellQuote(m.Bin), bin)
	work := shellQuote(m.Mount + m.Work)
	fmt.Fprintf(&b, "mkdir -p %s && mount --bind %s %s || fail work directory\n", work, shellQuote(m.Work), work)
	// Without capabilities, and unable to gain any: root in the machine
	// owns its files (make install), but cannot leave the chroot, mount,
	// or reach what the namespaces and hidden directories keep from it.
	fmt.Fprintf(&b, "[ -x %s/usr/bin/setpriv ] || fail 'no setpriv (util-linux) in the machine'\n", mnt)
	fmt.Fprintf(&b, "exec chroot %s /usr/bin/setpriv --bounding-set -all --inh-caps -all --no-new-privs /usr/bin/env PATH=%s /bin/sh -c 'cd \"$1\" 2>/dev/null || :; exec /bin/sh -c \"$2\"' kmodcheck \"$PWD\" \"$1\"\n", mnt, chrootPath)
	return b.String(), nil
}

// writeHidden hides, in the machine at m.Mount, hide.Dirs and
// m.RootOnly's directories (an empty tmpfs each), hide.Files and
// m.RootOnly's files (/dev/null bound over each) and its shadow files'
// hashes (m.Scrubbed bound over them).
func writeHidden(b *strings.Builder, m buildMachine) {
	dirs, files := hiddenIn(m.Root, m.RootOnly)
	for _, d := range dirs {
		// What went since it was found needs no hiding.
		dst := shellQuote(m.Mount + d)
		fmt.Fprintf(b, "[ ! -e %s ] || mount -t tmpfs -o mode=0755 hidden %s || fail hide %s\n", dst, dst, dst)
	}
	for _, f := range files {
		dst := shellQuote(m.Mount + f)
		fmt.Fprintf(b, "[ ! -e %s ] || mount --bind /dev/null %s || fail hide %s\n", dst, dst, f)
	}
	for _, f := range slices.Sorted(maps.Keys(m.Scrubbed)) {
		fmt.Fprintf(b, "mount --bind %s %s || fail scrub %s\n", shellQuote(m.Scrubbed[f]), shellQuote(m.Mount+f), f)
	}
}

// hiddenIn returns what a machine made from root hides: the directories
// (hide.Dirs that root has, and rootOnly's) and the files
// (hide.Files that root has, and rootOnly's).
func hiddenIn(root string, rootOnly hide.Private) (dirs, files []string) {
	for _, d := range hide.Dirs {
		if fi, err := os.Stat(filepath.Join(root, d)); err == nil && fi.IsDir() {
			dirs = append(dirs, d)
		}
	}
	for _, f := range hide.Files {
		if fi, err := os.Stat(filepath.Join(root, f)); err == nil && fi.Mode().IsRegular() {
			files = append(files, f)
		}
	}
	return append(dirs, rootOnly.Dirs...), append(files, rootOnly.Files...)
}

// writeAPIMounts gives the machine at mnt its kernel file systems, as
// little of the host's as a build needs: a /dev of a few devices, a /proc
// of the namespace's processes with what changes the kernel read-only,
// and /sys read-only. Without root (a user namespace), where the kernel
// refuses fresh proc or sysfs, the host's are bound.
func writeAPIMounts(b *strings.Builder, mnt string) {
	dev := mnt + "/dev"
	fmt.Fprintf(b, "mkdir -p %s && mount -t tmpfs -o mode=0755,nosuid dev %s || fail dev\n", dev, dev)
	for _, d := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		fmt.Fprintf(b, "touch %s/%s && mount --bind /dev/%s %s/%s || fail /dev/%s\n", dev, d, d, dev, d, d)
	}
	fmt.Fprintf(b, "ln -s /proc/self/fd %s/fd && ln -s /proc/self/fd/0 %s/stdin && ln -s /proc/self/fd/1 %s/stdout && ln -s /proc/self/fd/2 %s/stderr\n", dev, dev, dev, dev)
	fmt.Fprintf(b, "mkdir %s/shm %s/pts && mount -t tmpfs -o mode=1777 shm %s/shm || fail /dev/shm\n", dev, dev, dev)
	fmt.Fprintf(b, "mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts %s/pts && ln -s pts/ptmx %s/ptmx\n", dev, dev)
	proc := mnt + "/proc"
	fmt.Fprintf(b, "mkdir -p %s && { mount -t proc proc %s || mount --rbind /proc %s || fail proc; }\n", proc, proc, proc)
	for _, p := range []string{"sys", "sysrq-trigger", "irq", "bus", "fs"} {
		fmt.Fprintf(b, "[ -e %s/%s ] && mount --bind %s/%s %s/%s && mount -o remount,bind,ro %s/%s %s/%s\n", proc, p, proc, p, proc, p, proc, p, proc, p)
	}
	sys := mnt + "/sys"
	fmt.Fprintf(b, "mkdir -p %s && { mount -t sysfs -o ro sysfs %s || mount --rbind -o ro /sys %s || fail sys; }\n", sys, sys, sys)
}

// within reports whether p is dir or below it.
func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// shellQuote quotes s for sh.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+=./,:@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
