package qemu

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/cavaliergopher/cpio"

	"github.com/kmodcheck/kmodcheck/runner/cache"
	"github.com/kmodcheck/kmodcheck/runner/kernel"
	"github.com/kmodcheck/kmodcheck/runner/local"
	"github.com/kmodcheck/kmodcheck/runner/proto"
)

// initScript is the initramfs's /init: load what 9p needs, then start the
// agent (proto.InitAgent), which waits on its port for the case, mounts the
// host's root read-only and moves into it (runner/guest). busybox and the
// agent are the only programs in the initramfs; everything else comes from
// the machine's root (the host's, or a release root).
//
// The agent's wait is the last point before anything case-specific, so a
// state saved there serves every case, the agent started: nothing is
// mounted over 9p yet (QEMU refuses to save a VM with a mounted 9p export)
// and the case's details (work directory, a random seed) arrive on the
// port as one line, "WORK SEED", after the state is restored. The host
// sends the same line to a VM that booted cold.
const initScript = `#!/bin/busybox sh
bb=/bin/busybox
fail() { echo "kmodcheck-init: $*"; $bb poweroff -f; }
$bb mount -t proc proc /proc
$bb mount -t sysfs sys /sys
$bb mount -t devtmpfs dev /dev
for m in $($bb cat /modules/order); do
	$bb insmod /modules/$m || fail "insmod $m failed"
done
# The agent's printk trace instance, made here so that the saved state
# holds it: making one makes a directory for every trace event, 0.15 to
# 0.4 s under TCG, and enabling the event patches kernel text, 0.07 to 0.1
# s, which a restored VM then does not pay. The agent ignores the events
# from before its start (a marker it writes, local.KernelLog).
# Where printk formats each message into a static buffer (textbuf, 5.10),
# printk:console fires only when the console prints, in whichever task
# flushes it: a return probe on vprintk_store reads the buffer instead,
# as the printing task stores the message (local.StoreProbe). 6.x formats
# into the record: its kallsyms (0.5 s of grep under TCG) is not read.
i=/sys/kernel/tracing/instances/` + proto.TraceInstance + `
if $bb mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null; then
	$bb mkdir -p $i 2>/dev/null && echo 1 2>/dev/null > $i/events/printk/console/enable
	case $($bb uname -r) in [1-5].*) tb=$($bb grep -m 1 ' [bdBD] textbuf\.[0-9]*$' /proc/kallsyms) ;; *) tb= ;; esac
	[ -n "$tb" ] &&
		echo "r:` + local.StoreProbe + ` vprintk_store msg=@0x${tb%% *}:string" 2>/dev/null >> /sys/kernel/tracing/kprobe_events &&
		echo 1 2>/dev/null > $i/events/kprobes/` + local.StoreProbe + `/enable
	$bb umount /sys/kernel/tracing
fi
# The agent checks for a virtio-serial port before it takes its role:
# wait for the ports' devices (5 s at most).
tries=0
until [ -c "$($bb ls /dev/vport*p* 2>/dev/null | $bb head -n 1)" ]; do
	tries=$((tries+1))
	[ $tries -le 250 ] || fail "no virtio-serial port"
	$bb sleep 0.02
done
# PID 1 stays this shell: waiting for the agent, it reaps every orphan the
# guest's processes leave (ash's wait takes any child), and powers the
# machine off if the agent dies. The agent waits for the case, moves into
# the machine's root, serves the host and powers the machine off.
export ` + proto.EnvRole + `=` + proto.RoleAgent + `
` + proto.InitAgent + ` & wait $!
echo "kmodcheck-init: agent exited: $?"
$bb poweroff -f
`

// BootModules are the modules the guest needs before the host root is
// mounted, unless the kernel has them built in. pvpanic-pci lets QEMU see a
// panic; it is optional.
var bootModules = []struct {
	name     string
	optional bool
}{
	{"virtio_pci", false},
	{"virtio_console", false},
	{"9pnet_virtio", false},
	{"9p", false},
	{"overlay", false},
	{"pvpanic_pci", true},
}

// initramfs returns the path of an initramfs for the kernel whose modules
// live in modulesDir, building it into the cache unless an identical one is
// there already. Its name is a hash of everything that goes into it.
func initramfs(ctx context.Context, modulesDir, busybox, agent string, c cache.Dir) (string, error) {
	mods, err := bootModuleFiles(modulesDir)
	if err != nil {
		return "", err
	}
	parts := []string{initScript}
	for _, f := range append([]string{busybox, agent}, mods...) {
		k, err := cache.StatKey(f)
		if err != nil {
			return "", err
		}
		parts = append(parts, k)
	}
	out := c.Path("initramfs", cache.Key(parts...)+".cpio")
	if _, err := os.Stat(out); err == nil {
		now := time.Now()
		os.Chtimes(out, now, now) // used: see pruneInitramfs
		return out, nil
	}
	defer pruneInitramfs(filepath.Dir(out))

	var buf bytes.Buffer
	w := cpio.NewWriter(&buf)
	add := func(name string, mode cpio.FileMode, data []byte) error {
		if err := w.WriteHeader(&cpio.Header{Name: name, Mode: mode, Size: int64(len(data))}); err != nil {
			return err
		}
		_, err := w.Write(data)
		return err
	}
	for _, d := range []string{"bin", "dev", "proc", "sys", "newroot", "modules"} {
		if err := add(d, cpio.TypeDir|0o755, nil); err != nil {
			return "", err
		}
	}
	for _, f := range []struct{ name, file string }{{"bin/busybox", busybox}, {strings.TrimPrefix(proto.InitAgent, "/"), agent}} {
		data, err := os.ReadFile(f.file)
		if err != nil {
			return "", err
		}
		if err := add(f.name, cpio.TypeReg|0o755, data); err != nil {
			return "", err
		}
	}
	if err := add("init", cpio.TypeReg|0o755, []byte(initScript)); err != nil {
		return "", err
	}
	var order strings.Builder
	for _, m := range mods {
		data, err := kernel.ReadModule(ctx, m)
		if err != nil {
			return "", err
		}
		name := moduleBase(m) + ".ko"
		if err := add("modules/"+name, cpio.TypeReg|0o644, data); err != nil {
			return "", err
		}
		order.WriteString(name + "\n")
	}
	if err := add("modules/order", cpio.TypeReg|0o644, []byte(order.String())); err != nil {
		return "", err
	}
	if err := w.Close(); err != nil {
		return "", err
	}
	if err := cache.WriteFile(out, buf.Bytes()); err != nil {
		return "", fmt.Errorf("write initramfs: %w", err)
	}
	return out, nil
}

// An initramfs holds an agent, and each build of kmodcheck (and each test
// binary) is another: a CI run made about ten of 11 MB, and kept them a
// day. An initramfs used in the last initramfsInUse is kept (a VM of a run
// under way boots from it: each VM start touches it); of the rest, the
// initramfsKept most recently used, unless unused for initramfsMaxUnused.
const (
	initramfsInUse     = time.Hour
	initramfsKept      = 12
	initramfsMaxUnused = 24 * time.Hour
)

// pruneInitramfs removes the initramfs files in dir that are neither in
// use nor among those kept.
func pruneInitramfs(dir string) {
	for i, f := range byLastUse(filepath.Join(dir, "*.cpio")) {
		if f.unused > initramfsInUse && (i >= initramfsKept || f.unused > initramfsMaxUnused) {
			os.Remove(f.file)
		}
	}
}

// bootModuleFiles resolves bootModules and their dependencies to module
// files in load order, from modules.dep; built-in modules need no file.
func bootModuleFiles(modulesDir string) ([]string, error) {
	deps, err := readModulesDep(filepath.Join(modulesDir, "modules.dep"))
	if err != nil {
		return nil, err
	}
	builtin, _ := os.ReadFile(filepath.Join(modulesDir, "modules.builtin"))
	isBuiltin := func(name string) bool {
		for _, l := range strings.Split(string(builtin), "\n") {
			if moduleBase(l) == name {
				return true
			}
		}
		return false
	}
	byName := map[string]string{}
	for file := range deps {
		byName[moduleBase(file)] = file
	}
	var order []string
	seen := map[string]bool{}
	var visit func(file string)
	visit = func(file string) {
		if seen[file] {
			return
		}
		seen[file] = true
		for _, d := range deps[file] {
			visit(d)
		}
		order = append(order, filepath.Join(modulesDir, file))
	}
	for _, m := range bootModules {
		file, ok := byName[m.name]
		switch {
		case ok:
			visit(file)
		case isBuiltin(m.name) || m.optional:
		default:
			return nil, fmt.Errorf("kernel modules in %s: %s is neither built in nor a module", modulesDir, m.name)
		}
	}
	return order, nil
}

func readModulesDep(file string) (map[string][]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	deps := map[string][]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		mod, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		deps[mod] = strings.Fields(rest)
	}
	return deps, sc.Err()
}

// moduleBase turns "kernel/fs/9p/9p.ko.xz" into "9p", with - and _ alike.
func moduleBase(file string) string {
	b := path.Base(strings.TrimSpace(file))
	if i := strings.Index(b, ".ko"); i >= 0 {
		b = b[:i]
	}
	return strings.ReplaceAll(b, "-", "_")
}
