package qemu

import (
	"fmt"
	"strings"

	"github.com/kmodcheck/kmodcheck/runner/proto"
)

// A machine is the virtual hardware and what it boots: everything a saved
// state depends on. A QEMU started with the same machine can restore a
// state another one saved.
type machine struct {
	Kernel  string // ELF vmlinux (PVH entry) or bzImage
	Initrd  string
	Root    string // the guest's root, shared read-only: "/" or a release root
	Accel   string // kvm or tcg
	CPUs    int
	Memory  string   // QEMU -m
	Cmdline []string // the kernel's command line, word by word
}

// endpoints are one VM's host-side ends. They are not part of the guest's
// state: a state saved with some endpoints restores with others.
type endpoints struct {
	Work                      string // the case's work directory, exported read-write over 9p
	Agent, Kmsg, Shell, Alive string // unix sockets of the virtio-serial ports
	Changes                   string // what the case's build steps changed of the machine, shared read-only
	Root                      string // what is shared as the guest's root, when not m.Root: a view of it (rootView)
	QMP                       string // a QMP socket; empty: none
	// IncomingFD > 0 restores the state readable on this descriptor, once
	// asked over QMP (restoreState): the capability a state's memory file
	// needs must be set first.
	IncomingFD int
	// RAM, when set, is the file the guest's memory is: written through
	// while a state is saved (RAMShared), copied on write when one is
	// restored, so that a restore reads only the pages the guest touches.
	RAM       string
	RAMShared bool
}

// kernelCmdline is the kernel command line: the same for every case, so
// that a state saved once serves them all (what differs per case reaches
// the waiting agent after the restore, proto.CaseLine). lpj, when not 0, presets the
// delay loop on every CPU (see loopsPerJiffy).
func kernelCmdline(accel string, lpj uint64) []string {
	// The serial console gets warnings and worse (oopses and panics raise
	// the level themselves): at 0.4 MB/s it would slow a chatty module down.
	// Every record reaches kernel.log through the agent instead.
	words := []string{
		"console=ttyS0", "loglevel=5", "log_buf_len=32M", "panic=-1", "tsc=reliable", "8250.nr_uarts=1",
		// A busy host can starve a TCG guest long enough for the timer check
		// to fail ("IO-APIC + timer doesn't work!"), as cloud images know.
		"no_timer_check",
		// Track slab allocation sites, to find what a module never freed.
		"slub_debug=U,kmalloc-*",
	}
	if accel == "tcg" {
		// TCG (QEMU 7.2, measured) keeps its translations by virtual
		// address: a program mapped somewhere new is translated anew, so
		// with randomised mappings every exec of cc1, ls or ps was.
		// Without, a guest make takes 0.6x the time (docs/isolation.md).
		words = append(words, "norandmaps")
		// TCG's CPU is QEMU's own, no reader's: the kernel's defences
		// against a real CPU's speculation (retpolines, barriers on each
		// copy from user space, return-buffer filling) only cost time
		// here. Without them guest commands take about 0.94x the time
		// (QEMU 7.2, measured: docs/speed.md).
		words = append(words, "mitigations=off")
	}
	if lpj != 0 {
		words = append(words, fmt.Sprintf("lpj=%d", lpj))
	}
	return words
}

// hardware is the part of QEMU's command line every boot of m has: the
// virtual machine, its accelerator, CPUs and memory, and what it boots
// (no initramfs when m has none).
func (m machine) hardware() []string {
	cpu := "max"
	if m.Accel == "kvm" {
		cpu = "host"
	}
	args := []string{
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-machine", "pc", "-accel", accelArg(m.Accel), "-cpu", cpu, "-smp", fmt.Sprint(m.CPUs), "-m", m.Memory,
		"-kernel", m.Kernel,
	}
	if m.Initrd != "" {
		args = append(args, "-initrd", m.Initrd)
	}
	return append(args, "-append", strings.Join(m.Cmdline, " "))
}

// probeArgs is the KVM probe's command line (chooseAccel): vmlinux under
// KVM with no init, so that it powers off as soon as it has booted
// (panic=-1 with -no-reboot exits), no console.
func probeArgs(vmlinux string) []string {
	m := machine{Kernel: vmlinux, Accel: "kvm", CPUs: 1, Memory: "256M",
		Cmdline: []string{"console=ttyS0", "panic=-1", "init=/nonexistent", "quiet"}}
	return append(m.hardware(), "-serial", "none")
}

// calibrationArgs is the command line of the boot that measures the boot
// CPU's delay loop under accel (loopsPerJiffy): one CPU, no init, the
// console on standard output, where the calibration line is read.
func calibrationArgs(vmlinux, accel string) []string {
	m := machine{Kernel: vmlinux, Accel: accel, CPUs: 1, Memory: "256M",
		Cmdline: []string{"console=ttyS0", "loglevel=7", "panic=-1", "tsc=reliable", "no_timer_check", "init=/nonexistent"}}
	return append(m.hardware(), "-serial", "stdio")
}

// args is QEMU's command line for machine m with endpoints e. It is a pure
// function of both: the unit tests check it without a VM.
func (m machine) args(e endpoints) []string {
	root := m.Root
	if e.Root != "" {
		root = e.Root
	}
	devices := []string{
		"-chardev", "stdio,id=con,signal=off", "-serial", "chardev:con",
		"-fsdev", "local,id=hostroot,path=" + root + ",security_model=none,readonly=on,multidevs=remap",
		"-device", "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot",
		"-fsdev", "local,id=work,path=" + e.Work + ",security_model=none,multidevs=remap",
		"-device", "virtio-9p-pci,fsdev=work,mount_tag=work",
		"-fsdev", "local,id=changes,path=" + e.Changes + ",security_model=none,readonly=on,multidevs=remap",
		"-device", "virtio-9p-pci,fsdev=changes,mount_tag=changes",
		"-device", "virtio-serial-pci",
		"-chardev", "socket,id=agent,path=" + e.Agent + ",server=on,wait=off",
		"-device", "virtserialport,chardev=agent,name=" + proto.PortName,
		"-chardev", "socket,id=kmsg,path=" + e.Kmsg + ",server=on,wait=off",
		"-device", "virtserialport,chardev=kmsg,name=" + proto.LogPortName,
		"-chardev", "socket,id=shell,path=" + e.Shell + ",server=on,wait=off", // shell.go
		"-device", "virtserialport,chardev=shell,name=" + proto.ShellPortName,
		"-chardev", "socket,id=alive,path=" + e.Alive + ",server=on,wait=off", // live.go
		"-device", "virtserialport,chardev=alive,name=" + proto.AlivePortName,
		"-device", "pvpanic-pci", "-action", "panic=exit-failure",
		// A new generation ID at every start: a restored kernel sees it
		// change and reseeds its random generator (drivers/virt/vmgenid.c),
		// so cases restored from one state do not share random numbers.
		"-device", "vmgenid,guid=auto",
	}
	args := append(m.hardware(), devices...)
	if e.RAM != "" {
		share := "off"
		if e.RAMShared {
			share = "on"
		}
		// QEMU merges the two -machine options. Its option syntax doubles a comma.
		args = append(args, "-machine", "memory-backend=ram", "-object",
			"memory-backend-file,id=ram,size="+m.Memory+",mem-path="+strings.ReplaceAll(e.RAM, ",", ",,")+",share="+share)
	}
	if e.QMP != "" {
		args = append(args, "-qmp", "unix:"+e.QMP+",server=on,wait=off")
	}
	if e.IncomingFD > 0 {
		args = append(args, "-incoming", "defer")
	}
	return args
}
