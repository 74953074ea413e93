package kmsg

import (
	"fmt"
	"strings"
	"testing"
)

// TestGoldenLimits: a golden line over MaxGoldenLine is refused naming
// its file and line, a file over MaxGoldenFile before its lines are
// split; a line at the limit parses.
func TestGoldenLimits(t *testing.T) {
	long := strings.Repeat("x", MaxGoldenLine)
	if _, err := ParseGolden("x.kmsg", []byte("a\n"+long+"\n")); err != nil {
		t.Errorf("a line of MaxGoldenLine bytes: %v", err)
	}
	_, err := ParseGolden("x.kmsg", []byte("a\n"+long+"y\n"))
	if want := fmt.Sprintf("x.kmsg:2: a line of %d bytes: a golden line is at most %d", MaxGoldenLine+1, MaxGoldenLine); err == nil || err.Error() != want {
		t.Errorf("a line over MaxGoldenLine: %v; want %s", err, want)
	}
	_, err = ParseGolden("x.kmsg", make([]byte, MaxGoldenFile+1))
	if want := fmt.Sprintf("x.kmsg: a golden file of %d bytes: the most is %d", MaxGoldenFile+1, MaxGoldenFile); err == nil || err.Error() != want {
		t.Errorf("a file over MaxGoldenFile: %v; want %s", err, want)
	}
}

// TestGoldenLineFitsOutput: the longest line a step keeps (1 MiB,
// target.MaxOutput), made of what needs the most escapes, is written by
// -update (NewOutput) as a golden that parses and accepts it.
func TestGoldenLineFitsOutput(t *testing.T) {
	const maxOutput = 1 << 20 // target.MaxOutput; target imports kmsg
	line := strings.Repeat("{N}", maxOutput/3)
	data := NewOutput([]string{line})
	g, err := ParseOutputGolden("x.out", data, OutputNormalizer{})
	if err != nil {
		t.Fatal(err)
	}
	if m := CompareOutput(g, []string{line}, "stdout"); !m.OK {
		t.Errorf("the golden rejects its line: %.200s", m.Mismatch)
	}
}
