package guest

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kmodcheck/kmodcheck/runner/target"
)

// allocTraces is what 6.1 printed for the leak fixture after rmmod: one
// site of an unloaded module, one of the kernel's own.
const allocTraces = `      2 0xffffffffc02e6027 age=211 pid=118 cpus=0
        kmalloc_trace+0x26/0x90
        0xffffffffc02e6027
        kthread_worker_fn+0xaa/0x240
        kthread+0xda/0x100

      1 cpupri_init+0x7b/0xe0 age=1567 pid=0 cpus=0
        __kmalloc+0x49/0x150
`

func TestParseAllocTraces(t *testing.T) {
	a := &agent{seen: map[string]*loadedModule{
		"leakwork": {name: "leakwork", base: 0xffffffffc02e6000, size: 16384, syms: []symbol{{0xffffffffc02e6010, "def_work_fn"}}},
	}}
	got := parseAllocTraces("kmalloc-8", allocTraces, a.symbolise)
	want := []target.Leak{{
		Cache: "kmalloc-8", Count: 2, Site: "def_work_fn+0x17 [leakwork]", Module: "leakwork",
		Stack: []string{"kmalloc_trace+0x26/0x90", "def_work_fn+0x17 [leakwork]", "kthread_worker_fn+0xaa/0x240", "kthread+0xda/0x100"},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("leaks (-want +got):\n%s", diff)
	}
	// A module never seen loaded still shows, unnamed.
	got = parseAllocTraces("kmalloc-8", allocTraces, (&agent{seen: map[string]*loadedModule{}}).symbolise)
	if len(got) != 1 || got[0].Module != "an unloaded module" || got[0].Site != "0xffffffffc02e6027" {
		t.Fatalf("unnamed leak: %+v", got)
	}
}

// A leak allocated by a module's init function: the kernel freed that code
// once the module was loaded, so no symbol names it, but where it was
// (.init.text, read while the module was loaded) does. 5.10's sysfs lists
// the site alone, without its stack.
func TestParseAllocTracesInitCode(t *testing.T) {
	a := &agent{seen: map[string]*loadedModule{
		"leaky": {name: "leaky", base: 0xffffffffc0309000, size: 16384, init: 0xffffffffc0311000,
			syms: []symbol{{0xffffffffc0309000, "leaky_exit"}}},
	}}
	const before514 = "      1 0xffffffffc031101b age=1203 pid=131 cpus=1\n      3 acpi_bind_one+0x93/0x2e0 age=1441/1523/1563 pid=1-14 cpus=0-1\n"
	got := parseAllocTraces("kmalloc-128", before514, a.symbolise)
	want := []target.Leak{{Cache: "kmalloc-128", Count: 1, Module: "leaky",
		Site: "0xffffffffc031101b [leaky] (its init code, freed once loaded: .init.text+0x1b)"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("leaks (-want +got):\n%s", diff)
	}
}

// TestInspectLeaksAtTheEnd: the state taken before the case's first step
// does not look for leaks (nothing of the case can have leaked, and the
// scan costs about a second under TCG); after a step it does, and says
// why when it cannot (on a host without the guest's slab tracking).
func TestInspectLeaksAtTheEnd(t *testing.T) {
	a := &agent{seen: map[string]*loadedModule{}}
	var start target.State
	a.addLeaks(&start)
	if start.LeakNote != "" || start.Leaks != nil {
		t.Errorf("the start looked for leaks: %q %v", start.LeakNote, start.Leaks)
	}
	a.steps = 1
	var end target.State
	a.addLeaks(&end)
	_, tracked := os.Stat("/sys/kernel/debug/slab")
	if end.LeakNote == "" && tracked != nil {
		t.Errorf("the end did not look for leaks: %+v", end)
	}
}

// BenchmarkParseAllocTraces parses as many traces as 6.1's kmalloc caches
// hold after a seed case (1.26 MB over 39 caches): the end-of-case leak
// scan does this under TCG, where it cost about 0.2 s of the guest's CPU
// with regular expressions.
func BenchmarkParseAllocTraces(b *testing.B) {
	var sb strings.Builder
	for i := 0; sb.Len() < 1_260_000; i++ {
		fmt.Fprintf(&sb, "      %d some_function_%d+0x7b/0xe0 age=1567 pid=%d cpus=0\n", i%7+1, i, i)
		sb.WriteString("        __kmalloc+0x49/0x150\n        kthread+0xda/0x100\n        ret_from_fork+0x22/0x30\n\n")
	}
	sb.WriteString(allocTraces)
	data := sb.String()
	a := &agent{seen: map[string]*loadedModule{}}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if got := parseAllocTraces("kmalloc-8", data, a.symbolise); len(got) != 1 {
			b.Fatalf("%d leaks, want 1", len(got))
		}
	}
}

// Init memory a module freed may hold the next module's init code: an
// address both modules' init spans cover is the one loaded last's.
func TestSymboliseInitCodeReused(t *testing.T) {
	a := &agent{seen: map[string]*loadedModule{
		"first":  {name: "first", base: 0xffffffffc0300000, size: 4096, init: 0xffffffffc0311000, seq: 1},
		"second": {name: "second", base: 0xffffffffc0320000, size: 4096, init: 0xffffffffc0311000, seq: 2},
	}}
	for range 20 { // the map's order varies
		if mod, _, ok := a.symbolise(0xffffffffc031101b); !ok || mod != "second" {
			t.Fatalf("symbolise: %q, %v; want the module loaded last", mod, ok)
		}
	}
}

// Since 6.4 a module's memory is several regions, and /proc/modules's base
// and size may span another module's: on 7.3, pvpanic (loaded at boot, its
// symbols never read) spanned leakwork's code, and took its leak. The
// nearest symbol names the module.
func TestSymbolisePrefersSymbols(t *testing.T) {
	a := &agent{seen: map[string]*loadedModule{
		"pvpanic":  {name: "pvpanic", base: 0xffffffffc0440000, size: 0x20000, seq: 1},
		"leakwork": {name: "leakwork", base: 0xffffffffc044b000, size: 0x1000, seq: 2, syms: []symbol{{0xffffffffc044b014, "def_work_fn"}}},
	}}
	for range 20 { // the map's order varies
		mod, site, ok := a.symbolise(0xffffffffc044b02f)
		if !ok || mod != "leakwork" || site != "def_work_fn+0x1b [leakwork]" {
			t.Fatalf("symbolise: %q %q %v; want leakwork's def_work_fn", mod, site, ok)
		}
	}
	if mod, _, ok := a.symbolise(0xffffffffc0440100); !ok || mod != "pvpanic" {
		t.Errorf("an address in pvpanic alone: %q, %v", mod, ok)
	}
}
