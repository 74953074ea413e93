package report

import (
	"github.com/kmodcheck/kmodcheck/runner/script"
	"github.com/kmodcheck/kmodcheck/runner/suite"
)

// A Failure is why a case failed on a kernel, as the reports for CI show
// it: the case language's account of it (script.Failure), with the records
// and the kernel's messages around it.
type Failure struct {
	// Kind is script.FailStep, FailKmsg, FailFault, FailEndOfCase or
	// FailSetup (the kernel did not start).
	Kind string
	// Message is the failure on one line: the case file and line of the
	// failing step, the step, and what went wrong, e.g.
	// "cases/x.txtar:17: kmsg insmod: kernel log differs from ...".
	Message string
	File    string // the case file
	Line    int    // the failing line; 0 at the end of the case
	// Text is "FAIL: " and Message, and what follows it: the mismatch, the diff, the
	// kernel's report of a fault, what the case left behind.
	Text string
	// Report is, for a fault, the kernel's first report, summarised.
	Report []string
	// Step is the failing step's record; nil when the case failed before
	// any, or after its last (the end-of-case checks).
	Step *Record
	// Diff is the failing kmsg comparison's unified diff.
	Diff string
	// Kernel is the end of what the kernel printed before the failure.
	Kernel []string
}

// kernelExcerpt is how many kernel lines a failure's report keeps.
const kernelExcerpt = 30

// FailureOf is a failed case's failure; ok is false for a case that did
// not fail.
func FailureOf(r suite.Result) (f Failure, ok bool) {
	if r.Status != "FAIL" {
		return Failure{}, false
	}
	sf := r.Failure
	if sf == nil {
		// Testscript ended the case before any of kmodcheck's commands ran
		// (a builtin's check at the top of the script): the transcript has
		// its words.
		sf = &script.Failure{Kind: script.FailStep, File: r.File, Message: "the script failed before its first step; the transcript says how"}
	}
	f = Failure{Kind: sf.Kind, Message: sf.Summary(), File: sf.File, Line: sf.Line, Report: sf.Report}
	f.Text = "FAIL: " + f.Message + "\n"
	if sf.Detail != "" {
		f.Text += sf.Detail + "\n"
	}
	for _, e := range r.Events {
		if e.Kind == "step" && e.Result != nil {
			for _, k := range e.Result.Log {
				if k.Facility == 0 {
					f.Kernel = append(f.Kernel, k.Text)
				}
			}
		}
	}
	if n := len(f.Kernel); n > kernelExcerpt {
		f.Kernel = f.Kernel[n-kernelExcerpt:]
	}
	recs := Records(r)
	if sf.Kind != script.FailEndOfCase && sf.Step > 0 && sf.Step < len(recs) && recs[sf.Step-1].Type == "step" {
		f.Step = &recs[sf.Step-1]
		if sf.Kind == script.FailKmsg {
			f.Diff = f.Step.Diff
		}
	}
	return f, true
}

// bootOf is the case's boot event, if it booted or tried to.
func bootOf(r suite.Result) *script.Event {
	for i := range r.Events {
		if r.Events[i].Kind == "boot" {
			return &r.Events[i]
		}
	}
	return nil
}
