package report

import (
	"fmt"
	"strings"

	"github.com/kmodcheck/kmodcheck/runner/golden"
	"github.com/kmodcheck/kmodcheck/runner/script"
)

// Kinds of reason.
const (
	ReasonGolden   = "golden"   // a kmsg or out comparison: the first differing line
	ReasonCompiler = "compiler" // a build step: the compiler's first error
	ReasonFault    = "fault"    // the kernel reported a fault: its title
	ReasonOther    = "other"    // anything else: the failure's own words
)

// A Reason is why a case failed on a kernel, in one line, with its parts
// as data: the case record of the JSON report carries it, and the table,
// the markdown, HTML and JUnit reports show it. It is taken from the typed
// failure and the failing step's record, never from printed text.
type Reason struct {
	// Step is the failing step's number, as its step record has it (0
	// when no step failed: set-up, end of case); Command its command line.
	Step    int    `json:"step,omitempty"`
	Command string `json:"command,omitempty"`
	Kind    string `json:"kind"` // ReasonGolden, ReasonCompiler, ReasonFault or ReasonOther
	Text    string `json:"text"` // the reason on one line

	// Golden: the first differing line.
	First *golden.Difference `json:"first,omitempty"`
	// Compiler: the kernel API change its error matches, if a known one.
	Change *APIChange `json:"change,omitempty"`
}

// Line is the reason as the table shows it below the grid: the step and
// its command, the reason, and the API change behind it.
func (r Reason) Line() string {
	s := r.Text
	if r.Command != "" {
		s = fmt.Sprintf("step %d `%s`: %s", r.Step, r.Command, s)
	}
	if r.Change != nil {
		s += " — " + r.Change.String()
	}
	return s
}

// reasonOf is the reason of a failure; steps are the case's step records,
// numbered as f.Step numbers them.
func reasonOf(f *script.Failure, steps []Record) *Reason {
	r := &Reason{Kind: ReasonOther, Text: f.Message}
	var step *Record
	if f.Kind != script.FailEndOfCase && f.Step > 0 && f.Step <= len(steps) {
		step = &steps[f.Step-1]
		r.Step, r.Command = step.Step, step.Command
	}
	switch {
	case f.Kind == script.FailKmsg && step != nil && step.First != nil:
		r.Kind, r.First, r.Text = ReasonGolden, step.First, differenceText(*step.First)
	case f.Kind == script.FailFault && f.Fault != "":
		r.Kind, r.Text = ReasonFault, f.Fault
	case f.Kind == script.FailStep && step != nil && step.Kind == script.Command:
		if line, context, ok := compilerError(step.Stdout + "\n" + step.Stderr); ok {
			r.Kind, r.Text = ReasonCompiler, line
			if changes, err := LoadAPIChanges(); err == nil {
				r.Change = changes.Explain(context)
			}
		}
	case f.Kind == script.FailEndOfCase:
		if first, _, _ := strings.Cut(strings.TrimSpace(f.Detail), "\n"); first != "" {
			r.Text = "at the end of the case: " + strings.TrimSpace(first)
		}
	}
	return r
}

// differenceText is a difference on one line: `golden/x.kmsg:12: want
// "a", got "b"`.
func differenceText(d golden.Difference) string {
	where := d.Where()
	// A .kmsg golden is of the kernel's log, an .out one of a step's
	// output.
	lines := "output line"
	if strings.HasSuffix(d.Golden, ".kmsg") {
		lines = "kernel line"
	}
	switch {
	case d.Got == "":
		return fmt.Sprintf("%s: want %q, got nothing more", where, d.Want)
	case d.Want == "":
		return fmt.Sprintf("%s: unexpected %q (%s %d): no golden line takes it", where, d.Got, lines, d.At)
	case d.Thread:
		return fmt.Sprintf("%s: want %q, got it from another thread (%s %d)", where, d.Want, lines, d.At)
	}
	return fmt.Sprintf("%s: want %q, got %q (%s %d)", where, d.Want, d.Got, lines, d.At)
}
