package suite

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/kmodcheck/kmodcheck/runner/script"
)

// runner is the testscript.T at the top: testscript calls Run once per case.
type runner struct {
	ctx     context.Context // the run's: done, no case starts and those running end
	verbose bool
	kernel  string                            // the release every case here runs on
	finish  func(script.Result) script.Result // completes a case's result as it ends and reports it
	start   func(name string)                 // told when a case gets its turn
	sem     chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	results []script.Result
}

func (r *runner) Run(name string, f func(testscript.T)) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		// A case that cannot start before the run is stopped still runs
		// its set-up, which refuses at once, so that testscript removes its
		// directories as for any other case.
		select {
		case r.sem <- struct{}{}:
			defer func() { <-r.sem }()
		case <-r.ctx.Done():
		}
		if r.start != nil && r.ctx.Err() == nil {
			r.start(name)
		}
		c := &caseT{name: name, start: time.Now(), verbose: r.verbose}
		done := make(chan struct{})
		go func() {
			defer close(done)
			f(c)
		}()
		<-done
		res := script.Result{Case: name, Kernel: r.kernel, Duration: time.Since(c.start), Log: c.log.String(), Status: "PASS"}
		switch {
		case r.ctx.Err() != nil && (c.failed || c.skipped):
			// Stopped: whatever the case said as it ended is a consequence.
			res.Status = "INTERRUPTED"
		case c.failed:
			res.Status = "FAIL"
		case c.skipped:
			res.Status, res.SkipReason = "SKIP", c.skipReason
		}
		if r.finish != nil {
			res = r.finish(res)
		}
		r.mu.Lock()
		r.results = append(r.results, res)
		r.mu.Unlock()
	}()
}

func (r *runner) Skip(args ...any)  { panic("suite: Skip at top level") }
func (r *runner) Fatal(args ...any) { panic(fmt.Sprint(args...)) }
func (r *runner) Parallel()         {}
func (r *runner) Log(args ...any)   {}
func (r *runner) FailNow()          { panic("suite: FailNow at top level") }
func (r *runner) Verbose() bool     { return false }

// caseT is the testscript.T of one case. FailNow and Skip end the case's
// goroutine, as testing.T does.
type caseT struct {
	name    string
	start   time.Time
	log     strings.Builder
	failed  bool
	skipped bool
	verbose bool

	skipReason string
}

func (c *caseT) Skip(args ...any) {
	c.skipped = true
	c.skipReason = strings.TrimSpace(fmt.Sprintln(args...))
	c.log.WriteString(fmt.Sprintln(args...))
	runtime.Goexit()
}
func (c *caseT) Fatal(args ...any) {
	c.log.WriteString(fmt.Sprintln(args...))
	c.FailNow()
}
func (c *caseT) Parallel()       {}
func (c *caseT) Log(args ...any) { c.log.WriteString(fmt.Sprintln(args...)) }
func (c *caseT) FailNow() {
	c.failed = true
	runtime.Goexit()
}
func (c *caseT) Run(name string, f func(testscript.T)) { f(c) }
func (c *caseT) Fail()                                 { c.failed = true }
func (c *caseT) Failed() bool                          { return c.failed }
func (c *caseT) Verbose() bool                         { return c.verbose }
