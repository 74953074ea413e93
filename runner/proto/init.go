package proto

import (
	"fmt"
	"strings"
)

// What the initramfs's /init (built on the host by runner/qemu) and the
// agent it starts (runner/guest) agree on: /init starts InitAgent with
// EnvRole set to RoleAgent; the agent sets EnvWork once its case came.
const (
	EnvWork   = "KMODCHECK_WORK"  // the case's work directory, shared read-write
	EnvRole   = "KMODCHECK_GUEST" // set: this process is the guest side (RoleAgent from the initramfs)
	RoleAgent = "agent"
	// InitAgent is the agent binary in the initramfs: it starts at boot,
	// so that a saved state holds it started and a restore does not pay
	// for its start (a Go binary read over 9p and started under TCG).
	InitAgent = "/bin/kmodcheck-agent"
)

// ChangesDir is where the agent mounts the changes the case's build steps
// made to the machine (the upper directory of their overlays), which it
// copies into the guest's root before a step (Request.Sync).
const ChangesDir = "/run/kmodcheck/changes"

// InitWaiting is the console line the agent prints when it waits for the
// case: a state saved after it serves every case.
const InitWaiting = "kmodcheck-init: waiting for the case"

// CaseLine is the line the host sends the waiting agent: the case's work
// directory, bytes to mix into the guest's random pool (a restored guest
// would otherwise start every case from one pool), and the reader the
// steps run as. The path may not hold white space.
func CaseLine(work string, seed []byte, r Reader) string {
	return fmt.Sprintf("%s %x %s\n", work, seed, r)
}

// ParseCaseLine parses CaseLine's line, without its newline.
func ParseCaseLine(line string) (work, seed string, r Reader, err error) {
	f := strings.Fields(line)
	if len(f) != 3 {
		return "", "", r, fmt.Errorf("case line %q: want WORK SEED READER", line)
	}
	r, err = ParseReader(f[2])
	return f[0], f[1], r, err
}
