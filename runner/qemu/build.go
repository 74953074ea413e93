package qemu

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/kmodcheck/kmodcheck/runner/target"
)

// buildNS is the name of the script that runs a build for a kernel outside
// "/" in a mount namespace of its own; it lives beside the uname.
const buildNS = "kmodcheck-buildns"

// makeUname writes the uname that builds see first on PATH: it reports the
// target's release for -r, so the tutorial's unchanged Makefile
// (make -C /lib/modules/$(shell uname -r)/build) builds for the target.
// For a kernel unpacked in the cache it also writes the build namespace
// script (see build).
func (vm *VM) makeUname() error {
	real, err := exec.LookPath("uname")
	if err != nil {
		return err
	}
	vm.unameDir = filepath.Join(vm.tmp, "bin")
	script := fmt.Sprintf("#!/bin/sh\n# kmodcheck: the kernel under test is %s\n[ \"$*\" = -r ] && { echo %s; exit 0; }\nexec %s \"$@\"\n",
		vm.t.Kernel.Release, vm.t.Kernel.Release, real)
	if err := os.MkdirAll(vm.unameDir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(vm.unameDir, "uname"), []byte(script), 0o755); err != nil {
		return err
	}
	if vm.t.Kernel.System() {
		return nil
	}
	ns, err := buildNSScript(vm.t.Kernel.Root, vm.t.Kernel.Release)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(vm.unameDir, buildNS), []byte(ns), 0o755)
}

// build runs a build step on the host, where it is fast, with uname -r
// reporting the target's release.
//
// A kernel unpacked in the cache (kmodcheck kernels fetch) is not where the
// Makefile looks: make -C /lib/modules/REL/build, and Debian's headers
// lean on /usr/src/linux-headers-REL-common and /usr/lib/linux-kbuild-VER
// by absolute path. Such a build runs under unshare(1) in a mount namespace
// of its own (and a user namespace mapping the user to root when not root),
// where read-only overlays put the cache root's lib, usr/lib and usr/src
// over the system's. Only the build's processes see them; the host's
// filesystems are not changed, and the system's own files stay visible
// beneath.
func (vm *VM) build(ctx context.Context, step target.Step) (target.Result, error) {
	env := append(target.HostEnv(), "PATH="+vm.unameDir+":"+os.Getenv("PATH"))
	if vm.t.Kernel.System() {
		return target.RunLocal(ctx, step, env), nil
	}
	wrapped := step
	wrapped.Line = wrapNS(filepath.Join(vm.unameDir, buildNS), step.Line, os.Geteuid() != 0)
	res := target.RunLocal(ctx, wrapped, env)
	res.Step = step
	return res, nil
}

// wrapNS returns the shell line that runs line through the namespace
// script under unshare.
func wrapNS(script, line string, mapRoot bool) string {
	args := []string{"exec", "unshare", "--mount", "--propagation", "private"}
	if mapRoot {
		args = append(args, "--map-root-user")
	}
	args = append(args, "--", shellQuote(script), shellQuote(line))
	return strings.Join(args, " ")
}

// An overlay is one read-only overlay mount: lower directories, the first
// on top, over target.
type overlay struct {
	target string
	lowers []string
}

// overlays returns the mounts that show the packages unpacked in root at
// their system paths: for each of root's lib, usr/lib and usr/src, an
// overlay of it over the system directory the same path reaches (on a
// merged-/usr system /lib reaches /usr/lib, so root's lib and usr/lib share
// one mount). The cache root is on top, so its release's paths are its own.
func overlays(root string) ([]overlay, error) {
	var out []overlay
	index := map[string]int{}
	for _, d := range []string{"lib", "usr/lib", "usr/src"} {
		src := filepath.Join(root, d)
		if fi, err := os.Lstat(src); err != nil || !fi.IsDir() {
			continue // absent, or a symlink (lib -> usr/lib) that another covers
		}
		sys, err := filepath.EvalSymlinks("/" + d)
		if err != nil {
			return nil, fmt.Errorf("kernel root %s: the system has no /%s to show its %s over: %w", root, d, d, err)
		}
		i, ok := index[sys]
		if !ok {
			i = len(out)
			index[sys] = i
			out = append(out, overlay{target: sys})
		}
		out[i].lowers = append(out[i].lowers, src)
	}
	for i := range out {
		out[i].lowers = append(out[i].lowers, out[i].target)
	}
	return out, nil
}

// buildNSScript is the script unshare runs: it mounts the overlays in its
// new, private mount namespace, then runs the step's line ($1).
func buildNSScript(root, release string) (string, error) {
	ovs, err := overlays(root)
	if err != nil {
		return "", err
	}
	if len(ovs) == 0 {
		return "", fmt.Errorf("kernel root %s has none of lib, usr/lib, usr/src", root)
	}
	for _, p := range []string{"unshare", "mount"} {
		if _, err := exec.LookPath(p); err != nil {
			return "", fmt.Errorf("building for %s (unpacked in %s) needs %s: install util-linux and mount", release, root, p)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "#!/bin/sh\n# kmodcheck: build for %s with the packages unpacked in\n# %s\n", release, root)
	b.WriteString("# seen at their system paths, in this process's own mount namespace only.\n")
	b.WriteString("# Run as: unshare --mount --propagation private [--map-root-user] -- THIS 'COMMAND LINE'\n")
	for _, o := range ovs {
		for _, l := range o.lowers {
			if strings.ContainsAny(l, ",:\n") {
				return "", fmt.Errorf("kernel root %s: overlayfs cannot take a directory whose path has a comma or colon (%s); set KMODCHECK_CACHE elsewhere", root, l)
			}
		}
		opts := "ro,lowerdir=" + strings.Join(o.lowers, ":")
		fmt.Fprintf(&b, "mount -t overlay -o %s kmodcheck %s || {\n", shellQuote(opts), shellQuote(o.target))
		fmt.Fprintf(&b, "\techo %s >&2\n\texit 125\n}\n", shellQuote(fmt.Sprintf(
			"kmodcheck: cannot show %s over %s in a private mount namespace (needs root, or unprivileged user namespaces and overlayfs: Linux 5.11 or later)",
			strings.Join(o.lowers[:len(o.lowers)-1], " and "), o.target)))
	}
	b.WriteString("cd \"$PWD\" 2>/dev/null || :\nexec /bin/sh -c \"$1\"\n")
	return b.String(), nil
}

// shellQuote quotes s for sh.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+=./,:@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
