// Package guest is kmodcheck's side inside the virtual machine: the agent
// that runs each step on a pseudo-terminal and reports the kernel log it
// produced. It speaks runner/proto to the host.
package guest
