// Package scratch makes the temporary directories kmodcheck works in (a
// VM's sockets and console, a case's build side, a shell's FIFOs), each
// named for the process that made it, and removes those whose process is
// gone: a kmodcheck killed by SIGKILL or a broken pipe cannot remove its
// own, so the next one does.
package scratch

import (
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
// of the given kind (vm, case, save, shell): kmodcheck-KIND-PID-RANDOM.
func Dir(kind string) (string, error) {
	return os.MkdirTemp("", fmt.Sprintf("%s%s-%d-", prefix, kind, os.Getpid()))
}

// Alive reports whether process pid may still run: this one, or one the
// kernel has not forgotten (a PID reused by another process counts, so
// that nothing of a live process is ever taken for stale).
func Alive(pid int) bool {
	return pid == os.Getpid() || !errors.Is(unix.Kill(pid, 0), unix.ESRCH)
}

// RemoveStale removes the directories Dir made for processes that are
// gone, and says which it removed.
func RemoveStale() []string {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), prefix+"*"))
	var removed []string
	for _, d := range dirs {
		if pid, ok := owner(filepath.Base(d)); ok && !Alive(pid) && os.RemoveAll(d) == nil {
			removed = append(removed, d)
		}
	}
	return removed
}

// owner is the PID in a name Dir made, KIND-PID-RANDOM after the prefix.
func owner(name string) (int, bool) {
	parts := strings.Split(strings.TrimPrefix(name, prefix), "-")
	if len(parts) != 3 {
		return 0, false
	}
	pid, err := strconv.Atoi(parts[1])
	return pid, err == nil && pid > 0
}
