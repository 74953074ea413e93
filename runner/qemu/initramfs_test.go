package qemu

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
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
