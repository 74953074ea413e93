package script

import (
	"sync"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/kmodcheck/kmodcheck/runner/scriptcase"
)

// langRunner is the testscript.T above the cases of a language test; it
// keeps each case's transcript and outcome, as kmodcheck's runner does.
type langRunner struct {
	scriptcase.TopLevel
	mu    sync.Mutex
	cases map[string]*scriptcase.T
}

func (r *langRunner) Run(name string, f func(testscript.T)) {
	c := scriptcase.Run(name, true, f)
	r.mu.Lock()
	r.cases[name] = c
	r.mu.Unlock()
}
