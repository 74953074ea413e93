package suite

import (
	"context"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/kmodcheck/kmodcheck/runner/script"
	"github.com/kmodcheck/kmodcheck/runner/scriptcase"
)

// runner is the testscript.T at the top: testscript calls Run once per case.
type runner struct {
	scriptcase.TopLevel
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
		start := time.Now()
		c := scriptcase.Run(name, r.verbose, f)
		res := script.Result{Case: name, Kernel: r.kernel, Duration: time.Since(start), Log: c.Transcript(), Status: script.Pass}
		skipped, skipReason := c.Skipped()
		switch {
		case r.ctx.Err() != nil && (c.Failed() || skipped):
			// Stopped: whatever the case said as it ended is a consequence.
			res.Status = script.Interrupted
		case c.Failed():
			res.Status = script.Fail
		case skipped:
			res.Status, res.SkipReason = script.Skip, skipReason
		}
		if r.finish != nil {
			res = r.finish(res)
		}
		r.mu.Lock()
		r.results = append(r.results, res)
		r.mu.Unlock()
	}()
}
