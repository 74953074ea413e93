package kmsg

import (
	"regexp"
	"strings"
)

// A Fault is a report the kernel printed because something went wrong: an
// oops, a BUG, a WARN, a panic, a hung task, a lockup.
type Fault struct {
	Kind  string   // oops, bug, warning, panic, hung task, lockup, rcu stall
	Title string   // the line that names it
	Lines []string // the report as the kernel printed it
}

// faultStarts are the first lines of the kernel's reports, as LAVA and
// syzkaller look for them, with the kind each starts.
var faultStarts = []struct {
	re   *regexp.Regexp
	kind string
}{
	{regexp.MustCompile(`^-+\[ cut here \]-+$`), ""}, // kind from the next line
	{regexp.MustCompile(`^kernel BUG at `), "bug"},
	{regexp.MustCompile(`^(watchdog: )?BUG: (soft|hard) lockup`), "lockup"},
	{regexp.MustCompile(`^BUG: `), "bug"},
	{regexp.MustCompile(`^Oops: `), "oops"},
	{regexp.MustCompile(`^general protection fault`), "oops"},
	{regexp.MustCompile(`^WARNING: `), "warning"},
	{regexp.MustCompile(`^Kernel panic - not syncing`), "panic"},
	{regexp.MustCompile(`^INFO: task .* blocked for more than`), "hung task"},
	{regexp.MustCompile(`^rcu: INFO: .* detected stalls`), "rcu stall"},
	{regexp.MustCompile(`^UBSAN: `), "ubsan"},
}

// faultEnds end a report.
var faultEnd = regexp.MustCompile(`^---\[ end (trace|Kernel panic)`)

// maxFaultLines bounds one report: a trace is long, a flood is not a trace.
const maxFaultLines = 80

// afterStack is what may follow a report's stack dump (</TASK>) and still
// be the report's: an oops's module list, registers and end line; a report
// made by dump_stack alone (BUG: scheduling while atomic) ends with its
// stack, and what comes next is the kernel going on.
var afterStack = regexp.MustCompile(`^(\s|Modules linked in:|---\[ end |RIP:|Code:|RSP:|RAX:|RDX:|RBP:|R1[03]:|FS:|CS:|CR2:|DR[0-9]:|PKRU:|note: |Kernel panic|Kernel Offset:|Fixing recursive fault|irq event stamp:|hardirqs last|softirqs last)`)

// Faults finds the kernel's fault reports among log lines (record texts or
// console lines without their timestamps). Lines that continue a report
// (an Oops after its BUG line, the registers, the call trace) belong to it.
func Faults(lines []string) []Fault {
	var faults []Fault
	var cur *Fault
	stacked := false // cur's stack dump has ended
	for _, l := range lines {
		kind, starts := faultStart(l)
		if cur != nil && stacked && !starts && !afterStack.MatchString(l) {
			cur = nil
		}
		switch {
		case starts && cur != nil && len(cur.Lines) < 6 && kind != "panic":
			// BUG: ... then Oops: ... is one report; the stronger name wins.
			if cur.Kind == "" || kind == "oops" || kind == "bug" && cur.Kind == "warning" {
				cur.Kind = kind
			}
			if cur.Title == "" || strings.HasPrefix(cur.Title, "-") {
				cur.Title = l
			}
			cur.Lines = append(cur.Lines, l)
		case starts:
			faults = append(faults, Fault{Kind: kind, Title: l, Lines: []string{l}})
			cur, stacked = &faults[len(faults)-1], false
		case cur != nil:
			cur.Lines = append(cur.Lines, l)
			stacked = stacked || strings.TrimSpace(l) == "</TASK>"
			if faultEnd.MatchString(l) || len(cur.Lines) >= maxFaultLines {
				cur = nil
			}
		}
	}
	for i := range faults {
		if faults[i].Kind == "" {
			faults[i].Kind = "warning"
		}
	}
	return faults
}

// Summary is the part of a report a reader needs first: what happened,
// where (the kernel's RIP) and how it got there (the call trace's reliable
// frames), without the "?" guesses, the registers and the code bytes. The
// whole report stays in the kernel log.
func (f Fault) Summary() []string { return TraceSummary(f.Lines) }

// registerLine matches the register and code dumps of a report.
var registerLine = regexp.MustCompile(`^\s*((RAX|RBX|RCX|RDX|RSI|RDI|RBP|RSP|R0[89]|R1[0-5]): |FS: |CS: |CR2: |DR[0-9]: |Code: |PKRU: |RIP: 0033:|Hardware name: |<TASK>|</TASK>|\? )`)

// TraceSummary drops from kernel report lines what registerLine matches.
func TraceSummary(lines []string) []string {
	var out []string
	for _, l := range lines {
		if !registerLine.MatchString(l) {
			out = append(out, l)
		}
	}
	return out
}

// StartsFault reports whether a line (a record's text, or a console line
// without its timestamp) is the first line of a fault report, and of which
// kind ("" for a "cut here" line, whose kind the next line says).
func StartsFault(l string) (kind string, ok bool) { return faultStart(l) }

func faultStart(l string) (kind string, ok bool) {
	for _, s := range faultStarts {
		if s.re.MatchString(l) {
			return s.kind, true
		}
	}
	return "", false
}

// TaintFlags names the bits of /proc/sys/kernel/tainted, as the kernel's
// Documentation/admin-guide/tainted-kernels.rst does.
var TaintFlags = []struct {
	Letter  byte
	Meaning string
}{
	{'P', "proprietary module was loaded"},
	{'F', "module was force loaded"},
	{'S', "kernel running on an out of specification system"},
	{'R', "module was force unloaded"},
	{'M', "processor reported a Machine Check Exception"},
	{'B', "bad page referenced or some unexpected page flags"},
	{'U', "taint requested by userspace application"},
	{'D', "kernel died recently, i.e. there was an OOPS or BUG"},
	{'A', "ACPI table overridden by user"},
	{'W', "kernel issued warning"},
	{'C', "staging driver was loaded"},
	{'I', "workaround for bug in platform firmware applied"},
	{'O', "externally-built (out-of-tree) module was loaded"},
	{'E', "unsigned module was loaded"},
	{'L', "soft lockup occurred"},
	{'K', "kernel has been live patched"},
	{'X', "auxiliary taint, defined for and used by distros"},
	{'T', "kernel was built with the struct randomization plugin"},
	{'N', "an in-kernel test has been run"},
}

// TaintBit returns the mask of a taint letter, or 0.
func TaintBit(letter byte) uint64 {
	for i, f := range TaintFlags {
		if f.Letter == letter {
			return 1 << i
		}
	}
	return 0
}

// DescribeTaint names each bit set in mask: "W (kernel issued warning)".
func DescribeTaint(mask uint64) []string {
	var out []string
	for i, f := range TaintFlags {
		if mask&(1<<i) != 0 {
			out = append(out, string(f.Letter)+" ("+f.Meaning+")")
		}
	}
	return out
}

// ExpectedTaint is what loading a tutorial module taints: out-of-tree (O)
// and unsigned (E).
func ExpectedTaint() uint64 { return TaintBit('O') | TaintBit('E') }

// Article puts "a" or "an" before a fault's kind, or any noun: "an oops".
func Article(noun string) string {
	if noun != "" && strings.ContainsRune("aeiou", rune(noun[0])) {
		return "an " + noun
	}
	return "a " + noun
}
