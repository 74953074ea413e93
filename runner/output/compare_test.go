package output

import (
	"strings"
	"testing"
)

// TestCompareTerminal: a terminal's mismatch and diff speak of terminal
// lines and the output's end, not of the kernel's.
func TestCompareTerminal(t *testing.T) {
	n := Normalizer{}
	g, err := n.ParseGolden("golden/make.out", []byte("CC x.o\nSkipping BTF\nLD x.ko\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := CompareTerminal(g, []string{"CC x.o", "LD x.ko"}, []string{"Skipping BTF"}); !m.OK {
		t.Fatalf("the pasted terminal fails: %s", m.Mismatch)
	}
	m, _ := CompareTerminal(g, []string{"LD x.ko", "CC x.o"}, []string{"Skipping BTF"})
	if m.OK || !strings.Contains(m.Mismatch, "(terminal line ") || !strings.Contains(m.Diff, "+++ terminal") {
		t.Fatalf("swapped stdout lines: OK %v, %q\n%s", m.OK, m.Mismatch, m.Diff)
	}
	m, _ = CompareTerminal(g, []string{"CC x.o"}, []string{"Skipping BTF"})
	if m.OK || !strings.Contains(m.Mismatch, ", the output ended") {
		t.Fatalf("a missing line: OK %v, %q", m.OK, m.Mismatch)
	}
	// The difference as data, for the reports' reason.
	if m.First.Golden != "golden/make.out" || m.First.Line != 3 || m.First.Want != "LD x.ko" {
		t.Errorf("First = %+v, want the missing line 3", m.First)
	}
}

// TestCompareStdout: one stream's mismatch and diff name the stream.
func TestCompareStdout(t *testing.T) {
	n := Normalizer{}
	g, err := n.ParseGolden("golden/x.out", []byte("a\nb\n"))
	if err != nil {
		t.Fatal(err)
	}
	m := Compare(g, []string{"a"}, "stderr")
	if m.OK || !strings.Contains(m.Mismatch, ", the stderr ended") || !strings.Contains(m.Diff, "+++ stderr") || m.First.Line != 2 {
		t.Fatalf("a missing line: %+v", m)
	}
}
