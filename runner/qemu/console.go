package qemu

import (
	"bufio"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/golden"
	"github.com/kmodcheck/kmodcheck/runner/kmsg"
)

// console keeps the kernel's serial console: all of it in a file, the last
// lines and the current step's first lines in memory, for error messages,
// and it watches, as lines arrive, for the kernel starting a fault report.
type console struct {
	f  *os.File
	mu sync.Mutex
	// last are the last consoleTailLines lines.
	last []string
	// step are the first maxStepLines lines since startStep (or since the
	// boot): where the step's first fault report is, however much the
	// kernel prints after it (a lockup's stalls repeat for ever).
	step []string
	// fault is closed when, since startStep, a line starts a fault report
	// that stops the kernel's work; faulted says it was.
	fault   chan struct{}
	faulted bool
	watches map[string]chan struct{} // closed at the first line equal to the key
}

const (
	consoleTailLines = 200
	maxStepLines     = 1000
	// maxConsoleLine bounds what memory keeps of one line; the file keeps
	// it whole. A line longer than any buffer must not stop the console
	// being read: QEMU would block writing it, and the guest with it.
	maxConsoleLine = 4 << 10
)

func newConsole(path string) (*console, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return &console{f: f, fault: make(chan struct{})}, nil
}

// copy reads the console until r ends, line by line, however long a line.
func (c *console) copy(r io.Reader) {
	br := bufio.NewReaderSize(r, 64<<10)
	var line []byte // what memory keeps of the line being read
	for {
		chunk, isPrefix, err := br.ReadLine()
		if err != nil {
			if len(line) > 0 { // a last line without its newline
				c.add(string(line))
			}
			return
		}
		c.mu.Lock()
		c.f.Write(chunk)
		if !isPrefix {
			c.f.WriteString("\n")
		}
		c.mu.Unlock()
		if room := maxConsoleLine - len(line); room > 0 {
			line = append(line, chunk[:min(len(chunk), room)]...)
		}
		if !isPrefix {
			c.add(string(line))
			line = line[:0]
		}
	}
}

// add keeps a complete line and looks at it for a fault report.
func (c *console) add(line string) {
	line = strings.TrimRight(line, "\r")
	c.mu.Lock()
	defer c.mu.Unlock()
	c.last = append(c.last, line)
	if len(c.last) > consoleTailLines {
		c.last = c.last[len(c.last)-consoleTailLines:]
	}
	if ch, ok := c.watches[line]; ok {
		close(ch)
		delete(c.watches, line)
	}
	if len(c.step) < maxStepLines {
		c.step = append(c.step, line)
	}
	if kind, ok := kmsg.StartsFault(golden.StripTimestamp(line)); ok && stopsWork(kind) && !c.faulted {
		c.faulted = true
		close(c.fault)
	}
}

// watch returns a channel closed when the console shows a line equal to
// text. Call it before the console is copied.
func (c *console) watch(text string) <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.watches == nil {
		c.watches = map[string]chan struct{}{}
	}
	ch := make(chan struct{})
	c.watches[text] = ch
	return ch
}

// stopsWork reports whether a report of this kind means the code that
// caused it did not go on: not a warning (nor a "cut here" line, which
// heads a warning as often as not), after which the kernel carries on.
func stopsWork(kind string) bool { return kind != "warning" && kind != "" }

// startStep begins a step's window of lines and returns a channel closed
// when a line in it starts a fault report that stops work.
func (c *console) startStep() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.step = c.step[:0]
	c.fault, c.faulted = make(chan struct{}), false
	return c.fault
}

// stepLines returns the step window's lines without their timestamps.
func (c *console) stepLines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.step))
	for i, l := range c.step {
		out[i] = golden.StripTimestamp(l)
	}
	return out
}

// lines returns the last n lines.
func (c *console) lines(n int) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.last
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return append([]string(nil), l...)
}

// tail returns the last n lines, indented, for an error message.
func (c *console) tail(n int) string {
	return "  " + strings.Join(c.lines(n), "\n  ")
}

func (c *console) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.f.Close()
}

// faultGrace is how long a step may go on after the console showed the
// kernel starting a report that stops work (an oops, a BUG, a lockup, a
// panic): when the kernel survives it, the agent answers well within this
// (0.15-0.44 s measured, TCG, on a quiet machine); when it does not answer by then, the kernel
// has locked up, and the step ends with the console's report.
const faultGrace = 4 * time.Second
