package qemu

import (
	"debug/elf"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// shareDirs makes the VM's shared directories before QEMU exports them:
// the agent's (a link to the agent binary, or a copy where the two are on
// different filesystems: the guest's root need not hold kmodcheck) and the
// machine's changes the guest takes (the case's build overlays' upper
// directory; an empty one of the VM's own when it has none).
func (vm *VM) shareDirs() error {
	if vm.changes == "" {
		vm.changes = filepath.Join(vm.tmp, "changes")
	}
	for _, d := range []string{filepath.Join(vm.tmp, "agent"), vm.changes} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	dst := filepath.Join(vm.tmp, "agent", filepath.Base(vm.t.Agent))
	if err := os.Link(vm.t.Agent, dst); err == nil {
		return nil
	}
	return copyFile(vm.t.Agent, dst)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("agent: copy %s: %w", src, err)
	}
	return out.Close()
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
