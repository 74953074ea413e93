package report

import (
	"fmt"
	"strings"

	"github.com/kmodcheck/kmodcheck/runner/script"
)

// A Pair is one case on one kernel as its JSON records tell it: its step
// records, in the order they ran, and its case record. Every report is
// made from pairs, so that it reads the same from a run's results and from
// the JSON of merged shards.
type Pair struct {
	Steps []Record
	Case  Record
}

// Pairs groups records into pairs, in the order of their case records;
// run records and steps without their case record are left out.
func Pairs(recs []Record) []Pair {
	var out []Pair
	var steps []Record
	for _, r := range recs {
		switch r.Type {
		case "step":
			if len(steps) > 0 && (steps[0].Case != r.Case || steps[0].Kernel != r.Kernel) {
				steps = nil
			}
			steps = append(steps, r)
		case "case":
			var own []Record
			if len(steps) > 0 && steps[0].Case == r.Case && steps[0].Kernel == r.Kernel {
				own = steps
			}
			out = append(out, Pair{Steps: own, Case: r})
			steps = nil
		}
	}
	return out
}

// PairsOf are a run's results as pairs.
func PairsOf(rs []script.Result) []Pair {
	var recs []Record
	for _, r := range rs {
		recs = append(recs, Records(r)...)
	}
	return Pairs(recs)
}

// kernelExcerpt is how many kernel lines a failure's report keeps.
const kernelExcerpt = 30

// failingStep is the step record the case failed at; nil when it failed
// before any step or after its last (the end-of-case checks).
func (p Pair) failingStep() *Record {
	if r := p.Case.Reason; r != nil && r.Step > 0 && r.Step <= len(p.Steps) {
		return &p.Steps[r.Step-1]
	}
	return nil
}

// Kernel is the end of what the kernel printed during the case's steps.
func (p Pair) Kernel() []string {
	var out []string
	for _, s := range p.Steps {
		out = append(out, s.KernelLog...)
	}
	if n := len(out); n > kernelExcerpt {
		out = out[n-kernelExcerpt:]
	}
	return out
}

// Diff is the failing comparison's unified diff, "" if none.
func (p Pair) Diff() string {
	if s := p.failingStep(); s != nil && s.Kind == script.Compare {
		return s.Diff
	}
	return ""
}

// Message is a failure's FAIL line and, when it adds to it, its reason:
// what a CI system shows of it in one line.
func (p Pair) Message() string {
	m := p.Case.Failure
	if r := p.Case.Reason; r != nil && strings.HasPrefix(r.Text, m) {
		m = r.Text
	} else if r != nil && r.Text != "" && !strings.Contains(m, r.Text) {
		m += " — " + r.Text
	}
	if r := p.Case.Reason; r != nil && r.Change != nil {
		m += " — " + r.Change.String()
	}
	return m
}

// FailureText is a failure told in full: the FAIL line and what follows
// it, the diff if that did not include it, a kernel excerpt, the
// artifacts.
func (p Pair) FailureText() string {
	var b strings.Builder
	b.WriteString(p.failText())
	if d := p.Diff(); d != "" && !strings.Contains(p.Case.Detail, strings.TrimSpace(d)) {
		fmt.Fprintf(&b, "\ndiff:\n%s", d)
	}
	if k := p.Kernel(); len(k) > 0 {
		fmt.Fprintf(&b, "\nkernel messages (the last %d before the failure):\n", len(k))
		for _, l := range k {
			fmt.Fprintf(&b, "    %s\n", l)
		}
	}
	if p.Case.Dir != "" {
		fmt.Fprintf(&b, "\nartifacts: %s\n", p.Case.Dir)
	}
	return b.String()
}

// failText is the FAIL line, what follows it, and the API change behind
// it.
func (p Pair) failText() string {
	var b strings.Builder
	fmt.Fprintf(&b, "FAIL: %s\n", p.Case.Failure)
	if p.Case.Detail != "" {
		fmt.Fprintf(&b, "%s\n", p.Case.Detail)
	}
	if r := p.Case.Reason; r != nil && r.Change != nil {
		fmt.Fprintf(&b, "\nkernel API change: %s\n", r.Change)
	}
	return b.String()
}

// failureOf is a failed case's script failure.
func failureOf(r script.Result) *script.Failure {
	if f := r.Record.Failure; f != nil {
		return f
	}
	// Testscript ended the case before any of kmodcheck's commands ran (a
	// builtin's check at the top of the script): the transcript has its
	// words.
	return &script.Failure{Kind: script.FailStep, File: r.File, Message: "the script failed before its first step; the transcript says how"}
}
