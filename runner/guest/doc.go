// Package guest is kmodcheck's side inside the virtual machine: PID 1's
// set-up (mounts, what the machine hides, the case's reader: reader.go),
// the agent that answers the host in runner/proto and runs each step with
// runner/local as the reader, taking a
// build's changes to the machine first (sync.go) and starting journald or
// rsyslogd for a step that reads the log through them, and the leaks
// left by unloaded modules (inspect.go). It also makes, on the host, the
// guest's view of the host's root (view.go).
package guest
