package script

import (
	"sync"

	"github.com/kmodcheck/kmodcheck/runner/golden"
)

// GoldenRuns collects, for -update -count N, the lines each golden's kmsg
// took in every run so far, so that the golden written after the last run
// is generalised over all of them (golden.NewRuns, Golden.UpdateRuns). Runs
// of one case must be sequential; different cases may run at once.
type GoldenRuns struct {
	mu      sync.Mutex
	goldens map[string]*goldenRuns
}

// goldenRuns is one golden file's history in an update.
type goldenRuns struct {
	original []byte // the file before the first run rewrote it; nil if it did not exist
	runs     []golden.Run
}

// add records a run's lines for the golden at path, whose text is data
// (nil if missing) unless an earlier run has recorded it, and returns the
// text before the first run and every run's lines so far.
func (r *GoldenRuns) add(path string, data []byte, run golden.Run) ([]byte, []golden.Run) {
	if r == nil {
		return data, []golden.Run{run}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.goldens == nil {
		r.goldens = make(map[string]*goldenRuns)
	}
	g := r.goldens[path]
	if g == nil {
		g = &goldenRuns{original: data}
		r.goldens[path] = g
	}
	g.runs = append(g.runs, run)
	return g.original, append([]golden.Run(nil), g.runs...)
}

// previous returns the text before the first run and the runs recorded
// for path before this one.
func (r *GoldenRuns) previous(path string, data []byte) ([]byte, []golden.Run) {
	if r == nil {
		return data, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if g := r.goldens[path]; g != nil {
		return g.original, append([]golden.Run(nil), g.runs...)
	}
	return data, nil
}
