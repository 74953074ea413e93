package guest

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/kmodcheck/kmodcheck/runner/proto"
)

// notInVM says why this process cannot be kmodcheck's guest side in the
// given role, or "" when it can. The guest side mounts over the system's
// directories and powers the machine off: it must run only where
// kmodcheck's initramfs started it (by PID 1, from the initramfs's copy of
// the agent, in a machine that has virtio-serial ports, which QEMU gave
// it). An environment variable alone, set by mistake on a host, is not
// enough.
func notInVM(role string) string {
	switch role {
	case proto.RoleView:
		// The host's side: it mounts only in a namespace of its own.
		if os.Getenv(proto.EnvView) == "" {
			return "no " + proto.EnvView
		}
		return ""
	case proto.RoleAgent:
		if ppid := os.Getppid(); ppid != 1 {
			return fmt.Sprintf("this process was not started by PID 1 (its parent is %d)", ppid)
		}
	default:
		return fmt.Sprintf("unknown role %q", role)
	}
	// devtmpfs names a virtio-serial port vportNpM (/init waits for one).
	if ports, _ := filepath.Glob("/dev/vport*p*"); len(ports) == 0 {
		return "no virtio-serial port (/dev/vport*): not a VM kmodcheck booted"
	}
	if exe, _ := os.Executable(); exe != proto.InitAgent {
		return fmt.Sprintf("this process is not the initramfs's agent %s", proto.InitAgent)
	}
	return ""
}

// guestRole is the role this process may take, "" if none: it warns, once,
// about a role asked for where it cannot be, and forgets it, so that the
// programs it starts do not warn again.
func guestRole() string {
	role := os.Getenv(proto.EnvRole)
	if role == "" {
		return ""
	}
	if why := notInVM(role); why != "" {
		fmt.Fprintf(os.Stderr, "kmodcheck: %s=%s ignored: %s\n", proto.EnvRole, role, why)
		os.Unsetenv(proto.EnvRole)
		return ""
	}
	return role
}
