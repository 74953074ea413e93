package qemu

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConsoleStepLines: a step that floods the console keeps its first
// maxStepLines lines in memory, for the fault scanner, and the last
// consoleTailLines; console.log keeps every line.
func TestConsoleStepLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "console.log")
	c, err := newConsole(path)
	if err != nil {
		t.Fatal(err)
	}
	c.startStep()
	var all strings.Builder
	for i := range 3 * maxStepLines {
		fmt.Fprintf(&all, "[    1.%06d] line %d\n", i, i)
	}
	c.copy(strings.NewReader(all.String()))
	c.close()
	step := c.stepLines()
	if len(step) != maxStepLines || step[0] != "line 0" || step[maxStepLines-1] != fmt.Sprintf("line %d", maxStepLines-1) {
		t.Errorf("step lines kept: %d, %q ... %q", len(step), step[0], step[len(step)-1])
	}
	if last := c.lines(3 * maxStepLines); len(last) != consoleTailLines {
		t.Errorf("last lines kept: %d, want %d", len(last), consoleTailLines)
	}
	if b, _ := os.ReadFile(path); string(b) != all.String() {
		t.Errorf("console.log has %d bytes, want %d", len(b), all.Len())
	}
}
