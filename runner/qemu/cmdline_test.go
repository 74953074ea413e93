package qemu

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/kernel"
)

// TestArgs checks QEMU's command line for a kernel and options, cold and
// restoring a state, without a VM.
func TestArgs(t *testing.T) {
	m := machine{
		Kernel: "/cache/vmlinux/abc-6.1.0-57-amd64", Initrd: "/cache/initramfs/def.cpio", Root: "/", Accel: "tcg",
		CPUs: 2, Memory: "1G", Cmdline: kernelCmdline("tcg", 10377476),
	}
	e := endpoints{Work: "/tmp/work", Agent: "/tmp/vm/agent.sock", Kmsg: "/tmp/vm/kmsg.sock", Shell: "/tmp/vm/shell.sock", Alive: "/tmp/vm/alive.sock", Changes: "/tmp/vm/upper"}
	cold := []string{
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-machine", "pc", "-accel", "tcg,thread=single", "-cpu", "max", "-smp", "2", "-m", "1G",
		"-kernel", "/cache/vmlinux/abc-6.1.0-57-amd64", "-initrd", "/cache/initramfs/def.cpio",
		"-append", "console=ttyS0 loglevel=5 log_buf_len=32M panic=-1 tsc=reliable 8250.nr_uarts=1 no_timer_check slub_debug=U,kmalloc-* norandmaps mitigations=off lpj=10377476",
		"-chardev", "stdio,id=con,signal=off", "-serial", "chardev:con",
		"-fsdev", "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap",
		"-device", "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot",
		"-fsdev", "local,id=work,path=/tmp/work,security_model=none,multidevs=remap",
		"-device", "virtio-9p-pci,fsdev=work,mount_tag=work",
		"-fsdev", "local,id=changes,path=/tmp/vm/upper,security_model=none,readonly=on,multidevs=remap",
		"-device", "virtio-9p-pci,fsdev=changes,mount_tag=changes",
		"-device", "virtio-serial-pci",
		"-chardev", "socket,id=agent,path=/tmp/vm/agent.sock,server=on,wait=off",
		"-device", "virtserialport,chardev=agent,name=kmodcheck.agent",
		"-chardev", "socket,id=kmsg,path=/tmp/vm/kmsg.sock,server=on,wait=off",
		"-device", "virtserialport,chardev=kmsg,name=kmodcheck.kmsg",
		"-chardev", "socket,id=shell,path=/tmp/vm/shell.sock,server=on,wait=off",
		"-device", "virtserialport,chardev=shell,name=kmodcheck.shell",
		"-chardev", "socket,id=alive,path=/tmp/vm/alive.sock,server=on,wait=off",
		"-device", "virtserialport,chardev=alive,name=kmodcheck.alive",
		"-device", "pvpanic-pci", "-action", "panic=exit-failure",
		"-device", "vmgenid,guid=auto",
	}
	if got := m.args(e); !slices.Equal(got, cold) {
		t.Errorf("cold boot args:\n%s\nwant\n%s", strings.Join(got, " "), strings.Join(cold, " "))
	}

	e.IncomingFD, e.RAM, e.QMP = 3, "/cache/state/6.1.0-57-amd64-KEY.ram", "/tmp/vm/qmp.sock"
	restore := append(slices.Clone(cold), "-machine", "memory-backend=ram",
		"-object", "memory-backend-file,id=ram,size=1G,mem-path=/cache/state/6.1.0-57-amd64-KEY.ram,share=off",
		"-qmp", "unix:/tmp/vm/qmp.sock,server=on,wait=off", "-incoming", "defer")
	if got := m.args(e); !slices.Equal(got, restore) {
		t.Errorf("restore args:\n%s\nwant\n%s", strings.Join(got, " "), strings.Join(restore, " "))
	}

	e.IncomingFD, e.RAM, e.RAMShared = 0, "/cache/state/a,b.ram.1.part", true
	e.QMP = "/tmp/save/qmp.sock"
	save := append(slices.Clone(cold), "-machine", "memory-backend=ram",
		"-object", "memory-backend-file,id=ram,size=1G,mem-path=/cache/state/a,,b.ram.1.part,share=on",
		"-qmp", "unix:/tmp/save/qmp.sock,server=on,wait=off")
	if got := m.args(e); !slices.Equal(got, save) {
		t.Errorf("args of the boot that saves a state:\n%s\nwant\n%s", strings.Join(got, " "), strings.Join(save, " "))
	}

	m.Accel = "kvm"
	if got := m.args(endpoints{}); !slices.Contains(got, "host") || !slices.Contains(got, "kvm") {
		t.Errorf("kvm args: %v", got)
	}
}

// TestKernelCmdline: nothing case-specific reaches the kernel's command
// line, so one saved state serves every case; under TCG, and only there,
// user mappings are not randomised and the CPU mitigations are off.
func TestKernelCmdline(t *testing.T) {
	for _, w := range kernelCmdline("tcg", 0) {
		if strings.HasPrefix(w, "KMODCHECK_") || strings.HasPrefix(w, "lpj=") {
			t.Errorf(`kernelCmdline("tcg", 0) has %q`, w)
		}
	}
	if got := kernelCmdline("tcg", 123); !slices.Contains(got, "lpj=123") || !slices.Contains(got, "norandmaps") || !slices.Contains(got, "mitigations=off") {
		t.Errorf(`kernelCmdline("tcg", 123) = %v, want lpj=123, norandmaps and mitigations=off`, got)
	}
	if got := kernelCmdline("kvm", 0); slices.Contains(got, "norandmaps") || slices.Contains(got, "mitigations=off") {
		t.Errorf(`kernelCmdline("kvm", 0) = %v: a KVM guest keeps randomised mappings and the CPU's mitigations`, got)
	}
}

// TestStateKey: the key of a saved state changes with what the state
// depends on (kernel, QEMU and its version, the machine) and not with what
// differs from VM to VM.
func TestStateKey(t *testing.T) {
	dir := t.TempDir()
	vmlinux, qemuBin := filepath.Join(dir, "vmlinuz"), filepath.Join(dir, "qemu")
	for _, f := range []string{vmlinux, qemuBin} {
		if err := os.WriteFile(f, []byte("x"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tg := &Target{QEMU: qemuBin, version: "QEMU emulator version 7.2.22", Kernel: &kernel.Kernel{Image: vmlinux}}
	m := machine{Kernel: vmlinux, Initrd: "/i.cpio", Accel: "tcg", CPUs: 2, Memory: "1G", Cmdline: kernelCmdline("tcg", 1)}
	key := func() string {
		t.Helper()
		k, err := tg.stateKey(m)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	base := key()
	if key() != base {
		t.Fatal("stateKey is not stable")
	}
	changes := []struct {
		what   string
		change func()
		undo   func()
	}{
		{"memory", func() { m.Memory = "2G" }, func() { m.Memory = "1G" }},
		{"cpus", func() { m.CPUs = 1 }, func() { m.CPUs = 2 }},
		{"kernel command line", func() { m.Cmdline = kernelCmdline("tcg", 2) }, func() { m.Cmdline = kernelCmdline("tcg", 1) }},
		{"initramfs", func() { m.Initrd = "/j.cpio" }, func() { m.Initrd = "/i.cpio" }},
		{"QEMU version", func() { tg.version = "QEMU emulator version 8.0" }, func() { tg.version = "QEMU emulator version 7.2.22" }},
		{"kernel upgraded", func() { os.Chtimes(vmlinux, time.Now(), time.Now().Add(time.Hour)) }, func() {}},
		{"QEMU upgraded", func() { os.WriteFile(qemuBin, []byte("xy"), 0o755) }, func() {}},
	}
	for _, c := range changes {
		before := key()
		c.change()
		if key() == before {
			t.Errorf("a change of %s keeps the state's key", c.what)
		}
		c.undo()
	}
}

// TestOneShotArgs checks the command lines of the boots made once per
// kernel before any case, the accelerator probe and the delay calibration,
// without a VM.
func TestOneShotArgs(t *testing.T) {
	const vmlinux = "/cache/vmlinux/abc-6.1.0-57-amd64"
	hardware := func(accel, cpu string) []string {
		return []string{"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
			"-machine", "pc", "-accel", accel, "-cpu", cpu, "-smp", "1", "-m", "256M", "-kernel", vmlinux}
	}
	const calibration = "console=ttyS0 loglevel=7 panic=-1 tsc=reliable no_timer_check init=/nonexistent"
	for _, tt := range []struct {
		name      string
		got, want []string
	}{
		{"probe", probeArgs(vmlinux),
			append(hardware("kvm", "host"), "-append", "console=ttyS0 panic=-1 init=/nonexistent quiet", "-serial", "none")},
		{"calibrate tcg", calibrationArgs(vmlinux, "tcg"),
			append(hardware("tcg,thread=single", "max"), "-append", calibration, "-serial", "stdio")},
		{"calibrate kvm", calibrationArgs(vmlinux, "kvm"),
			append(hardware("kvm", "host"), "-append", calibration, "-serial", "stdio")},
	} {
		if !slices.Equal(tt.got, tt.want) {
			t.Errorf("%s args:\n%q\nwant\n%q", tt.name, tt.got, tt.want)
		}
	}
}
