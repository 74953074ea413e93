package qemu

import (
	"bufio"
	"io"
	"os"
	"strings"
	"sync"
)

// console keeps the kernel's serial console: all of it in a file, the last
// lines in memory for error messages.
type console struct {
	f       *os.File
	mu      sync.Mutex
	last    []string
	watches map[string]chan struct{} // closed at the first line equal to the key
}

const consoleTailLines = 200

func newConsole(path string) (*console, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return &console{f: f}, nil
}

func (c *console) copy(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		c.mu.Lock()
		c.f.WriteString(line + "\n")
		if ch, ok := c.watches[line]; ok {
			close(ch)
			delete(c.watches, line)
		}
		c.last = append(c.last, line)
		if len(c.last) > consoleTailLines {
			c.last = c.last[len(c.last)-consoleTailLines:]
		}
		c.mu.Unlock()
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
