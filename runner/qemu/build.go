package qemu

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/kmodcheck/kmodcheck/runner/target"
)

// makeUname writes the uname that builds see first on PATH: it reports the
// target's release for -r, so the tutorial's unchanged Makefile
// (make -C /lib/modules/$(shell uname -r)/build) builds for the target.
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
	return os.WriteFile(filepath.Join(vm.unameDir, "uname"), []byte(script), 0o755)
}

// build runs a build step on the host, where it is fast, with uname -r
// reporting the target's release.
func (vm *VM) build(ctx context.Context, step target.Step) (target.Result, error) {
	env := append(os.Environ(), "PATH="+vm.unameDir+":"+os.Getenv("PATH"))
	return target.RunLocal(ctx, step, env), nil
}
