package local

import (
	"os"
	"syscall"
)

// WriteProgram writes a program that kmodcheck, or a test, is about to
// run: a file of mode 0755 holding text. It holds syscall.ForkLock while
// the file is open for writing, so that no process that another goroutine
// forks meanwhile inherits it open: the kernel refuses to run a file that
// any process has open for writing ("text file busy", golang/go#22315).
func WriteProgram(name string, text []byte) error {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	return os.WriteFile(name, text, 0o755)
}
