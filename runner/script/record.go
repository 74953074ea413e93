package script

import (
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/kmodcheck/kmodcheck/runner/target"
)

// Status is how a case ended on a kernel.
type Status string

// Statuses of a case on a kernel.
const (
	Pass   Status = "PASS"
	Fail   Status = "FAIL"
	Skip   Status = "SKIP"
	Broken Status = "BROKEN" // failed as the case's broken line declares: a known break
	// Interrupted: a stop signal ended the run before the case did.
	Interrupted Status = "INTERRUPTED"
)

// StepKind is what a step of a case is.
type StepKind string

// Kinds of step. The words are those of the JSON report, which calls every
// golden comparison, kmsg's and out's, "kmsg".
const (
	Command StepKind = "command" // a tutorial's command, run on the target
	Compare StepKind = "kmsg"    // a golden comparison: kmsg or out
)

// A Record is what a case did on one kernel, built by the script as the
// case runs: its boot, its steps in order, and its failure. Reports format
// it; nobody needs to replay the case's progress to know what happened.
type Record struct {
	Booting bool         // the case began to start its kernel
	Boot    *target.Info // the kernel once started; nil if it did not start
	BootErr error        // why the kernel did not start
	// Steps are those the case began, numbered in order; the last may not
	// have finished (the case failed or was stopped during it).
	Steps []Step
	// Failure is the case's failure, once it has failed (or declared a
	// known break).
	Failure *Failure
}

// A Step is one step of a case: a command run on the target, or a golden
// comparison.
type Step struct {
	N     int // 1, 2, ... in the order the case ran its steps, comparisons included
	Kind  StepKind
	Line  string // the command line, e.g. "insmod ./kthread.ko", "kmsg insmod"
	Where string // a command's: target.OnKernel or target.OnBuild

	// Once it has run, a command's result, and why it could not run (the
	// kernel died); a comparison's outcome.
	Result  *target.Result
	Err     error
	Compare *Comparison
}

// Done reports whether the step has run to its end.
func (s Step) Done() bool { return s.Result != nil || s.Compare != nil }

// Ran is the steps that ran to their end, in order: those the reports
// list.
func (r Record) Ran() []Step {
	var out []Step
	for _, s := range r.Steps {
		if s.Done() {
			out = append(out, s)
		}
	}
	return out
}

// NoticeKind is what a progress notice tells.
type NoticeKind int

// Kinds of notice, in the order a case gives them.
const (
	Booting     NoticeKind = iota // the case starts its kernel
	Booted                        // the kernel started, or failed to: Boot or BootErr
	StepStarted                   // Step is about to run
	StepDone                      // Step has run: its Result or Compare is set
	// Awaiting: a step or comparison needs the kernel, which may still be
	// booting (its build steps ran meanwhile); Booted follows.
	Awaiting
)

// A Notice tells a live progress display what a case is doing as it
// happens; the case's Record keeps what it did.
type Notice struct {
	Case    string
	Kind    NoticeKind
	Boot    *target.Info // Booted: the kernel started
	BootErr error        // Booted: the kernel did not start
	Step    Step         // StepStarted, StepDone
}

// count counts a step the case is about to take, whether or not it can
// start it: every step and comparison is numbered here and only here.
func (st *caseState) count(line string) {
	st.steps++
	st.lastLine = line
}

// begin starts the step counted last: it records it and tells the
// observer.
func (cfg *Config) begin(name string, st *caseState, kind StepKind, line, where string) {
	st.record.Steps = append(st.record.Steps, Step{N: st.steps, Kind: kind, Line: line, Where: where})
	cfg.observe(Notice{Case: name, Kind: StepStarted, Step: st.current()})
}

// current is the step the case is running, or ran last.
func (st *caseState) current() Step {
	return st.record.Steps[len(st.record.Steps)-1]
}

// ranCommand records the current step's result and tells the observer.
func (cfg *Config) ranCommand(name string, st *caseState, res *target.Result, err error) {
	s := &st.record.Steps[len(st.record.Steps)-1]
	s.Result, s.Err = res, err
	cfg.observe(Notice{Case: name, Kind: StepDone, Step: *s})
}

// compared records the current comparison's outcome and tells the
// observer.
func (cfg *Config) compared(name string, st *caseState, c *Comparison) {
	s := &st.record.Steps[len(st.record.Steps)-1]
	s.Compare = c
	cfg.observe(Notice{Case: name, Kind: StepDone, Step: *s})
}

// RecordOf is the record of the case whose environment env is, once its
// set-up has run; nil if the set-up refused to start it.
func RecordOf(env *testscript.Env) *Record {
	st, ok := env.Values[stateKey{}].(*caseState)
	if !ok {
		return nil
	}
	return &st.record
}
