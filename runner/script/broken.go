package script

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/kmodcheck/kmodcheck/runner/target"
)

// A knownBreak is a maintainer's word that the tutorial is broken on the
// kernel the case runs on, with what the failure says.
type knownBreak struct {
	re   *regexp.Regexp
	line string // as written, for the reports
}

// brokenCmd declares a known break, for the kernels a condition selects:
//
//	[kernel>=6.15] broken 'del_timer_sync'
//
// The case is then expected to fail with a failure whose text (its
// message and detail: the compiler's or the kernel's words) matches the
// regexp. A failure that matches is a known break: reported as BROKEN,
// with its reason, and not a failure of the run. A failure that does not
// match stays a failure, and says what was expected. A case that passes
// where it was declared broken fails: the break is gone, and the line
// should go too.
func (cfg *Config) brokenCmd(ts *testscript.TestScript, neg bool, args []string) {
	re, err := parseBroken(neg, args)
	if err != nil {
		ts.Fatalf("%v", err)
	}
	st := ts.Value(stateKey{}).(*caseState)
	if st.steps > 0 {
		ts.Fatalf("%s", brokenAfterStep)
	}
	st.broken = &knownBreak{re: re, line: args[0]}
}

const brokenAfterStep = "broken must come before the case's first step: a failure before it could not be matched"

// parseBroken parses a broken command's regexp, for the command and for
// Check.
func parseBroken(neg bool, args []string) (*regexp.Regexp, error) {
	if neg || len(args) != 1 {
		return nil, fmt.Errorf("usage: broken regexp  (the failure this kernel is known to give, e.g. [kernel>=6.15] broken 'del_timer_sync')")
	}
	re, err := regexp.Compile(args[0])
	if err != nil {
		return nil, fmt.Errorf("broken: %v", err)
	}
	return re, nil
}

// knownBreak ends the case as a known break when f is the failure its
// broken line declares: the case is skipped, in go test as in kmodcheck
// run, with the failure kept and marked (the suite reports it BROKEN).
func (cfg *Config) knownBreak(ts *testscript.TestScript, st *caseState, f Failure) bool {
	if st == nil || st.broken == nil || st.record.Failure != nil || !st.broken.matches(f, st.last) {
		return false
	}
	f.KnownBreak = st.broken.line
	cfg.record(ts, st, f)
	ts.Logf("FAIL: %s\n%s", st.record.Failure.Summary(), st.record.Failure.Detail)
	st.t.Skip(fmt.Sprintf("known break on %s: the failure matches broken %q", cfg.Target.Release(), st.broken.line))
	return true
}

// matches reports whether a failure is the declared break: its command and
// words, the kernel's report, or what the failing step printed (the
// compiler's error) match.
func (b *knownBreak) matches(f Failure, last *target.Result) bool {
	text := f.Command + ": " + f.Message + "\n" + f.Detail + "\n" + strings.Join(f.Report, "\n")
	if last != nil {
		text += "\n" + string(last.Stdout) + "\n" + string(last.Stderr)
	}
	return b.re.MatchString(text)
}

// settleBreak decides, once the case has ended, what a declared break
// makes of its outcome.
func (cfg *Config) settleBreak(ts *testscript.TestScript, st *caseState) {
	b := st.broken
	if b == nil {
		return
	}
	release := cfg.Target.Release()
	switch f := st.record.Failure; {
	case f == nil && !failed(st.t):
		f := Failure{Kind: FailFixed, Message: fmt.Sprintf("declared broken on %s (broken %q), but it passed: the break is gone; remove or narrow the broken line", release, b.line)}
		cfg.record(ts, st, f)
		ts.Logf("FAIL: %s", f.Message)
		fail(st.t)
	case f != nil && f.KnownBreak != "":
	case f != nil:
		note := fmt.Sprintf("declared broken on %s with %q, but the failure does not match it: a new break", release, b.line)
		f.Detail = strings.TrimPrefix(f.Detail+"\n", "\n") + "(" + note + ")"
		ts.Logf("[%s]", note)
	}
}
