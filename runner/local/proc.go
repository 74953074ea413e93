package local

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// These read the running kernel's state from /proc: the host target reads
// its own kernel, the guest agent the guest's.

// A LoadedModule is one line of /proc/modules.
type LoadedModule struct {
	Name string
	Base uint64 // 0 unless the reader may see kernel addresses
	Size uint64
}

// ProcModules lists the loaded modules.
func ProcModules() ([]LoadedModule, error) {
	f, err := os.Open("/proc/modules")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var mods []LoadedModule
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 6 {
			continue
		}
		size, _ := strconv.ParseUint(fs[1], 10, 64)
		base, _ := strconv.ParseUint(strings.TrimPrefix(fs[5], "0x"), 16, 64)
		mods = append(mods, LoadedModule{Name: fs[0], Base: base, Size: size})
	}
	return mods, sc.Err()
}

// ProcKthreads lists the names of the kernel's threads (kthreadd's
// children), sorted.
func ProcKthreads() []string {
	var names []string
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		stat, err := os.ReadFile(d + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		s := string(stat)
		fs := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fs) < 2 || fs[1] != "2" {
			continue
		}
		if comm, err := os.ReadFile(d + "/comm"); err == nil {
			names = append(names, strings.TrimSpace(string(comm)))
		}
	}
	sort.Strings(names)
	return names
}

// alive reports whether pid runs (and is no zombie).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i >= 0 && !strings.HasPrefix(string(b[i:]), ") Z") && !strings.HasPrefix(string(b[i:]), ") X")
}

// ProcTainted reads /proc/sys/kernel/tainted.
func ProcTainted() uint64 {
	b, err := os.ReadFile("/proc/sys/kernel/tainted")
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return n
}
