package qemu

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/cache"
	"github.com/kmodcheck/kmodcheck/runner/proto"
	"github.com/kmodcheck/kmodcheck/runner/scratch"
	"golang.org/x/sys/unix"
)

// A saved state is a VM's memory and devices, saved by QEMU's migration
// once the guest's /init waits for its case (proto.InitWaiting): every
// module it needs loaded, nothing of a case in it. Restoring it takes a
// fraction of a second where booting the kernel under TCG takes seconds,
// and every case restores the same state into a fresh QEMU, so cases stay
// as isolated from each other as with a fresh boot.
//
// States live in the cache as state/RELEASE-KEY.state, the devices (under
// 1 MB), and RELEASE-KEY.ram, the guest's memory (1 GB, sparse: 270 MB
// on disk), beside RELEASE-KEY.console, the console of the boot that saved
// it. The saving boot's memory is that file, shared, and its migration
// leaves it out (QEMU's x-ignore-shared); a restore maps it privately
// and reads only the pages the guest touches, where loading a migration
// stream of all its memory touched every page: 1.1 GB of QEMU's memory
// where the host has no zero page to map a page read before it is written
// (seen under a PVM hypervisor), 2.6 s a boot there. KEY hashes the machine (QEMU's command line with the
// per-VM sockets and work directory left out, so the kernel, initramfs,
// kernel command line, accelerator, CPUs and memory), QEMU's binary and
// its version: an upgrade of any of them saves a new state. Before a state
// is saved, old ones go (pruneStates).
type savedState struct {
	file    string // the migration stream: the devices
	ram     string // the guest's memory
	console string // the console of the boot that saved it
}

// stateMaxUnused is how long a state is kept unused (each restore touches
// it); a kernel keeps its statesPerKernel most recently used states, and
// any used in the last stateInUse, which a run may be restoring.
const (
	stateMaxUnused  = 7 * 24 * time.Hour
	statesPerKernel = 3
	stateInUse      = 10 * time.Minute
)

// stateSaveTimeout bounds booting and saving a state, waiting for another
// process that saves it included.
const stateSaveTimeout = 3 * time.Minute

// savedState returns the state for machine m, saving it first when the
// cache has none. Processes and goroutines that want the same state at once
// wait for the one that saves it.
func (t *Target) savedState(ctx context.Context, m machine) (*savedState, error) {
	key, err := t.stateKey(m)
	if err != nil {
		return nil, err
	}
	name := t.Kernel.Release + "-" + key
	st := stateAt(t.Cache.Path("state", name+".state"))
	if st.complete() {
		return st, nil
	}
	t.saving.Lock()
	defer t.saving.Unlock()
	ctx, cancel := context.WithTimeout(ctx, stateSaveTimeout)
	defer cancel()
	unlock, err := cache.Lock(ctx, st.file+".lock")
	if err != nil {
		return nil, err
	}
	defer unlock()
	if st.complete() {
		return st, nil // another process saved it meanwhile
	}
	if err := os.MkdirAll(filepath.Dir(st.file), 0o755); err != nil {
		return nil, err
	}
	// Old states first: the room they take may be the room this one needs.
	pruneStates(filepath.Dir(st.file), t.Kernel.Release, st.file)
	if err := checkRoom(filepath.Dir(st.file), m.Memory); err != nil {
		return nil, fmt.Errorf("save the state of %s: %w", t.Kernel.Release, err)
	}
	start := time.Now()
	if err := t.saveState(ctx, m, st); err != nil {
		return nil, fmt.Errorf("save the state of %s: %w", t.Kernel.Release, err)
	}
	if fi, err := os.Stat(st.file); err == nil {
		t.progress("saved the booted state of %s (%d MB) in %s", t.Kernel.Release, fi.Size()>>20, time.Since(start).Round(100*time.Millisecond))
	}
	return st, nil
}

// errNoRoom is a state not saved for want of room: QEMU writes the
// guest's memory to the state's file as the guest runs, up to all of it,
// and dies of SIGBUS when the disk is full. Cases then boot cold.
var errNoRoom = errors.New("no room to save the state")

// checkRoom returns errNoRoom unless dir's file system has room for a
// guest memory of size memory, QEMU's -m.
func checkRoom(dir, memory string) error {
	need, err := memoryBytes(memory)
	if err != nil {
		return err
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		return fmt.Errorf("room in %s: %w", dir, err)
	}
	if free := fs.Bavail * uint64(fs.Bsize); free < need {
		return fmt.Errorf("%w: %d MB free in %s, and the guest's memory (-m %s) may take %d MB", errNoRoom, free>>20, dir, memory, need>>20)
	}
	return nil
}

// memoryBytes reads a size as QEMU's -m does: MiB, unless a suffix K, M,
// G or T says otherwise.
func memoryBytes(size string) (uint64, error) {
	shifts := map[string]uint{"K": 10, "M": 20, "G": 30, "T": 40}
	num, shift := size, uint(20)
	if n := len(size); n > 0 {
		if s, ok := shifts[strings.ToUpper(size[n-1:])]; ok {
			num, shift = size[:n-1], s
		}
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("memory size %q: %w", size, err)
	}
	return n << shift, nil
}

// stateAt is the saved state whose devices are in file (NAME.state),
// its memory and console beside it (NAME.ram, NAME.console).
func stateAt(file string) *savedState {
	base := strings.TrimSuffix(file, ".state")
	return &savedState{file: file, ram: base + ".ram", console: base + ".console"}
}

// remove removes the state's files.
func (st *savedState) remove() {
	os.Remove(st.file)
	os.Remove(st.ram)
	os.Remove(st.console)
}

// complete says whether st is there to restore: its memory is renamed
// into place before its devices.
func (st *savedState) complete() bool {
	for _, f := range []string{st.file, st.ram} {
		if _, err := os.Stat(f); err != nil {
			return false
		}
	}
	return true
}

// stateKey names the state of machine m.
func (t *Target) stateKey(m machine) (string, error) {
	qemuKey, err := cache.StatKey(t.qemuPath())
	if err != nil {
		return "", err
	}
	// The image, not the vmlinux extracted from it: an extraction that
	// raced another rewrites the vmlinux, the same bytes with a new mtime.
	kernelKey, err := cache.StatKey(t.Kernel.Image)
	if err != nil {
		return "", err
	}
	version, err := t.qemuVersion()
	if err != nil {
		return "", err
	}
	// Placeholders for what differs from VM to VM.
	args := m.args(endpoints{Work: "WORK", Agent: "AGENT", Kmsg: "KMSG", Shell: "SHELL", Alive: "ALIVE", Changes: "CHANGES", RAM: "RAM"})
	return cache.Key(append([]string{"state 2", qemuKey, version, kernelKey}, args...)...), nil
}

// qemuVersion is the first line of qemu -version, asked once.
func (t *Target) qemuVersion() (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.version == "" {
		out, err := exec.Command(t.qemuPath(), "-version").Output()
		if err != nil {
			return "", fmt.Errorf("%s -version: %w", t.qemuPath(), err)
		}
		t.version = firstLine(out, errors.New("no version"))
	}
	return t.version, nil
}

// saveState boots machine m cold until /init waits for its case, then has
// QEMU save it into st through a temporary file renamed into place.
func (t *Target) saveState(ctx context.Context, m machine, st *savedState) error {
	tmp, err := scratch.Dir("save")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	vm := &VM{t: t, qemu: t.qemuPath(), tmp: tmp, work: filepath.Join(tmp, "work")}
	if err := os.Mkdir(vm.work, 0o755); err != nil {
		return err
	}
	if err := vm.shareDirs(); err != nil {
		return err
	}
	if vm.console, err = newConsole(filepath.Join(tmp, "console.log")); err != nil {
		return err
	}
	defer vm.console.close()
	waiting := vm.console.watch(proto.InitWaiting)
	ram := st.ram + fmt.Sprintf(".%d.part", os.Getpid())
	defer os.Remove(ram)
	e := vm.endpoints()
	e.QMP = filepath.Join(tmp, "qmp.sock")
	e.RAM, e.RAMShared = ram, true
	if err := vm.start(ctx, nil, m.args(e), nil); err != nil { // never mounts the root: no view
		return err
	}
	defer func() {
		vm.cmd.Process.Kill()
		<-vm.exited
	}()
	// Connected, the agent's port makes the agent's read of its case wait
	// rather than return empty, so the state is saved with it blocked there.
	agent, err := vm.dial(ctx, e.Agent)
	if err != nil {
		return vm.failure("connect to the agent's port", err)
	}
	defer agent.Close()
	select {
	case <-waiting:
	case <-vm.exited:
		return vm.failure("boot to the point of saving", errors.New("QEMU exited"))
	case <-ctx.Done():
		return vm.failure("boot to the point of saving", ctx.Err())
	}
	q, err := dialQMP(ctx, vm, e.QMP)
	if err != nil {
		return err
	}
	defer q.close()
	part := st.file + fmt.Sprintf(".%d.part", os.Getpid())
	defer os.Remove(part)
	if err := setMigrationCapabilities(ctx, q, "events"); err != nil {
		return err
	}
	// The guest keeps running until its devices are saved, so the state is
	// saved running and a restored VM starts on its own; its memory, the
	// file, stays as it was then: QEMU stops the guest and is killed.
	if _, err := q.execute(ctx, "migrate", map[string]any{"uri": "exec:cat > " + shellQuote(part)}); err != nil {
		return err
	}
	var status string
	if _, err := q.waitEvent(ctx, "MIGRATION", func(data json.RawMessage) bool {
		var d struct{ Status string }
		json.Unmarshal(data, &d)
		status = d.Status
		return status == "completed" || status == "failed" || status == "cancelled"
	}); err != nil {
		return vm.failure("save", err)
	}
	if status != "completed" {
		return fmt.Errorf("migration %s: %s", status, strings.TrimSpace(vm.stderr.String()))
	}
	vm.cmd.Process.Kill()
	<-vm.exited
	digHoles(ctx, ram)
	boot, err := os.ReadFile(filepath.Join(tmp, "console.log"))
	if err != nil {
		return err
	}
	if err := cache.WriteFile(st.console, boot); err != nil {
		return err
	}
	if err := os.Rename(ram, st.ram); err != nil {
		return err
	}
	return os.Rename(part, st.file)
}

// digHoles gives back the room of the zero pages in a saved state's memory
// file, which stays sparse where they were: a restore maps it privately and
// reads a hole as zeros. The guest wrote 187 of the 297 MB a 6.1 state
// took (the kernel zeroes the pages it allocates), so a state takes about a
// third of the room. util-linux's fallocate does it, in one pass that
// leaves a few (9 to 509 blocks of 27,000 here); where it cannot (no
// fallocate, a file system without holes), the file stays as it is.
func digHoles(ctx context.Context, file string) {
	exec.CommandContext(ctx, "fallocate", "--dig-holes", file).Run()
}

// setMigrationCapabilities turns on, besides x-ignore-shared (a state's
// memory is its own file, not in the stream), the capabilities named.
func setMigrationCapabilities(ctx context.Context, q *qmp, names ...string) error {
	caps := []map[string]any{{"capability": "x-ignore-shared", "state": true}}
	for _, n := range names {
		caps = append(caps, map[string]any{"capability": n, "state": true})
	}
	_, err := q.execute(ctx, "migrate-set-capabilities", map[string]any{"capabilities": caps})
	return err
}

// restoreState has the QEMU of vm, started with -incoming defer, restore
// the state on its descriptor fd.
func (vm *VM) restoreState(ctx context.Context, sock string, fd int) error {
	q, err := dialQMP(ctx, vm, sock)
	if err != nil {
		return err
	}
	defer q.close()
	if err := setMigrationCapabilities(ctx, q); err != nil {
		return err
	}
	_, err = q.execute(ctx, "migrate-incoming", map[string]any{"uri": fmt.Sprintf("fd:%d", fd)})
	return err
}

// open opens the state for a restore, marks it used, and starts con with
// the console of the boot that saved it.
func (st *savedState) open(con *console) (*os.File, error) {
	f, err := os.Open(st.file)
	if err != nil {
		return nil, fmt.Errorf("saved state: %w", err)
	}
	now := time.Now()
	os.Chtimes(st.file, now, now)
	if boot, err := os.ReadFile(st.console); err == nil {
		con.f.Write(boot)
	}
	fmt.Fprintf(con.f, "kmodcheck: the console above is the boot that saved %s; restored from it at %s\n",
		filepath.Base(st.file), now.UTC().Format(time.RFC3339Nano))
	return f, nil
}

// discardState removes a state that did not restore, so that the next case
// saves a new one. A VM restoring it meanwhile keeps its open copy.
func (t *Target) discardState(st *savedState) { st.remove() }

// pruneStates removes, but keep, the states in dir not used for
// stateMaxUnused, those of release beyond the statesPerKernel most recently
// used that are not in use (used in the last stateInUse), and those of
// release not used for a day; and the parts of saves that never finished.
// Each build of kmodcheck, and each test binary, saves states of its own
// (its agent is in them): a CI machine that keeps its cache gained 1.5 GB
// of them a run, and ran out of room.
func pruneStates(dir, release, keep string) {
	// What a save killed outright left (a RAM file is 1 GB, sparse): a save
	// still under way is younger than its timeout.
	for _, part := range byLastUse(filepath.Join(dir, "*.part")) {
		if part.unused > stateSaveTimeout {
			os.Remove(part.file)
		}
	}
	kept := 1 // keep
	for _, st := range byLastUse(filepath.Join(dir, "*.state")) {
		if st.file == keep {
			continue
		}
		if !strings.HasPrefix(filepath.Base(st.file), release+"-") {
			if st.unused > stateMaxUnused {
				removeState(st.file)
			}
			continue
		}
		if st.unused < stateInUse || kept < statesPerKernel && st.unused < 24*time.Hour {
			kept++
			continue
		}
		removeState(st.file)
	}
}

// A cacheFile is a file of the cache and how long it has gone unused: its
// modification time, which each use touches.
type cacheFile struct {
	file   string
	unused time.Duration
}

// byLastUse returns the files that match pattern, the most recently used
// first.
func byLastUse(pattern string) []cacheFile {
	paths, _ := filepath.Glob(pattern)
	var files []cacheFile
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil {
			files = append(files, cacheFile{p, time.Since(fi.ModTime())})
		}
	}
	slices.SortFunc(files, func(a, b cacheFile) int { return cmp.Compare(a.unused, b.unused) })
	return files
}

// removeState removes the state whose devices are in file, and its lock.
func removeState(file string) {
	stateAt(file).remove()
	os.Remove(file + ".lock")
}
