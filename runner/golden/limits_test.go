package golden

import (
	"fmt"
	"strings"
	"testing"
)

// TestGoldenLimits: a golden line over MaxLine is refused naming
// its file and line, a file over MaxFile before its lines are
// split; a line at the limit parses.
func TestGoldenLimits(t *testing.T) {
	long := strings.Repeat("x", MaxLine)
	if _, err := Parse("x.kmsg", []byte("a\n"+long+"\n")); err != nil {
		t.Errorf("a line of MaxLine bytes: %v", err)
	}
	_, err := Parse("x.kmsg", []byte("a\n"+long+"y\n"))
	if want := fmt.Sprintf("x.kmsg:2: a line of %d bytes: a golden line is at most %d", MaxLine+1, MaxLine); err == nil || err.Error() != want {
		t.Errorf("a line over MaxLine: %v; want %s", err, want)
	}
	_, err = Parse("x.kmsg", make([]byte, MaxFile+1))
	if want := fmt.Sprintf("x.kmsg: a golden file of %d bytes: the most is %d", MaxFile+1, MaxFile); err == nil || err.Error() != want {
		t.Errorf("a file over MaxFile: %v; want %s", err, want)
	}
}
