package report

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/kmodcheck/kmodcheck/runner/script"
	"github.com/kmodcheck/kmodcheck/runner/suite"
)

// A Failure is why a case failed on a kernel, as the reports for CI show it.
type Failure struct {
	// Message is the transcript's FAIL line without "FAIL: ": the case
	// file and line of the failing step, the step, and what went wrong,
	// e.g. "cases/x.txtar:17: kmsg insmod: kernel log differs from ...".
	Message string
	File    string // the case file Message names, if it names one
	Line    int    // and its line
	// Text is the FAIL line and the lines after it: the mismatch, the
	// diff, the kernel's report of a fault.
	Text string
	// Step is the failing step's record: the last step or comparison the
	// case ran before its script failed; nil when the case failed before
	// any, or after its last (the end-of-case checks), or did not fail.
	Step *Record
	// Kind is "kmsg" for a golden that did not match, "boot" when the
	// kernel did not start, "end-of-case" for what a case left behind,
	// "step" otherwise.
	Kind string
	// Diff is the failing kmsg comparison's unified diff.
	Diff string
	// Kernel is the end of what the kernel printed before the failure, as
	// the transcript shows it (work directory as $WORK).
	Kernel []string
}

// kernelExcerpt is how many kernel lines a failure's report keeps.
const kernelExcerpt = 30

var failLine = regexp.MustCompile(`^FAIL: (?:(\S+?):(\d+): )?(.*)$`)

// FailureOf reads a failed case's transcript and events; ok is false for a
// case that did not fail.
func FailureOf(r suite.Result) (f Failure, ok bool) {
	if r.Status != "FAIL" {
		return Failure{}, false
	}
	lines := strings.Split(strings.TrimRight(r.Log, "\n"), "\n")
	at := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "FAIL: ") {
			at = i
		}
	}
	f.Kind = "step"
	if at >= 0 {
		m := failLine.FindStringSubmatch(lines[at])
		f.Message = strings.TrimPrefix(lines[at], "FAIL: ")
		f.File = m[1]
		f.Line, _ = strconv.Atoi(m[2])
		f.Text = strings.Join(lines[at:], "\n") + "\n"
	} else {
		// No FAIL line (a panic in the runner, a failure testscript did not
		// log): the transcript's last line is the best there is.
		f.Message = lines[len(lines)-1]
		f.Text = r.Log
	}
	if at >= 0 && f.File == "" && strings.HasPrefix(f.Message, "at the end of the case") {
		f.Kind = "end-of-case"
	}
	if at >= 0 {
		f.Kernel = kernelLines(lines[:at])
	} else {
		f.Kernel = kernelLines(lines)
	}
	if len(f.Kernel) == 0 {
		// The transcript keeps only the failing phase's steps: what the
		// kernel said before it is in the events.
		for _, e := range r.Events {
			if e.Kind == "step" && e.Result != nil {
				for _, k := range e.Result.Log {
					if k.Facility == 0 {
						f.Kernel = append(f.Kernel, k.Text)
					}
				}
			}
		}
	}
	if n := len(f.Kernel); n > kernelExcerpt {
		f.Kernel = f.Kernel[n-kernelExcerpt:]
	}
	for _, e := range r.Events {
		if e.Kind == "boot" && e.Err != nil {
			f.Kind = "boot"
		}
	}
	if f.Kind != "step" {
		return f, true
	}
	recs := Records(r)
	var last *Record
	for i := range recs {
		if recs[i].Type == "step" {
			last = &recs[i]
		}
	}
	if last != nil && last.Outcome == "fail" {
		f.Step = last
		if last.Kind == "kmsg" {
			f.Kind, f.Diff = "kmsg", last.Diff
		}
	}
	return f, true
}

// kernelLines are the kernel's messages in a transcript: its "[kernel] "
// lines, and "[kernel TASK[PID]] " where the target named the thread.
func kernelLines(lines []string) []string {
	var out []string
	for _, l := range lines {
		if k, ok := strings.CutPrefix(l, "[kernel] "); ok {
			out = append(out, k)
		} else if rest, ok := strings.CutPrefix(l, "[kernel "); ok {
			if i := strings.Index(rest, "]] "); i >= 0 {
				out = append(out, rest[i+3:])
			}
		}
	}
	return out
}

// failingStep reports whether the script failed at a step: a FAIL line
// naming a line of the case file (not the end-of-case checks).
func failingStep(r suite.Result) bool {
	if r.Status != "FAIL" {
		return false
	}
	lines := strings.Split(strings.TrimRight(r.Log, "\n"), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if m := failLine.FindStringSubmatch(lines[i]); m != nil {
			return m[1] != ""
		}
	}
	return false
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
