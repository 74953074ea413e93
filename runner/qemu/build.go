package qemu

import (
	"context"
	"encoding/json"
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
	"github.com/kmodcheck/kmodcheck/runner/proto"
	"github.com/kmodcheck/kmodcheck/runner/scratch"
	"github.com/kmodcheck/kmodcheck/runner/target"
)

// buildView is the name of the build's machine (a proto.View, JSON) in
// the case's directory.
const buildView = "build-machine.json"

// Where a build step's chroot finds the uname that reports the target's
// release: first on its PATH.
const (
	chrootBin  = "/run/kmodcheck/bin"
	chrootPath = chrootBin + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// A caseBuild is one case's build side: the overlays of its machine
// (whose changes the guest takes before its next step), the uname that
// reports the target's release and the machine's description, in a
// directory of the case's own. It is made before the case's VM starts and
// outlives every boot attempt, so that builds run while the VM boots.
type caseBuild struct {
	dir   string // the case's directory
	agent string // the kmodcheck binary, which puts the machine together (proto.RoleView)
	view  string // the machine (buildMachineView), JSON
	upper string // the overlays' upper directories: the machine's changes
	lang  string // the reader's locale, the compiler's
}

// newCaseBuild makes the build side of a case whose work directory is
// work, on the machine root of release (hiding rootOnly of it), put
// together for each step by agent.
func newCaseBuild(agent, release, root, work string, rootOnly hide.Private, reader proto.Reader) (*caseBuild, error) {
	dir, err := scratch.Dir("case")
	if err != nil {
		return nil, err
	}
	b := &caseBuild{dir: dir, agent: agent, view: filepath.Join(dir, buildView), upper: filepath.Join(dir, "upper"), lang: reader.Lang}
	if err := b.write(release, root, work, rootOnly, reader); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("the build's machine for %s: %w", release, err)
	}
	return b, nil
}

// write writes the uname that builds see first on PATH, which reports
// release for -r, so the tutorial's unchanged Makefile
// (make -C /lib/modules/$(shell uname -r)/build) builds for the target,
// and the build's machine (see run).
func (b *caseBuild) write(release, root, work string, rootOnly hide.Private, reader proto.Reader) error {
	bin := filepath.Join(b.dir, "bin")
	script := fmt.Sprintf("#!/bin/sh\n# kmodcheck: the kernel under test is %s\n[ \"$*\" = -r ] && { echo %s; exit 0; }\nexec /bin/uname \"$@\"\n",
		release, release)
	for _, d := range []string{bin, b.upper, filepath.Join(b.dir, "ovlwork"), filepath.Join(b.dir, "mnt")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := local.WriteProgram(filepath.Join(bin, "uname"), []byte(script)); err != nil {
		return err
	}
	m := buildMachine{
		Root: root, Release: release, Work: work,
		Upper: b.upper, OvlWork: filepath.Join(b.dir, "ovlwork"),
		Mount: filepath.Join(b.dir, "mnt"), Bin: bin, Private: b.dir,
		RootOnly: rootOnly,
	}
	if os.Geteuid() == 0 {
		m.Reader = &reader
	}
	var err error
	if m.Scrubbed, err = scrubShadowFiles(m.Root, filepath.Join(b.dir, "scrubbed")); err != nil {
		return err
	}
	return writeBuildView(m, b.view)
}

// writeBuildView writes m's proto.View to file, and makes the overlays'
// upper and work directories.
func writeBuildView(m buildMachine, file string) error {
	v, err := buildMachineView(m)
	if err != nil {
		return err
	}
	for _, d := range v.Mounts {
		if d.Type == "overlay" {
			name := filepath.Base(d.Target)
			for _, dir := range []string{filepath.Join(m.Upper, name), filepath.Join(m.OvlWork, name)} {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					return err
				}
			}
		}
	}
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(file, data, 0o600)
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
// hashes scrubbed, and a reader's environment in the reader's locale
// (hide.ReaderEnv).
func (b *caseBuild) run(ctx context.Context, step target.Step) target.Result {
	wrapped := step
	wrapped.Line = wrapNS(b.agent, b.view, step.Line, os.Geteuid() != 0, true)
	res := local.RunSh(ctx, wrapped, hide.ReaderEnv(local.HostEnv(), b.lang))
	res.Step = step
	return res
}

// changed says whether the case's builds changed its machine outside the
// work directory (machineChanged).
func (b *caseBuild) changed() bool { return machineChanged(b.upper) }

// hostLine is the shell line that runs line as the case's build steps
// run, for a user at the host's shell.
func (b *caseBuild) hostLine(line string) string {
	return wrapNS(b.agent, b.view, line, os.Geteuid() != 0, false)
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

// wrapNS returns the shell command that runs line on the machine that
// view (a proto.View's file) describes: in namespaces of its own (unshare),
// agent puts the machine together (proto.RoleView) and runs line there;
// in place of the shell when replace is set.
func wrapNS(agent, view, line string, mapRoot, replace bool) string {
	args := []string{proto.EnvRole + "=" + proto.RoleView, proto.EnvView + "=" + shellQuote(view)}
	if replace {
		args = append(args, "exec")
	}
	// Its own mounts, network (none), processes, host name and IPC; the
	// namespace's processes die with unshare, which a timeout kills.
	args = append(args, "unshare", "--mount", "--propagation", "private", "--net", "--uts", "--ipc", "--pid", "--fork", "--kill-child")
	if mapRoot {
		args = append(args, "--map-root-user")
	}
	args = append(args, "--", shellQuote(agent), shellQuote(line))
	return strings.Join(args, " ")
}

// A buildMachine is what a build step's proto.View puts together.
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
	// Reader, when set, is who builds, as the case's steps run in the
	// guest (proto.View.User); unset, kmodcheck's user, mapped to root in
	// the build's namespaces, whose files are the reader's already.
	Reader *proto.Reader
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

// buildMachineView is the proto.View of m: in a new, private mount
// namespace it puts the machine together at m.Mount (a tmpfs with, for
// each top-level directory of the root, an overlay whose upper directory
// is the case's) and runs the step's line chrooted there, confined. One
// overlay per directory rather than one over the root: overlayfs refuses
// layers that overlap, and the upper directories live under the host's
// root.
func buildMachineView(m buildMachine) (proto.View, error) {
	entries, err := os.ReadDir(m.Root)
	if err != nil {
		return proto.View{}, fmt.Errorf("machine root of %s: %w", m.Release, err)
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		return proto.View{}, fmt.Errorf("building for %s needs unshare: install util-linux", m.Release)
	}
	for _, p := range []string{m.Root, m.Upper, m.OvlWork} {
		if strings.ContainsAny(p, ",:\n") {
			return proto.View{}, fmt.Errorf("overlayfs cannot take a directory whose path has a comma or colon (%s); set KMODCHECK_CACHE or TMPDIR elsewhere", p)
		}
	}
	mounts := []proto.Mount{{Source: "kmodcheck", Target: m.Mount, Type: "tmpfs", Data: "mode=0755"}}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, name := range names {
		src, dst := filepath.Join(m.Root, name), filepath.Join(m.Mount, name)
		fi, err := os.Lstat(src)
		switch {
		case err != nil:
			continue
		case fi.Mode()&os.ModeSymlink != 0:
			link, _ := os.Readlink(src)
			mounts = append(mounts, proto.Mount{Source: link, Target: dst, Link: true, Optional: true})
		case !fi.IsDir():
		case apiDirs[name]:
			// Mounted over below.
		case within(m.Private, src) || within(src, m.Private):
			// The VM's own directory is under it: overlayfs would see
			// overlapping layers. Bound as it is.
			mounts = append(mounts, proto.Mount{Source: src, Target: dst, Bind: true, Recursive: true, MakeDir: true})
		default:
			opts := "lowerdir=" + src + ",upperdir=" + filepath.Join(m.Upper, name) + ",workdir=" + filepath.Join(m.OvlWork, name)
			mounts = append(mounts, proto.Mount{Source: "kmodcheck", Target: dst, Type: "overlay", Data: opts, MakeDir: true})
		}
	}
	mounts = append(mounts, hiddenMounts(m)...)
	mounts = append(mounts, apiMounts(m.Mount)...)
	mounts = append(mounts,
		proto.Mount{Source: "tmp", Target: m.Mount + "/tmp", Type: "tmpfs", Data: "mode=1777", MakeDir: true},
		proto.Mount{Source: "run", Target: m.Mount + "/run", Type: "tmpfs", Data: "mode=0755", MakeDir: true},
		proto.Mount{Source: m.Bin, Target: m.Mount + chrootBin, Bind: true, MakeDir: true},
		proto.Mount{Source: m.Work, Target: m.Mount + m.Work, Bind: true, MakeDir: true})
	return proto.View{
		Failure: "put the build's machine together (it needs root, or unprivileged user namespaces and overlayfs: Linux 5.11 or later)",
		Mounts:  mounts, Root: m.Mount, Path: chrootPath, Confined: true, User: m.Reader,
		Argv: []string{"/bin/sh", "-c"},
	}, nil
}

// hiddenMounts hide, in the machine at m.Mount, hide.Dirs and
// m.RootOnly's directories (an empty tmpfs each), hide.Files and
// m.RootOnly's files (/dev/null bound over each) and its shadow files'
// hashes (m.Scrubbed bound over them).
func hiddenMounts(m buildMachine) []proto.Mount {
	var mounts []proto.Mount
	dirs, files := hiddenIn(m.Root, m.RootOnly)
	for _, d := range dirs {
		mounts = append(mounts, proto.Mount{Source: "hidden", Target: m.Mount + d, Type: "tmpfs", Data: "mode=0755", Hides: true})
	}
	for _, f := range files {
		mounts = append(mounts, proto.Mount{Source: "/dev/null", Target: m.Mount + f, Bind: true, Hides: true})
	}
	for _, f := range slices.Sorted(maps.Keys(m.Scrubbed)) {
		mounts = append(mounts, proto.Mount{Source: m.Scrubbed[f], Target: m.Mount + f, Bind: true})
	}
	return mounts
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

// apiMounts give the machine at mnt its kernel file systems, as little of
// the host's as a build needs: a /dev of a few devices, a /proc of the
// namespace's processes with what changes the kernel read-only, and /sys
// read-only. Without root (a user namespace), where the kernel refuses
// fresh proc or sysfs, the host's are bound.
func apiMounts(mnt string) []proto.Mount {
	dev := mnt + "/dev"
	mounts := []proto.Mount{{Source: "dev", Target: dev, Type: "tmpfs", Data: "mode=0755", NoSUID: true, MakeDir: true}}
	for _, d := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		mounts = append(mounts, proto.Mount{Source: "/dev/" + d, Target: dev + "/" + d, Bind: true, MakeFile: true})
	}
	for _, l := range [][2]string{{"fd", "/proc/self/fd"}, {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"}} {
		mounts = append(mounts, proto.Mount{Source: l[1], Target: dev + "/" + l[0], Link: true, Optional: true})
	}
	proc, sys := mnt+"/proc", mnt+"/sys"
	mounts = append(mounts,
		proto.Mount{Source: "shm", Target: dev + "/shm", Type: "tmpfs", Data: "mode=1777", MakeDir: true},
		proto.Mount{Source: "devpts", Target: dev + "/pts", Type: "devpts", Data: "newinstance,ptmxmode=0666,mode=0620", MakeDir: true, Optional: true},
		proto.Mount{Source: "pts/ptmx", Target: dev + "/ptmx", Link: true, Optional: true},
		proto.Mount{Source: "proc", Target: proc, Type: "proc", MakeDir: true,
			Else: &proto.Mount{Source: "/proc", Target: proc, Bind: true, Recursive: true}})
	for _, p := range []string{"sys", "sysrq-trigger", "irq", "bus", "fs"} {
		mounts = append(mounts, proto.Mount{Source: proc + "/" + p, Target: proc + "/" + p, Bind: true, ReadOnly: true, Hides: true, Optional: true})
	}
	return append(mounts, proto.Mount{Source: "sysfs", Target: sys, Type: "sysfs", ReadOnly: true, MakeDir: true,
		Else: &proto.Mount{Source: "/sys", Target: sys, Bind: true, Recursive: true, ReadOnly: true}})
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
