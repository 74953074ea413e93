package qemu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cavaliergopher/cpio"
	"github.com/google/go-cmp/cmp"

	"github.com/kmodcheck/kmodcheck/runner/cache"
	"github.com/kmodcheck/kmodcheck/runner/proto"
)

// TestBootModuleFiles: the boot modules come with their dependencies first,
// each once; built-in ones and a missing optional one need no file, and a
// required one that is neither is an error naming it.
func TestBootModuleFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("modules.dep", `kernel/drivers/char/virtio_console.ko.xz:
kernel/net/9p/9pnet_virtio.ko.xz: kernel/net/9p/9pnet.ko.xz
kernel/net/9p/9pnet.ko.xz:
kernel/fs/9p/9p.ko.xz: kernel/fs/netfs/netfs.ko.xz kernel/net/9p/9pnet.ko.xz
kernel/fs/netfs/netfs.ko.xz:
kernel/sound/unrelated.ko.xz: kernel/fs/netfs/netfs.ko.xz
`)
	write("modules.builtin", "kernel/drivers/virtio/virtio_pci.ko\nkernel/fs/overlayfs/overlay.ko\n")
	got, err := bootModuleFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range []string{"drivers/char/virtio_console", "net/9p/9pnet", "net/9p/9pnet_virtio", "fs/netfs/netfs", "fs/9p/9p"} {
		want = append(want, filepath.Join(dir, "kernel", f+".ko.xz"))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("boot module files (-want +got):\n%s", diff)
	}

	write("modules.builtin", "")
	if _, err := bootModuleFiles(dir); err == nil || !strings.Contains(err.Error(), "virtio_pci is neither built in nor a module") {
		t.Fatalf("without virtio_pci: %v", err)
	}
}

// TestInitramfsHoldsAgent: the initramfs holds the agent, which starts
// before a state is saved, so another agent makes another initramfs (and
// so another state); one unused for a day goes when a new one is built.
func TestInitramfsHoldsAgent(t *testing.T) {
	dir := t.TempDir()
	modules := filepath.Join(dir, "modules")
	write := func(name, text string) string {
		file := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return file
	}
	write("modules/modules.dep", "")
	var builtin []string
	for _, m := range bootModules {
		builtin = append(builtin, "kernel/"+m.name+".ko")
	}
	write("modules/modules.builtin", strings.Join(builtin, "\n"))
	busybox, agent := write("busybox", "busybox"), write("agent-1", "the first agent")
	c := cache.Dir(filepath.Join(dir, "cache"))
	ctx := context.Background()

	first, err := initramfs(ctx, modules, busybox, agent, c)
	if err != nil {
		t.Fatal(err)
	}
	if got := cpioFiles(t, first)[strings.TrimPrefix(proto.InitAgent, "/")]; got != "the first agent" {
		t.Fatalf("%s in the initramfs: %q, want the agent", proto.InitAgent, got)
	}
	if again, err := initramfs(ctx, modules, busybox, agent, c); err != nil || again != first {
		t.Fatalf("the same agent again: %s, %v; want %s", again, err, first)
	}
	old := time.Now().Add(-2 * initramfsMaxUnused)
	if err := os.Chtimes(first, old, old); err != nil {
		t.Fatal(err)
	}
	second, err := initramfs(ctx, modules, busybox, write("agent-2", "the second agent"), c)
	if err != nil {
		t.Fatal(err)
	}
	if second == first {
		t.Fatalf("another agent, the same initramfs %s", second)
	}
	if _, err := os.Stat(first); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("an initramfs unused for two days is still there: %v", err)
	}
}

// cpioFiles reads the regular files of a cpio archive.
func cpioFiles(t *testing.T, file string) map[string]string {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	files := map[string]string{}
	r := cpio.NewReader(f)
	for {
		h, err := r.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Mode.IsRegular() {
			data, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			files[h.Name] = string(data)
		}
	}
}

// TestPruneInitramfs: of fifteen initramfs files unused for two hours, the
// twelve most recently used stay; one in use (used in the last hour) stays
// beyond them, and one unused for two days goes even among them.
func TestPruneInitramfs(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	touch := func(name string, unused time.Duration) {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(f, now.Add(-unused), now.Add(-unused))
	}
	for i := range 15 {
		touch(fmt.Sprintf("old%02d.cpio", i), 2*time.Hour+time.Duration(i)*time.Minute)
	}
	touch("inuse.cpio", 30*time.Minute)
	touch("stale.cpio", 48*time.Hour)
	pruneInitramfs(dir)
	var left []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		left = append(left, e.Name())
	}
	// In use, then the eleven most recently used of the old ones.
	want := []string{"inuse.cpio"}
	for i := range 11 {
		want = append(want, fmt.Sprintf("old%02d.cpio", i))
	}
	slices.Sort(want)
	if !slices.Equal(left, want) {
		t.Errorf("left %v, want %v", left, want)
	}
}

// TestLaunchTouchesInitramfs: each VM start marks its initramfs used, so
// that a run under way keeps it (pruneInitramfs).
func TestLaunchTouchesInitramfs(t *testing.T) {
	f := newFakeVM(t, fakeServe)
	initrd := filepath.Join(t.TempDir(), "initramfs.cpio")
	if err := os.WriteFile(initrd, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-3 * time.Hour)
	os.Chtimes(initrd, old, old)
	f.launch.machine.Initrd = initrd
	if _, err := f.start(t, context.Background()); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(initrd); err != nil || time.Since(fi.ModTime()) > time.Minute {
		t.Errorf("the initramfs after a VM start: %v, %v; want it used now", fi.ModTime(), err)
	}
}
