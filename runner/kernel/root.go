package kernel

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/cache"
	"github.com/kmodcheck/kmodcheck/runner/scratch"
)

// ReaderPackages are what a reader of a module tutorial has on a Debian
// machine besides the headers' own needs: bash, sudo, kmod (insmod,
// modprobe, depmod), procps (ps), util-linux (dmesg), build-essential
// (make, the release's gcc, binutils, the C library's headers: what
// tutorials tell their readers to install), pahole, with which kbuild
// adds BTF to modules, and systemd, whose journald and journalctl every
// Debian machine has (the guest starts journald for a step that runs
// journalctl; systemd is not the guest's init), and locales, from which
// the reader's locale is made (readerLocaleHook).
func ReaderPackages() []string {
	return []string{"bash", "sudo", "kmod", "procps", "util-linux", "build-essential", "dwarves", "systemd", "locales"}
}

// A Roots makes release roots: the userland of a kernel's Debian release,
// made once per suite and package set with mmdebstrap into
// cache/roots/SUITE-KEY, and for each kernel a machine root,
// cache/machines/RELEASE, that holds that userland with the kernel's image,
// modules and headers at their usual paths (hard links, so it costs no
// room). Builds run chrooted in a machine root, and the guest boots with
// it as its root: both see one machine, of the reader's release.
type Roots struct {
	Archive *Archive
	Cache   cache.Dir
	Out     io.Writer // progress; nil discards it
	// Run runs a program; nil runs it for real. Tests fake mmdebstrap.
	Run runFunc
}

func (r *Roots) out() io.Writer {
	if r.Out == nil {
		return io.Discard
	}
	return r.Out
}

func (r *Roots) run(ctx context.Context, dir string, stdout io.Writer, name string, args ...string) error {
	f := Fetcher{Run: r.Run}
	return f.run(ctx, dir, stdout, name, args...)
}

// releaseDefaults are packages a release installs by default (its
// standard task or seed) that a tutorial's reader meets and ReaderPackages
// do not hold, by base suite: rsyslog, which writes the kernel log to
// /var/log/kern.log and /var/log/syslog, is in Debian's standard task up
// to Debian 11 (bullseye) and in Ubuntu's default installs; Debian 12 and
// later log to the journal only.
var releaseDefaults = map[string][]string{
	"stretch": {"rsyslog"}, "buster": {"rsyslog"}, "bullseye": {"rsyslog"},
	"bionic": {"rsyslog"}, "focal": {"rsyslog"}, "jammy": {"rsyslog"}, "noble": {"rsyslog"},
}

// ReleasePackages are the packages of ReaderPackages with those suite's
// release installs by default that a reader meets (releaseDefaults).
func ReleasePackages(suite string) []string {
	return append(ReaderPackages(), releaseDefaults[BaseSuite(suite)]...)
}

// packages are the packages a root of k holds, sorted.
func packages(k *Kernel) []string {
	seen := map[string]bool{}
	var pkgs []string
	for _, p := range append(ReleasePackages(k.Suite), k.Needs...) {
		if !seen[p] {
			seen[p] = true
			pkgs = append(pkgs, p)
		}
	}
	sort.Strings(pkgs)
	return pkgs
}

// BaseDir is the userland root k's machine is made from.
func (r *Roots) BaseDir(k *Kernel) string {
	key := cache.Key(append(r.Archive.RootSourceLines(k.Suite), packages(k)...)...)
	return r.Cache.Path("roots", BaseSuite(k.Suite)+"-"+key[:12])
}

// MachineDir is where k's machine root is.
func (r *Roots) MachineDir(k *Kernel) string { return r.Cache.Path("machines", k.Release) }

// Machine returns k's machine root, making it (and the userland root it
// needs) when it is not there yet. The system's kernels run on the host's
// own root, "/". A machine whose userland root changed (madeFrom) is made
// again. Concurrent callers make each root once (a lock); a root is
// moved into place only whole, so one that failed half-way is never used.
func (r *Roots) Machine(ctx context.Context, k *Kernel) (string, error) {
	if k.System() {
		return "/", nil
	}
	if k.Suite == "" {
		return "", fmt.Errorf("kernel %s in %s has no suite recorded: fetch it again (kmodcheck kernels fetch %s)", k.Release, k.Root, k.Release)
	}
	dir := r.MachineDir(k)
	if complete(dir) && r.madeFrom(dir, r.BaseDir(k)) {
		return dir, nil
	}
	base, err := r.base(ctx, k)
	if err != nil {
		return "", err
	}
	made := func() bool { return complete(dir) && r.madeFrom(dir, base) }
	if complete(dir) {
		fmt.Fprintf(r.out(), "machine root of %s: made from another userland root than %s: made again\n", k.Release, filepath.Base(base))
	}
	err = r.once(ctx, dir, made, func(tmp string) error {
		start := time.Now()
		if err := linkTree(base, tmp); err != nil {
			return err
		}
		if err := linkTree(k.Root, tmp); err != nil {
			return err
		}
		os.Remove(filepath.Join(tmp, metaFile))
		fmt.Fprintf(r.out(), "machine root of %s: %s with the kernel's packages, linked in %s\n", k.Release, filepath.Base(base), time.Since(start).Round(100*time.Millisecond))
		return nil
	})
	return dir, err
}

// baseSentinel is a file every userland root has and a kernel's packages
// do not: a machine made from a root shares it with that root (a hard
// link).
const baseSentinel = "var/lib/dpkg/status"

// madeFrom says whether the machine root dir was made from the userland
// root base as it is. A machine whose userland changed, its suite's
// packages (ReleasePackages) or sources, is made again: its key names
// another root. A base that is not there (a new key, or removed with
// kmodcheck kernels rm) is made first.
func (r *Roots) madeFrom(dir, base string) bool {
	if !complete(base) {
		return false
	}
	b, err := os.Stat(filepath.Join(base, baseSentinel))
	if err != nil {
		return true // a root without one: nothing tells, it stays
	}
	m, err := os.Stat(filepath.Join(dir, baseSentinel))
	return err == nil && os.SameFile(m, b)
}

// base returns the userland root of k's suite and package set, made with
// mmdebstrap unless it is there.
func (r *Roots) base(ctx context.Context, k *Kernel) (string, error) {
	dir := r.BaseDir(k)
	if complete(dir) {
		return dir, nil
	}
	if r.Archive == nil {
		return "", fmt.Errorf("no archive to make the root of %s from", k.Suite)
	}
	err := r.once(ctx, dir, func() bool { return complete(dir) }, func(tmp string) error {
		pkgs := packages(k)
		args := []string{"--variant=minbase", "--include=" + strings.Join(pkgs, ","),
			// As for the lists kmodcheck reads (AptOptions).
			`--aptopt=Acquire::Check-Valid-Until "false"`,
			// Documentation no step reads: a smaller root, made sooner.
			"--dpkgopt=path-exclude=/usr/share/doc/*", "--dpkgopt=path-exclude=/usr/share/man/*",
			"--dpkgopt=path-exclude=/usr/share/locale/*", "--dpkgopt=path-exclude=/usr/share/info/*",
			// What a reader's machine says of itself, and sudo resolves.
			`--customize-hook=echo kmodcheck > "$1/etc/hostname"`,
			`--customize-hook=printf '127.0.0.1 localhost\n127.0.1.1 kmodcheck\n' > "$1/etc/hosts"`,
			readerLocaleHook,
			BaseSuite(k.Suite), tmp}
		args = append(args, r.Archive.RootSourceLines(k.Suite)...)
		fmt.Fprintf(r.out(), "making the %s root for %s with mmdebstrap (%s)\n", BaseSuite(k.Suite), k.Release, strings.Join(pkgs, " "))
		start := time.Now()
		var log strings.Builder
		if err := r.mmdebstrap(ctx, &log, args); err != nil {
			return fmt.Errorf("mmdebstrap %s: %w", BaseSuite(k.Suite), err)
		}
		fmt.Fprintf(r.out(), "made the %s root in %s (%s)\n", BaseSuite(k.Suite), time.Since(start).Round(100*time.Millisecond), Size(dirSize(tmp)))
		return nil
	})
	return dir, err
}

// mmdebstrap runs mmdebstrap, as root in a mount namespace of its own: in
// root mode it mounts /proc, /sys and /dev in the root it makes, and one it
// fails to unmount, or cannot because it was killed, stays in the host's
// namespace, in the finished root (a sysfs left so made every machine
// linked from that root fail). The namespace's mounts end with it. Without
// root, mmdebstrap's unshare mode has a namespace of its own. Its
// temporary files (the keyring's gpg home) go in a directory of
// kmodcheck's (TMPDIR, which mmdebstrap keeps from the root's own
// commands), removed after it: mmdebstrap killed, by a run that was
// stopped, cannot remove them itself.
func (r *Roots) mmdebstrap(ctx context.Context, log io.Writer, args []string) error {
	tmp, err := scratch.Dir("mmdebstrap")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	cmd := append([]string{"env", "TMPDIR=" + tmp, "mmdebstrap"}, args...)
	if os.Geteuid() != 0 {
		return r.run(ctx, "", log, cmd[0], cmd[1:]...)
	}
	return r.run(ctx, "", log, "unshare", append([]string{"--mount", "--propagation", "private"}, cmd...)...)
}

// readyFile marks a root as whole.
const readyFile = ".kmodcheck-ready"

func complete(dir string) bool { return fileExists(filepath.Join(dir, readyFile)) }

// once makes dir with make, under a lock, unless done says it is made, in
// a temporary directory beside it that is renamed into place only when
// make succeeded.
func (r *Roots) once(ctx context.Context, dir string, done func() bool, make func(tmp string) error) error {
	unlock, err := cache.Lock(ctx, dir+".lock")
	if err != nil {
		return err
	}
	defer unlock()
	if done() { // another process made it while we waited
		return nil
	}
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil { // left by an interrupted run
		return err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	if err := make(tmp); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, readyFile), nil, 0o644); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.RemoveAll(dir); err != nil { // an incomplete one
		return err
	}
	return os.Rename(tmp, dir)
}

// linkTree adds src's tree to dst as hard links, src's files replacing
// dst's where both have one. Symbolic links are copied as they are; where
// dst has a link to a directory (lib -> usr/lib) src's directory of that
// name is merged through it. A file system mounted in src (the sysfs an
// older kmodcheck's mmdebstrap left in a root) is not src's: its
// directory is made, empty.
func linkTree(src, dst string) error {
	top, err := os.Stat(src)
	if err != nil {
		return err
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel == "." || rel == readyFile {
			return nil
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			if st, err := os.Stat(target); err != nil || !st.IsDir() { // else present, perhaps through a link
				if err := os.MkdirAll(target, 0o755); err != nil {
					return err
				}
			}
			if info, err := d.Info(); err == nil && !sameDevice(info, top) {
				return fs.SkipDir
			}
			return nil
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if st, err := os.Stat(target); err == nil && st.IsDir() {
				return nil // dst's own link or directory of that name stays
			}
			os.Remove(target)
			return os.Symlink(link, target)
		default:
			os.Remove(target)
			return os.Link(p, target)
		}
	})
}

// sameDevice reports whether a and b are on one file system.
func sameDevice(a, b fs.FileInfo) bool {
	sa, okA := a.Sys().(*syscall.Stat_t)
	sb, okB := b.Sys().(*syscall.Stat_t)
	return !okA || !okB || sa.Dev == sb.Dev
}

// RootInfo describes a root in the cache, for listings.
type RootInfo struct {
	Name string // the directory's name
	Kind string // "userland" or "machine"
	Dir  string
	Size int64 // bytes of the files it holds (a machine's are links)
	// Unused is set on a userland no machine root is made from: one a
	// newer package list replaced (a kmodcheck upgrade remakes every
	// root), or whose kernels were removed. Nothing will use it again.
	Unused bool
}

// List lists the roots in the cache.
func (r *Roots) List() []RootInfo {
	var out []RootInfo
	machines, _ := filepath.Glob(r.Cache.Path("machines", "*"))
	for _, kind := range []struct{ dir, kind string }{{"roots", "userland"}, {"machines", "machine"}} {
		dirs, _ := filepath.Glob(r.Cache.Path(kind.dir, "*"))
		for _, d := range dirs {
			if !complete(d) {
				continue
			}
			info := RootInfo{Name: filepath.Base(d), Kind: kind.kind, Dir: d, Size: dirSize(d)}
			info.Unused = kind.kind == "userland" && !baseOfAny(d, machines)
			out = append(out, info)
		}
	}
	return out
}

// baseOfAny says whether some machine root was made from the userland root
// base (see madeFrom). A root without the sentinel counts as used.
func baseOfAny(base string, machines []string) bool {
	b, err := os.Stat(filepath.Join(base, baseSentinel))
	if err != nil {
		return true
	}
	for _, m := range machines {
		if fi, err := os.Stat(filepath.Join(m, baseSentinel)); err == nil && os.SameFile(fi, b) {
			return true
		}
	}
	return false
}

// Remove removes a root by its name, under its lock.
func (r *Roots) Remove(ctx context.Context, name string) error {
	for _, dir := range []string{r.Cache.Path("roots", name), r.Cache.Path("machines", name)} {
		if _, err := os.Stat(dir); err != nil {
			continue
		}
		unlock, err := cache.Lock(ctx, dir+".lock")
		if err != nil {
			return err
		}
		err = os.RemoveAll(dir)
		unlock()
		os.Remove(dir + ".lock")
		return err
	}
	return fmt.Errorf("no root named %s in %s", name, r.Cache.Path("roots", ""))
}

// FetchedRoot is the directory a fetched kernel of release is unpacked in,
// or "" when there is none.
func FetchedRoot(c cache.Dir, release string) string {
	dir := c.Path("kernels", release)
	if release == "" || strings.ContainsAny(release, "/*?[") || !fileExists(dir) {
		return ""
	}
	return dir
}
