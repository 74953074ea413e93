package script

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/kmodcheck/kmodcheck/runner/kmsg"
	"github.com/kmodcheck/kmodcheck/runner/target"
)

// faultKinds are what `expect` accepts for a step, with the taint bits an
// expected report of that kind may set.
var faultKinds = map[string]string{
	"oops":      "DW",
	"bug":       "DW",
	"warning":   "W",
	"panic":     "DW",
	"hung-task": "",
	"lockup":    "LDW",
	"fault":     "DWL", // any of them
}

// An expectation is what an `expect` command announced.
type expectation struct {
	kind    string
	re      *regexp.Regexp // nil: any text
	line    string         // the command, as written, for messages
	matched bool           // a report has matched it
}

func (e *expectation) matches(text string) bool { return e.re == nil || e.re.MatchString(text) }

func (e *expectation) accepts(f kmsg.Fault) bool {
	kind := strings.ReplaceAll(f.Kind, " ", "-")
	return (e.kind == "fault" || e.kind == kind) && e.matches(strings.Join(f.Lines, "\n"))
}

// accept reports whether one of the armed expectations accepts the fault
// f, marking it matched: each may take any number of reports (a bug that
// repeats at every tick), and what one bug sets off (a BUG, then the
// WARNING it leaves) takes one expect line for each kind.
func (st *caseState) accept(f kmsg.Fault) bool {
	for _, e := range st.armed {
		if e.accepts(f) {
			e.matched = true
			st.faulted = true
			return true
		}
	}
	return false
}

// armedTaint is the taint the armed expectations' reports may set.
func (st *caseState) armedTaint() uint64 {
	var mask uint64
	for _, e := range st.armed {
		for _, l := range faultKinds[e.kind] {
			mask |= kmsg.TaintBit(byte(l))
		}
	}
	return mask
}

// wouldMatch reports whether faults would match every unmatched
// expectation, matching none of them yet.
func (st *caseState) wouldMatch(faults []kmsg.Fault) bool {
	for _, e := range st.unmatched() {
		if !slices.ContainsFunc(faults, e.accepts) {
			return false
		}
	}
	return true
}

// stopsWorkExpected reports whether an armed expectation takes a report
// after which the kernel's work may stop (any but a warning): a step that
// runs on after one is not cut short (target.Step.ExpectFault).
func (st *caseState) stopsWorkExpected() bool {
	return slices.ContainsFunc(st.armed, func(e *expectation) bool { return e.kind != "warning" })
}

// unmatched are the armed expectations no report has matched yet.
func (st *caseState) unmatched() []*expectation {
	var out []*expectation
	for _, e := range st.armed {
		if !e.matched {
			out = append(out, e)
		}
	}
	return out
}

// expectCmd announces a failure the tutorial demonstrates:
//
//	expect oops|bug|warning|panic|hung-task|lockup|fault [regexp]
//	                      from the next step on, the kernel reports this,
//	                      with text matching regexp, before the case ends
//	                      (a thread's oops may come a step or two later);
//	                      the case goes on
//	expect leak [regexp]  the case leaks memory, from allocation sites
//	                      matching regexp; reported, not failed
func (cfg *Config) expectCmd(ts *testscript.TestScript, neg bool, args []string) {
	e, err := parseExpect(neg, args)
	if err != nil {
		ts.Fatalf("%v", err)
	}
	e.line = strings.Join(append([]string{"expect"}, args...), " ")
	st := ts.Value(stateKey{}).(*caseState)
	if e.kind == "leak" {
		st.expectLeak = e
	} else {
		st.expect = append(st.expect, e)
	}
}

// parseExpect parses an expect command's arguments, for the command and
// for Check.
func parseExpect(neg bool, args []string) (*expectation, error) {
	if neg || len(args) < 1 || len(args) > 2 {
		return nil, fmt.Errorf("usage: expect oops|bug|warning|panic|hung-task|lockup|fault|leak [regexp]")
	}
	e := &expectation{kind: args[0]}
	if e.kind != "leak" && faultKinds[e.kind] == "" && e.kind != "hung-task" {
		return nil, fmt.Errorf("expect: unknown kind %q (want oops, bug, warning, panic, hung-task, lockup, fault or leak)", e.kind)
	}
	if len(args) == 2 {
		re, err := regexp.Compile(args[1])
		if err != nil {
			return nil, fmt.Errorf("expect: %v", err)
		}
		e.re = re
	}
	return e, nil
}

// timeoutCmd sets the bound for each following step: timeout 30s.
func (cfg *Config) timeoutCmd(ts *testscript.TestScript, neg bool, args []string) {
	d, err := parseTimeout(neg, args)
	if err != nil {
		ts.Fatalf("%v", err)
	}
	ts.Value(stateKey{}).(*caseState).stepTimeout = d
}

// parseTimeout parses a timeout command's duration, for the command and
// for Check.
func parseTimeout(neg bool, args []string) (time.Duration, error) {
	if neg || len(args) != 1 {
		return 0, fmt.Errorf("usage: timeout duration")
	}
	d, err := time.ParseDuration(args[0])
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("timeout: %q is not a positive duration", args[0])
	}
	return d, nil
}

// timeoutFor is the bound for the next step: the case's own, else the
// run's, never past the case's deadline.
func (st *caseState) timeoutFor(cfg *Config) time.Duration {
	d := st.stepTimeout
	if d == 0 {
		d = cfg.StepTimeout
	}
	if d == 0 {
		d = time.Minute
	}
	if !st.deadline.IsZero() {
		d = min(d, time.Until(st.deadline))
	}
	return d
}

// kernelFailed fails a step the kernel could not finish (it died, or
// stopped answering), with the reports it printed, unless the case said
// the step would make the kernel report one of them.
func (cfg *Config) kernelFailed(ts *testscript.TestScript, st *caseState, line string, err error) {
	message, detail, _ := strings.Cut(err.Error(), "\n") // the explanation follows the first line
	var ke *target.KernelError
	if !errors.As(err, &ke) || len(ke.Faults) == 0 || st.ctx.Err() != nil {
		f := st.stepFailure(FailStep, line, message)
		f.Detail = detail
		cfg.fail(ts, st, f)
	}
	for _, f := range ke.Faults {
		if st.accept(f) {
			ts.Logf("[expected %s] %s", f.Kind, f.Title)
			return
		}
	}
	f := faultFailure(st, line, message, ke.Faults[0])
	f.Detail = detail // every report, the first first
	cfg.fail(ts, st, f)
}

// faultFailure is a step's failure because of a report the kernel printed.
func faultFailure(st *caseState, line, message string, f kmsg.Fault) Failure {
	report := st.workPath(f.Summary())
	out := st.stepFailure(FailFault, line, message)
	out.Detail, out.Report, out.Fault = indent(report), report, st.workPath([]string{f.Title})[0]
	return out
}

// timedOut fails a step that did not finish, with the kernel's list of
// blocked tasks: where the module hangs.
func (cfg *Config) timedOut(ts *testscript.TestScript, st *caseState, step target.Step) {
	f := st.stepFailure(FailStep, step.Line, fmt.Sprintf("timed out after %v", step.Timeout))
	if step.Where != target.OnKernel {
		cfg.fail(ts, st, f)
	}
	recs, err := st.session.BlockedTasks(st.ctx)
	if err != nil {
		f.Detail = fmt.Sprintf("(blocked tasks unavailable: %v)", err)
	} else {
		f.Detail = "blocked tasks (SysRq w):\n" + indent(kmsg.TraceSummary(st.workPath(texts(recs))))
	}
	st.dead = "a step hung"
	cfg.fail(ts, st, f)
}

// checkKernel fails a step after which the kernel reported a fault or
// became tainted, unless the case expected it.
func (cfg *Config) checkKernel(ts *testscript.TestScript, st *caseState, line string, res target.Result) {
	for _, f := range kmsg.Faults(kernelLines(res.Log)) {
		if st.accept(f) {
			ts.Logf("[expected %s] %s", f.Kind, f.Title)
			continue
		}
		cfg.fail(ts, st, faultFailure(st, line, "the kernel reported "+kmsg.Article(f.Kind)+":", f))
	}
	fresh := res.Tainted &^ st.taint &^ kmsg.ExpectedTaint() &^ st.armedTaint()
	st.taint = res.Tainted
	if fresh != 0 {
		cfg.fail(ts, st, st.stepFailure(FailFault, line, "the kernel became tainted: "+strings.Join(kmsg.DescribeTaint(fresh), ", ")))
	}
}

// endOfCase looks, once a case has passed, for what it left behind: a
// module still loaded, a kernel thread still running, memory allocated by
// a module and never freed, a fault reported after the last step.
func (cfg *Config) endOfCase(ts *testscript.TestScript, st *caseState) {
	if st.dead != "" || failed(st.t) || st.record.Failure != nil { // failed, or a known break
		return
	}
	if !cfg.awaitExpected(ts, st) {
		return
	}
	if st.faulted {
		ts.Logf("[end-of-case checks skipped: the kernel reported the fault the case expected, and keeps what it broke]")
		return
	}
	ctx := st.ctx
	var problems []string
	if p := cfg.leftoverProblem(ts, st); p != "" {
		problems = append(problems, p)
	}
	if recs, err := st.session.Log(ctx, st.lastSeq); err == nil {
		for _, f := range kmsg.Faults(kernelLines(recs)) {
			problems = append(problems, fmt.Sprintf("the kernel reported %s after the last step:\n%s", kmsg.Article(f.Kind), indent(st.workPath(f.Summary()))))
		}
	}
	end, err := st.session.Inspect(ctx)
	if err != nil {
		problems = append(problems, fmt.Sprintf("cannot inspect the kernel: %v", err))
	}
	for _, j := range end.Jobs {
		ts.Logf("[job still running at the end of the case, stopped: %s]", j)
	}
	for _, m := range added(st.start.Modules, end.Modules) {
		problems = append(problems, fmt.Sprintf("module %s is still loaded", m))
	}
	for _, k := range added(st.start.Kthreads, end.Kthreads) {
		if !strings.HasPrefix(k, "kworker/") {
			problems = append(problems, fmt.Sprintf("kernel thread %q is still running", k))
		}
	}
	for _, l := range end.Leaks {
		text := fmt.Sprintf("%d object(s) in %s allocated by %s at %s and never freed\n%s", l.Count, l.Cache, l.Module, l.Site, indent(l.Stack))
		if st.expectLeak != nil && st.expectLeak.matches(l.Module+"\n"+l.Site+"\n"+strings.Join(l.Stack, "\n")) {
			ts.Logf("[expected leak] %s", text)
			continue
		}
		problems = append(problems, "memory leak: "+text)
	}
	if end.LeakNote != "" {
		ts.Logf("[leak check: %s]", end.LeakNote)
	}
	if len(problems) > 0 {
		f := endOfCaseFailure(problems)
		cfg.record(ts, st, f)
		ts.Logf("FAIL: %s:\n%s", f.Message, f.Detail) // for the reader of the transcript
		fail(st.t)
	}
}

// awaitExpected waits, once the last step has run, for the reports the
// case expects and the kernel has not made yet (a thread's oops after the
// last step), as long as a kmsg waits for its lines. It fails the case
// for any that did not come, and reports whether all did.
func (cfg *Config) awaitExpected(ts *testscript.TestScript, st *caseState) bool {
	st.armed, st.expect = append(st.armed, st.expect...), nil // an expect after the last step
	ctx, cancel := context.WithTimeout(st.ctx, cfg.kmsgTimeout())
	defer cancel()
	// Every poll parses all that came since the last step: a report may
	// straddle two polls (its BUG line in one, its Oops line in the next).
	var recs []kmsg.Record
	from := st.lastSeq
wait:
	for len(st.unmatched()) > 0 && !st.wouldMatch(kmsg.Faults(kernelLines(recs))) {
		select {
		case <-ctx.Done():
			break wait
		case <-time.After(kmsgPoll):
		}
		more, err := st.session.Log(ctx, from)
		if err != nil {
			break
		}
		recs = more
	}
	if n := len(recs); n > 0 {
		st.lastSeq = recs[n-1].Seq + 1
	}
	for _, f := range kmsg.Faults(kernelLines(recs)) {
		if st.accept(f) {
			ts.Logf("[expected %s, after the last step] %s", f.Kind, f.Title)
		}
	}
	missed := st.unmatched()
	if len(missed) == 0 {
		return true
	}
	var lines []string
	for _, e := range missed {
		lines = append(lines, fmt.Sprintf("%s: the kernel reported no %s%s", e.line, e.kind, e.what()))
	}
	f := endOfCaseFailure(lines)
	cfg.record(ts, st, f)
	ts.Logf("FAIL: %s:\n%s", f.Message, f.Detail)
	fail(st.t)
	return false
}

// what is an expectation's text condition, for a message: ` matching "RE"`.
func (e *expectation) what() string {
	if e.re == nil {
		return ""
	}
	return fmt.Sprintf(" matching %q", e.re)
}

// kernelLines are the kernel's own records' texts, without user space's.
func kernelLines(recs []kmsg.Record) []string {
	var lines []string
	for _, r := range recs {
		if r.Facility == 0 {
			lines = append(lines, r.Text)
		}
	}
	return lines
}

// added returns the names in after that before lacks, counting repeats.
func added(before, after []string) []string {
	have := map[string]int{}
	for _, b := range before {
		have[b]++
	}
	var out []string
	for _, a := range after {
		if have[a] > 0 {
			have[a]--
			continue
		}
		out = append(out, a)
	}
	return out
}

// failed and fail reach the testing.T (or the CLI's) behind testscript.T,
// which has neither: the end-of-case checks run after the script.
func failed(t testscript.T) bool {
	f, ok := t.(interface{ Failed() bool })
	return ok && f.Failed()
}

func fail(t testscript.T) {
	if f, ok := t.(interface{ Fail() }); ok {
		f.Fail()
	}
}

func texts(recs []kmsg.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Text)
	}
	return out
}

// workPath writes the work directory as $WORK in lines, and nothing else:
// a report's addresses and offsets are worth reading as they are.
func (st *caseState) workPath(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = strings.ReplaceAll(l, st.work, "$WORK")
	}
	return out
}

func indent(lines []string) string {
	return "    " + strings.ReplaceAll(strings.Join(lines, "\n"), "\n", "\n    ")
}
