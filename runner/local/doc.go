// Package local runs a case's steps on the kernel it runs on: the guest
// agent inside the VM and the host target on the machine's own kernel
// both use it, and keep only what is theirs (the agent its protocol with
// the host; the host target its turn on the one kernel and what it
// unloads).
//
// Steps is the case's shell session: one interactive bash on a
// pseudo-terminal (Shell; nested shells, nested.go; a step that waits
// for input, input.go), with sudo or its stand-in, or /bin/sh -c where
// there is no bash; and what the kernel has loaded (/proc, Inspect). A
// Handover gives the reader what kmodcheck wrote between steps. KernelLog is the kernel log as the steps see
// it: read as it comes, each record given the task that printed it by the
// printk trace (PrintkTrace), and cut where each step ends without
// writing into the log what a reader's dmesg would show.
package local
