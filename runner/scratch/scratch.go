// Package scratch makes the temporary directories kmodcheck works in (a
// VM's sockets and console, a case's build side, a shell's FIFOs), each
// named for the process that made it, and removes those whose process is
// gone: a kmodcheck killed by SIGKILL or a broken pipe cannot remove its
// own, so the next one does. A name also says which kernel boot and PID
// namespace its PID belongs to, so that a kmodcheck in a VM or a
// container, which sees other PIDs, never takes a live process's
// directory, shared with it, for a dead one's.
package scratch

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

const prefix = "kmodcheck-"

// Dir makes a new directory in the system's temporary directory for work
// of the given kind (vm, case, save, shell): kmodcheck-KIND-PID-NS-RANDOM,
// where NS names this process's PID namespace (pidSpace).
func Dir(kind string) (string, error) {
	return os.MkdirTemp("", fmt.Sprintf("%s%s-%d-%s-", prefix, kind, os.Getpid(), pidSpace()))
}

// pidSpace names the PID namespace this process's PIDs are numbers in:
// the kernel's boot (each boot, and each VM, has its own boot_id) and the
// namespace's inode, hashed to 8 hex digits.
func pidSpace() string {
	boot, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	ns, _ := os.Readlink("/proc/self/ns/pid")
	sum := sha256.Sum256([]byte(strings.TrimSpace(string(boot)) + " " + ns))
	return hex.EncodeToString(sum[:4])
}

// Alive reports whether process pid may still run: this one, or one the
// kernel has not forgotten (a PID reused by another process counts, so
// that nothing of a live process is ever taken for stale).
func Alive(pid int) bool {
	return pid == os.Getpid() || !errors.Is(unix.Kill(pid, 0), unix.ESRCH)
}

// RemoveStale removes the directories Dir made, in this PID namespace,
// for processes that are gone, and says which it removed.
func RemoveStale() []string {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), prefix+"*"))
	here := pidSpace()
	var removed []string
	for _, d := range dirs {
		pid, space, ok := owner(filepath.Base(d))
		if ok && space == here && !Alive(pid) && os.RemoveAll(d) == nil {
			removed = append(removed, d)
		}
	}
	return removed
}

// owner is the PID, and its namespace, in a name Dir made:
// KIND-PID-NS-RANDOM after the prefix.
func owner(name string) (pid int, space string, ok bool) {
	parts := strings.Split(strings.TrimPrefix(name, prefix), "-")
	if len(parts) != 4 {
		return 0, "", false
	}
	pid, err := strconv.Atoi(parts[1])
	return pid, parts[2], err == nil && pid > 0
}
