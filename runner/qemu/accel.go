package qemu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/cache"
)

// kvmProbeDeadline bounds the KVM probe. A working KVM boots the kernel and
// powers it off in about a second; a nested KVM that hangs would hang forever.
const kvmProbeDeadline = 6 * time.Second

// chooseAccel decides between KVM and TCG. "kvm" and "tcg" are taken as
// asked; "auto" boots the kernel under KVM once, straight to power-off, and
// falls back to TCG unless that finished in time. /dev/kvm opening is not
// enough: here KVM_CREATE_VM succeeds and the guest then hangs. The verdict is
// cached per host boot.
func (t *Target) chooseAccel(ctx context.Context, vmlinux string) (accel, note string, err error) {
	switch t.Accel {
	case "kvm", "tcg":
		return t.Accel, "accelerator " + t.Accel + " (asked for)", nil
	case "", "auto":
	default:
		return "", "", fmt.Errorf("unknown accelerator %q (want auto, kvm or tcg)", t.Accel)
	}
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return "tcg", fmt.Sprintf("accelerator tcg: /dev/kvm unusable (%v)", err), nil
	}
	f.Close()

	bootID, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	qemuKey, _ := cache.StatKey(t.qemuPath())
	verdict := t.Cache.Path("probe", cache.Key("kvm", string(bootID), qemuKey, vmlinux))
	if b, err := os.ReadFile(verdict); err == nil {
		accel, note, _ := strings.Cut(string(b), "\n")
		return accel, note + " (probed earlier this host boot)", nil
	}
	accel, note = t.probeKVM(ctx, vmlinux)
	cache.WriteFile(verdict, []byte(accel+"\n"+note))
	return accel, note, nil
}

// probeKVM boots vmlinux under KVM with no init (probeArgs): the kernel
// runs until it finds no init and powers off.
func (t *Target) probeKVM(ctx context.Context, vmlinux string) (accel, note string) {
	ctx, cancel := context.WithTimeout(ctx, kvmProbeDeadline)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, t.qemuPath(), probeArgs(vmlinux)...)
	out, err := runDying(cmd) // process.go
	took := time.Since(start).Round(10 * time.Millisecond)
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return "tcg", fmt.Sprintf("accelerator tcg: a KVM guest did not finish booting within %v (nested KVM hangs here)", kvmProbeDeadline)
	case err != nil:
		return "tcg", fmt.Sprintf("accelerator tcg: KVM failed in %v: %s", took, firstLine(out, err))
	}
	return "kvm", fmt.Sprintf("accelerator kvm: probe boot took %v", took)
}

func firstLine(out []byte, err error) string {
	s := strings.TrimSpace(string(out))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if s == "" {
		return err.Error()
	}
	return s
}

// AccelNote says which accelerator ran and why, once a VM has started.
func (t *Target) AccelNote() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.note == "" {
		return "accelerator not chosen yet"
	}
	return t.note
}

// accelArg is QEMU's -accel value. TCG runs the vCPUs in one thread: with
// one host thread per vCPU, 6.12 kernels were seen to trip over their own
// text patching while booting (an int3 in sched_clock_cpu, "Fatal exception
// in interrupt"), and on two host cores running two VMs at once, a thread
// per vCPU buys nothing.
func accelArg(accel string) string {
	if accel == "tcg" {
		return "tcg,thread=single"
	}
	return accel
}
