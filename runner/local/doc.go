// Package local runs a case's steps on the kernel it runs on: the guest
// agent inside the VM, and the host target on the machine's own kernel,
// both use it. It holds the step's shell session (one interactive bash on
// a pseudo-terminal, or /bin/sh -c where there is no bash; nested shells;
// sudo or its stand-in), the printk trace that names the task behind each
// kernel record, and the /proc readings of what the kernel has loaded.
package local
