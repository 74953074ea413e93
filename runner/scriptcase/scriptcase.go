// Package scriptcase runs one testscript case outside go test: T is the
// testscript.T it runs with, which keeps the case's transcript and how it
// ended, for kmodcheck's own runner (runner/suite) and the case language's
// tests alike.
package scriptcase

import (
	"fmt"
	"runtime"
	"strings"
	"sync"

	"github.com/rogpeppe/go-internal/testscript"
)

// T is the testscript.T of one case. FailNow and Skip end the case's
// goroutine, as testing.T's do.
type T struct {
	name       string
	verbose    bool
	mu         sync.Mutex
	log        strings.Builder
	failed     bool
	skipped    bool
	skipReason string
}

// Run runs f, the case named name, with a new T on a goroutine of its own,
// and returns the T once f has ended. With verbose, testscript logs the
// steps of phases that passed too.
func Run(name string, verbose bool, f func(testscript.T)) *T {
	c := &T{name: name, verbose: verbose}
	c.Run("", f)
	return c
}

// Name is the case's name, as testscript gave it.
func (c *T) Name() string { return c.name }

// Transcript is what the case logged.
func (c *T) Transcript() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.log.String()
}

// Skipped reports whether the case skipped itself, and what its skip said.
func (c *T) Skipped() (bool, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.skipped, c.skipReason
}

func (c *T) Skip(args ...any) {
	c.Log(args...)
	c.mu.Lock()
	c.skipped = true
	c.skipReason = strings.TrimSpace(fmt.Sprintln(args...))
	c.mu.Unlock()
	runtime.Goexit()
}

func (c *T) Fatal(args ...any) { c.Log(args...); c.FailNow() }
func (c *T) Parallel()         {}
func (c *T) Log(args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintln(&c.log, args...)
}
func (c *T) FailNow()      { c.Fail(); runtime.Goexit() }
func (c *T) Fail()         { c.mu.Lock(); c.failed = true; c.mu.Unlock() }
func (c *T) Failed() bool  { c.mu.Lock(); defer c.mu.Unlock(); return c.failed }
func (c *T) Verbose() bool { return c.verbose }

// Run runs f with c on a goroutine of its own, as FailNow and Skip end it,
// and returns once it has ended.
func (c *T) Run(name string, f func(testscript.T)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(c)
	}()
	<-done
}

// TopLevel has the methods testscript never calls on the T above the
// cases, where it only calls Run, once per case: a runner that has its own
// Run embeds TopLevel to be a testscript.T.
type TopLevel struct{}

func (TopLevel) Skip(args ...any)  { panic("scriptcase: Skip at top level") }
func (TopLevel) Fatal(args ...any) { panic(fmt.Sprint(args...)) }
func (TopLevel) Parallel()         {}
func (TopLevel) Log(args ...any)   {}
func (TopLevel) FailNow()          { panic("scriptcase: FailNow at top level") }
func (TopLevel) Verbose() bool     { return false }
