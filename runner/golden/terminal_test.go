package golden

import (
	"strings"
	"testing"
)

// make's output as a reader's terminal showed it: kbuild writes
// "Skipping BTF" to standard error, between its stdout lines.
const makeTerminal = `make -C /lib/modules/<release>/build M=$WORK modules
  CC [M]  $WORK/kthread.o
  MODPOST $WORK/Module.symvers
  LD [M]  $WORK/kthread.ko
  BTF [M] $WORK/kthread.ko
Skipping BTF generation for $WORK/kthread.ko due to unavailability of vmlinux
make: Leaving directory '/usr/src/linux-headers-<release>'
`

var (
	makeStdout = []string{
		"make -C /lib/modules/<release>/build M=$WORK modules",
		"  CC [M]  $WORK/kthread.o",
		"  MODPOST $WORK/Module.symvers",
		"  LD [M]  $WORK/kthread.ko",
		"  BTF [M] $WORK/kthread.ko",
		"make: Leaving directory '/usr/src/linux-headers-<release>'",
	}
	makeStderr = []string{"Skipping BTF generation for $WORK/kthread.ko due to unavailability of vmlinux"}
)

func TestMatchTerminal(t *testing.T) {
	g := mustParse(t, "golden/make.out", makeTerminal)
	if m, _ := g.MatchTerminal(makeStdout, makeStderr); !m.OK {
		t.Fatalf("the pasted terminal fails: %s\n%s", m.Mismatch, m.Diff(g.Path))
	}
	// The stdout alone does not: that is why out -terminal exists.
	if m := g.Match(makeStdout); m.OK {
		t.Fatalf("stdout alone passes")
	}
	// A stdout line out of its order fails, whatever stderr does.
	swapped := append([]string(nil), makeStdout...)
	swapped[1], swapped[2] = swapped[2], swapped[1]
	if m, _ := g.MatchTerminal(swapped, makeStderr); m.OK {
		t.Fatalf("swapped stdout lines pass")
	}
	// A line on the wrong stream would have to move: stderr's line
	// printed on stdout after the last line fails.
	late := append(append([]string(nil), makeStdout...), makeStderr...)
	if m, _ := g.MatchTerminal(late, nil); m.OK {
		t.Fatalf("the stderr line at stdout's end passes")
	}
	// A missing stderr line fails.
	if m, _ := g.MatchTerminal(makeStdout, nil); m.OK {
		t.Fatalf("no stderr passes")
	}
}

// Two streams with lines of the same text: the table tries every
// interleaving, not the first that fits.
func TestMatchTerminalBacktracks(t *testing.T) {
	g := mustParse(t, "g.out", "a\nb\na\nc\n")
	if m, merged := g.MatchTerminal([]string{"a", "c"}, []string{"b", "a"}); !m.OK || strings.Join(merged, ",") != "a,b,a,c" {
		t.Fatalf("OK %v, merged %q: %s", m.OK, merged, m.Mismatch)
	}
	g = mustParse(t, "g.out", "x {+}\ny\nx {+}\n")
	if m, _ := g.MatchTerminal([]string{"x", "x", "x"}, []string{"y"}); !m.OK {
		t.Fatalf("%s", m.Mismatch)
	}
	if m, _ := g.MatchTerminal([]string{"x", "x", "x"}, []string{"y", "y"}); m.OK {
		t.Fatalf("two y pass")
	}
}

// An update of a golden whose first line changed keeps stderr's line
// where the golden has it, not after stdout.
func TestMatchTerminalUpdateKeepsPlaces(t *testing.T) {
	g := mustParse(t, "golden/make.out", strings.Replace(makeTerminal, "M=$WORK modules", "M=$WORK/", 1))
	m, merged := g.MatchTerminal(makeStdout, makeStderr)
	if m.OK {
		t.Fatal("the changed first line passes")
	}
	if merged[5] != makeStderr[0] {
		t.Fatalf("stderr's line at %q, want it 6th:\n%s", merged, strings.Join(merged, "\n"))
	}
	if got := string(g.Update(merged)); got != makeTerminal {
		t.Errorf("update:\n%s\nwant:\n%s", got, makeTerminal)
	}
}
