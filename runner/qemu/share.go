package qemu

import (
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
)

// shareDirs makes the VM's shared directory of the machine's changes the
// guest takes (the case's build overlays' upper directory; an empty one of
// the VM's own when it has none) before QEMU exports it.
func (vm *VM) shareDirs() error {
	if vm.changes == "" {
		vm.changes = filepath.Join(vm.tmp, "changes")
	}
	return os.MkdirAll(vm.changes, 0o755)
}

// staticAgent checks that the agent can run in a root other than the
// host's: a dynamically linked one needs the host's C library.
func staticAgent(agent string) error {
	f, err := elf.Open(agent)
	if err != nil {
		return fmt.Errorf("agent %s: %w", agent, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("agent %s is dynamically linked, so it cannot run in a release root: build kmodcheck (and go test) with CGO_ENABLED=0, as make does", agent)
		}
	}
	return nil
}
