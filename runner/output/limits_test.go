package output

import (
	"strings"
	"testing"
)

// TestGoldenLineFitsOutput: the longest line a step keeps (1 MiB,
// target.MaxOutput), made of what needs the most escapes, is written by
// -update (NewGolden) as a golden that parses and accepts it.
func TestGoldenLineFitsOutput(t *testing.T) {
	const maxOutput = 1 << 20 // target.MaxOutput, which this package does not need
	line := strings.Repeat("{N}", maxOutput/3)
	data := NewGolden([]string{line})
	n := Normalizer{}
	g, err := n.ParseGolden("x.out", data)
	if err != nil {
		t.Fatal(err)
	}
	if m := Compare(g, []string{line}, "stdout"); !m.OK {
		t.Errorf("the golden rejects its line: %.200s", m.Mismatch)
	}
}
