package guest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/kmodcheck/kmodcheck/runner/local"
	"github.com/kmodcheck/kmodcheck/runner/target"
)

// A loadedModule is a module as /proc/modules shows it, with the symbols
// it had while it was loaded (from its .ko, else /proc/kallsyms): after it
// is unloaded, the kernel can no longer name its code, but we still can.
type loadedModule struct {
	name string
	base uint64
	size uint64
	syms []symbol // sorted by address
	// init is where its init code was (.init.text), which the kernel
	// frees once the module is loaded and names no more: 0 if unknown.
	init uint64
	seq  int // the order it was seen loaded in: a later one may reuse freed init memory
}

// initSpan bounds the init code an address is taken to be in: a module's
// init functions are small, and freed memory is not another module's
// unless that module's symbols say so first.
const initSpan = 64 << 10

type symbol struct {
	addr uint64
	name string
}

// noteModules records modules loaded since the last call, with their
// symbols, so that leaks can be named after they are unloaded.
func (a *agent) noteModules() {
	mods, err := local.ProcModules()
	if err != nil {
		return
	}
	var fresh []*loadedModule
	for _, m := range mods {
		if old, ok := a.seen[m.Name]; !ok || old.base != m.Base {
			fresh = append(fresh, &loadedModule{name: m.Name, base: m.Base, size: m.Size})
		}
	}
	if len(fresh) == 0 {
		return
	}
	for _, m := range fresh {
		a.loads++
		m.seq = a.loads
		a.seen[m.name] = m
	}
	if a.steps == 0 {
		// The modules the guest booted with are not the case's: their
		// symbols would cost a read of all of /proc/kallsyms at every boot.
		return
	}
	unnamed := map[string]*loadedModule{}
	for _, m := range fresh {
		var err error
		if m.syms, err = koSymbols(m.name, a.work); err != nil {
			unnamed[m.name] = m
		}
		m.init, _ = sectionAddr(m.name, ".init.text")
	}
	if len(unnamed) > 0 {
		kallsymsOf(unnamed)
	}
}

// kallsymsOf reads the symbols of modules, by name, from /proc/kallsyms:
// for modules not loaded from a .ko in the work directory (koSymbols).
func kallsymsOf(byName map[string]*loadedModule) {
	f, err := os.Open("/proc/kallsyms")
	if err != nil {
		return
	}
	defer f.Close()
	// Its 97,000 lines (6.1) in reads of 256 KB, not 4 KB, and a string
	// made only of a module's line: under TCG that is 0.25 s, not 0.3 to
	// 0.4, for the kernel's 0.2 s of making them.
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 256<<10), 256<<10)
	for sc.Scan() {
		if !bytes.HasSuffix(sc.Bytes(), []byte("]")) {
			continue
		}
		line := sc.Text()
		i := strings.LastIndexByte(line, '[')
		m := byName[line[i+1:len(line)-1]]
		if m == nil {
			continue
		}
		fs := strings.Fields(line[:i])
		if len(fs) < 3 {
			continue
		}
		addr, err := strconv.ParseUint(fs[0], 16, 64)
		if err == nil {
			m.syms = append(m.syms, symbol{addr, fs[2]})
		}
	}
	for _, m := range byName {
		sort.Slice(m.syms, func(i, j int) bool { return m.syms[i].addr < m.syms[j].addr })
	}
}

// symbolise names an address in a module seen loaded: "leak_it+0x1b [leak]".
// The nearest symbol at or below it, of any module, names it first: since
// 6.4 a module's memory is several regions, and the base and size
// /proc/modules gives may span another module's (a module loaded at boot,
// without symbols, would take a later one's leak). Then a module's init
// code (freed once loaded), then the span of a module without symbols.
// Where two modules could own it, the one loaded last does: freed memory
// is reused.
func (a *agent) symbolise(addr uint64) (module, site string, ok bool) {
	var near *symbol
	var owner *loadedModule
	for _, m := range a.seen {
		i := sort.Search(len(m.syms), func(i int) bool { return m.syms[i].addr > addr }) - 1
		if i >= 0 && (near == nil || m.syms[i].addr > near.addr) {
			near, owner = &m.syms[i], m
		}
	}
	if near != nil && (addr-near.addr < 0x1000 || owner.holds(addr)) {
		return owner.name, fmt.Sprintf("%s+%#x [%s]", near.name, addr-near.addr, owner.name), true
	}
	if m := a.lastLoaded(func(m *loadedModule) bool { return m.init != 0 && addr >= m.init && addr-m.init < initSpan }); m != nil {
		return m.name, fmt.Sprintf("%#x [%s] (its init code, freed once loaded: .init.text+%#x)", addr, m.name, addr-m.init), true
	}
	if m := a.lastLoaded(func(m *loadedModule) bool { return m.holds(addr) }); m != nil {
		return m.name, fmt.Sprintf("%#x [%s]", addr, m.name), true
	}
	return "", "", false
}

// holds reports whether addr lies between the module's base and its end,
// as /proc/modules gives them.
func (m *loadedModule) holds(addr uint64) bool { return addr >= m.base && addr < m.base+m.size }

// lastLoaded is the module seen loaded last of those ok accepts; nil if none.
func (a *agent) lastLoaded(ok func(*loadedModule) bool) *loadedModule {
	var last *loadedModule
	for _, m := range a.seen {
		if ok(m) && (last == nil || m.seq > last.seq) {
			last = m
		}
	}
	return last
}

// isModuleAddr reports whether s is an address the kernel printed raw in
// module space (0xffffffffc0000000 up): code it can no longer name.
// String tests, not a regular expression: the end-of-case scan parses a
// megabyte of traces under TCG.
func isModuleAddr(s string) bool {
	if len(s) != 18 || !strings.HasPrefix(s, "0xffffffff") || (s[10] != 'c' && s[10] != 'f') {
		return false
	}
	for _, c := range []byte(s[11:]) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// traceHeader splits an allocation site's header line ("  2 site age=...")
// into its count and site; ok is false for any other line.
func traceHeader(line string) (count int, site string, ok bool) {
	if strings.HasPrefix(line, "        ") { // a stack frame
		return 0, "", false
	}
	digits, rest, ok := strings.Cut(strings.TrimLeft(line, " \t"), " ")
	n, err := strconv.Atoi(digits)
	if !ok || err != nil || n < 0 || rest == "" || rest[0] == ' ' {
		return 0, "", false
	}
	site, _, _ = strings.Cut(rest, " ")
	return n, site, true
}

// leaks reads the slab allocation traces (slub_debug=U on the kmalloc
// caches, debugfs mounted) and returns the objects whose allocating code
// lies in module space but no longer has a symbol: code of an unloaded
// module. Before 5.14 the kernel has no traces in debugfs, only each
// cache's allocation sites in sysfs (leaksBefore514).
func (a *agent) leaks() ([]target.Leak, string) {
	files, _ := filepath.Glob("/sys/kernel/debug/slab/kmalloc-*/alloc_traces")
	if len(files) == 0 {
		return a.leaksBefore514()
	}
	var leaks []target.Leak
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		leaks = append(leaks, parseAllocTraces(filepath.Base(filepath.Dir(file)), string(data), a.symbolise)...)
	}
	return leaks, ""
}

// sitesPageEnd is where a kernel before 5.14 stops listing a cache's
// allocation sites: it writes no line once a page (4096 bytes) less
// KSYM_SYMBOL_LEN and 100 is used (mm/slub.c, list_locations).
// KSYM_SYMBOL_LEN is about 240 on x86_64; taking 128 names a cache cut
// short a little early, never too late.
const sitesPageEnd = 4096 - 128 - 100

// leaksBefore514 reads /sys/kernel/slab/kmalloc-*/alloc_calls, the
// allocation sites of each cache without their stacks. The kernel lists
// them by address, modules' last, and one page of them at most: a cache
// whose list may have been cut short is named in the note, since a leak
// there cannot be seen.
func (a *agent) leaksBefore514() ([]target.Leak, string) {
	files, _ := filepath.Glob("/sys/kernel/slab/kmalloc-*/alloc_calls")
	if len(files) == 0 {
		return nil, "the kernel does not track slab allocations (boot with slub_debug=U and debugfs)"
	}
	var leaks []target.Leak
	var cut, unread []string
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			unread = append(unread, filepath.Base(filepath.Dir(file)))
			continue
		}
		cache := filepath.Base(filepath.Dir(file))
		if len(data) > sitesPageEnd-200 { // within a long line of the end
			cut = append(cut, cache)
		}
		leaks = append(leaks, parseAllocTraces(cache, string(data), a.symbolise)...)
	}
	var notes []string
	if len(unread) > 0 {
		notes = append(notes, fmt.Sprintf("the allocation sites of %s could not be read (slub_debug=U off?)", strings.Join(unread, ", ")))
	}
	if len(cut) > 0 {
		notes = append(notes, fmt.Sprintf("this kernel (before 5.14) lists one page of allocation sites per cache, modules' last: %s may have been cut short, and a leak there not seen", strings.Join(cut, ", ")))
	}
	return leaks, strings.Join(notes, "; ")
}

// parseAllocTraces reads one cache's alloc_traces: a header line per
// allocation site ("  2 def_work_fn+0x1b/0x40 [mod] age=... pid=..."), then
// its stack, indented. It keeps the sites in module space that the kernel
// could not name: code of a module no longer loaded.
func parseAllocTraces(cache, data string, symbolise func(uint64) (module, site string, ok bool)) []target.Leak {
	var leaks []target.Leak
	var cur *target.Leak
	for line := range strings.Lines(data) {
		line = strings.TrimSuffix(line, "\n")
		if n, site, ok := traceHeader(line); ok {
			cur = nil
			if !isModuleAddr(site) {
				continue
			}
			addr, _ := strconv.ParseUint(site[2:], 16, 64)
			l := target.Leak{Cache: cache, Count: n, Site: site, Module: "an unloaded module"}
			if mod, named, ok := symbolise(addr); ok {
				l.Module, l.Site = mod, named
			}
			leaks = append(leaks, l)
			cur = &leaks[len(leaks)-1]
			continue
		}
		if cur == nil || strings.TrimSpace(line) == "" {
			continue
		}
		frame := strings.TrimSpace(line)
		if isModuleAddr(frame) {
			addr, _ := strconv.ParseUint(frame[2:], 16, 64)
			if mod, site, ok := symbolise(addr); ok {
				frame = site
				if cur.Module == "an unloaded module" {
					cur.Module = mod
				}
			}
		}
		cur.Stack = append(cur.Stack, frame)
	}
	return leaks
}
