package report

import (
	"io"
	"sync"

	"github.com/kmodcheck/kmodcheck/runner/script"
)

// A Reporter reports a run as it goes, as the suite tells it (it is a
// suite.Reporter): the progress, and each finished case × kernel's
// artifacts and JSON records. Its methods may be called from several
// goroutines at once.
type Reporter struct {
	Progress Progress  // nil: none shown
	JSON     io.Writer // the -json report; nil: none

	mu  sync.Mutex // cases end concurrently
	err error      // the first error writing JSON
}

func (r *Reporter) Start(caseName, kernel string) {
	if r.Progress != nil {
		r.Progress.Start(caseName, kernel)
	}
}

func (r *Reporter) Notice(kernel string, n script.Notice) {
	if r.Progress != nil {
		r.Progress.Notice(kernel, n)
	}
}

// Artifacts writes a finished case's transcript, steps and diffs into dir
// (WriteArtifacts).
func (r *Reporter) Artifacts(dir string, res script.Result) ([]string, error) {
	return WriteArtifacts(dir, res)
}

// Done shows a case's outcome and writes its JSON records.
func (r *Reporter) Done(res script.Result) {
	if r.Progress != nil {
		r.Progress.Done(res)
	}
	if r.JSON == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := WriteJSON(r.JSON, res); err != nil && r.err == nil {
		r.err = err
	}
}

// Err is the first error writing the JSON report, if any.
func (r *Reporter) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}
