package script

import (
	"fmt"
	"runtime"
	"strings"
	"sync"

	"github.com/rogpeppe/go-internal/testscript"
)

// langRunner is the testscript.T above the cases of a language test; it
// keeps each case's transcript and outcome, as kmodcheck's runner does.
type langRunner struct {
	mu    sync.Mutex
	cases map[string]*caseT
}

func (r *langRunner) Run(name string, f func(testscript.T)) {
	c := &caseT{}
	r.mu.Lock()
	r.cases[name] = c
	r.mu.Unlock()
	c.Run(name, f)
}
func (r *langRunner) Skip(args ...any)  { panic("Skip at top level") }
func (r *langRunner) Fatal(args ...any) { panic(fmt.Sprint(args...)) }
func (r *langRunner) Parallel()         {}
func (r *langRunner) Log(args ...any)   {}
func (r *langRunner) FailNow()          { panic("FailNow at top level") }
func (r *langRunner) Verbose() bool     { return true }

// caseT is the testscript.T of one case.
type caseT struct {
	mu      sync.Mutex
	log     strings.Builder
	failed  bool
	skipped bool
}

func (c *caseT) Skip(args ...any) {
	c.Log(args...)
	c.mu.Lock()
	c.skipped = true
	c.mu.Unlock()
	runtime.Goexit()
}
func (c *caseT) Fatal(args ...any) { c.Log(args...); c.FailNow() }
func (c *caseT) Parallel()         {}
func (c *caseT) Log(args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintln(&c.log, args...)
}
func (c *caseT) FailNow()      { c.Fail(); runtime.Goexit() }
func (c *caseT) Fail()         { c.mu.Lock(); c.failed = true; c.mu.Unlock() }
func (c *caseT) Failed() bool  { c.mu.Lock(); defer c.mu.Unlock(); return c.failed }
func (c *caseT) Verbose() bool { return true }

// Run runs a case on a goroutine of its own, as FailNow ends it.
func (c *caseT) Run(name string, f func(testscript.T)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(c)
	}()
	<-done
}
