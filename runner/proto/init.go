package proto

import "fmt"

// What the initramfs's /init (built on the host by runner/qemu) and the
// agent it starts (runner/guest) agree on: /init exports these to
// the agent.
const (
	EnvWork   = "KMODCHECK_WORK"  // the case's work directory, shared read-write
	EnvRole   = "KMODCHECK_GUEST" // set: this process is the guest side (RoleAgent from the initramfs)
	RoleAgent = "agent"
)

// Where /init mounts the host's shares in the guest: the agent binary's
// directory, and the changes the case's build steps made to the machine
// (the upper directory of their overlays), which the agent copies into the
// guest's root before a step (Request.Sync).
const (
	AgentDir   = "/run/kmodcheck/agent"
	ChangesDir = "/run/kmodcheck/changes"
)

// InitWaiting is the console line /init prints when it waits for the case:
// a state saved after it serves every case.
const InitWaiting = "kmodcheck-init: waiting for the case"

// CaseLine is the line the host sends /init: the case's work directory, the
// agent to hand over to, and bytes to mix into the guest's random pool
// (a restored guest would otherwise start every case from one pool).
// Neither path may hold white space.
func CaseLine(work, agent string, seed []byte) string {
	return fmt.Sprintf("%s %s %x\n", work, agent, seed)
}
