package qemu

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestConsoleLongLine: a console line longer than any buffer (2 MiB) is
// kept whole in the file and the console goes on being read after it.
func TestConsoleLongLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "console.log")
	c, err := newConsole(path)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 2<<20)
	r, w := io.Pipe()
	done := make(chan struct{})
	go func() { c.copy(r); close(done) }()
	go func() {
		io.WriteString(w, "[    1.000000] before\r\n"+long+"\r\n[    2.000000] after\r\n")
		w.Close()
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the console stopped being read")
	}
	c.close()
	got := c.lines(3)
	if len(got) != 3 || got[0] != "[    1.000000] before" || len(got[1]) != maxConsoleLine || got[2] != "[    2.000000] after" {
		t.Errorf("lines kept: %d, first %q, last %q", len(got), got[0], got[len(got)-1])
	}
	b, _ := os.ReadFile(path)
	if want := "[    1.000000] before\n" + long + "\n[    2.000000] after\n"; string(b) != want {
		t.Errorf("console.log has %d bytes, want %d", len(b), len(want))
	}
}

// TestConsoleFault: the first line of a report that stops work closes the
// step's channel; a warning does not, nor a report before the step began.
func TestConsoleFault(t *testing.T) {
	c, err := newConsole(filepath.Join(t.TempDir(), "console.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	c.add("[    0.100000] kernel BUG at mm/slub.c:419!")
	ch := c.startStep()
	c.add("[    1.000000] WARNING: CPU: 0 PID: 1 at x.c:1 f+0x1/0x2")
	select {
	case <-ch:
		t.Fatal("a warning ended the step")
	default:
	}
	c.add("[    2.000000] kernel BUG at mm/slub.c:419!")
	c.add("[    2.000001] invalid opcode: 0000 [#1] PREEMPT SMP NOPTI")
	select {
	case <-ch:
	default:
		t.Fatal("a BUG did not end the step")
	}
	if l := c.stepLines(); len(l) != 3 || l[1] != "kernel BUG at mm/slub.c:419!" {
		t.Errorf("step lines %q", l)
	}
}
