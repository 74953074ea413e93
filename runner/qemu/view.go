package qemu

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kmodcheck/kmodcheck/runner/hide"
	"github.com/kmodcheck/kmodcheck/runner/proto"
)

// rootView returns the view QEMU is to share as the guest's root, and sets
// e.Root to it, when the guest's root is the host's own ("/") and
// kmodcheck runs as root; else nil. QEMU's 9p server reads the host's root
// with root's rights, and a guest that is root too could take anything
// through it: unmount the guest's tmpfs over /root and read the host's
// beneath, or a module could read the share directly. So QEMU runs in a
// mount namespace of its own (the agent binary in proto.RoleView makes it,
// then execs QEMU), sharing a view of the host's root in which the hidden
// directories are empty tmpfs (hide.Dirs and what only root may
// read, vm.rootOnly), hidden files are empty, the shadow files are
// scrubbed and the API directories (hide.APIDirs: the host's processes,
// devices, sockets, other cases' files) are empty. Release roots, which
// kmodcheck made, and QEMU run by a user, whose 9p server reads only what
// the user may, are shared as they are.
func (vm *VM) rootView(e *endpoints) (*proto.View, error) {
	if vm.machine != "/" || os.Geteuid() != 0 {
		return nil, nil
	}
	view := filepath.Join(vm.tmp, "root")
	empty := filepath.Join(vm.tmp, "empty")
	if err := os.MkdirAll(view, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		return nil, err
	}
	scrubbed, err := scrubShadowFiles(vm.machine, filepath.Join(vm.tmp, "scrubbed"))
	if err != nil {
		return nil, err
	}
	e.Root = view
	return &proto.View{Mounts: viewMounts(view, empty, vm.machine, vm.rootOnly, scrubbed)}, nil
}

// viewMounts are the mounts that make, at view, the guest's view of root.
func viewMounts(view, empty, root string, rootOnly hide.Private, scrubbed map[string]string) []proto.Mount {
	mounts := []proto.Mount{{Source: root, Target: view, Bind: true, Recursive: true}}
	for _, d := range hide.APIDirs {
		if fi, err := os.Stat(filepath.Join(root, d)); err == nil && fi.IsDir() {
			mounts = append(mounts, proto.Mount{Source: "kmodcheck", Target: view + d, Type: "tmpfs", Data: "mode=" + apiMode(d), Hides: true})
		}
	}
	dirs, files := hiddenIn(root, rootOnly)
	for _, d := range dirs {
		mounts = append(mounts, proto.Mount{Source: "hidden", Target: view + d, Type: "tmpfs", Data: "mode=0755", Hides: true})
	}
	for _, f := range files {
		mounts = append(mounts, proto.Mount{Source: empty, Target: view + f, Bind: true, Hides: true})
	}
	for _, f := range slices.Sorted(maps.Keys(scrubbed)) {
		mounts = append(mounts, proto.Mount{Source: scrubbed[f], Target: view + f, Bind: true, Hides: true})
	}
	return mounts
}

// viewCommand is the command that makes v and runs argv in it: the agent
// binary in proto.RoleView, given v in a file of the VM's.
func (vm *VM) viewCommand(ctx context.Context, v *proto.View, argv []string) (*exec.Cmd, error) {
	v.Argv = argv
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	file := filepath.Join(vm.tmp, "view.json")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, vm.t.Agent)
	cmd.Env = append(os.Environ(), proto.EnvRole+"="+proto.RoleView, proto.EnvView+"="+file)
	return cmd, nil
}

// apiMode is the mode of an API directory's fresh tmpfs: the temporary
// directories are everyone's, with the sticky bit.
func apiMode(dir string) string {
	if strings.HasSuffix(dir, "tmp") {
		return "1777"
	}
	return "0755"
}
