package script

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

// FailureKind is what kind of thing failed.
type FailureKind string

// Kinds of failure.
const (
	FailSetup     FailureKind = "setup"       // the target did not start, or could not be inspected
	FailStep      FailureKind = "step"        // a step's exit status, timeout, or a check of its output
	FailKmsg      FailureKind = "kmsg"        // the kernel log differs from a golden, or has none
	FailFault     FailureKind = "fault"       // the kernel reported a fault, died or became tainted
	FailEndOfCase FailureKind = "end-of-case" // what a case that passed left behind
	FailFixed     FailureKind = "fixed"       // a case declared broken on its kernel passed
)

// A Failure is why a case failed, as the case language decided it. It is
// the one account of a failure: the transcript prints it, the reports,
// JUnit, JSON and the exit status read it, nobody parses text for it.
type Failure struct {
	Kind FailureKind
	File string // the case file
	Line int    // the failing line of the case file; 0 at the end of the case
	// Step is the failing step's number among the steps the case ran (1, 2,
	// ...; kmsg comparisons included, as in the JSON records), Command its
	// command line; 0 and "" when no step failed (set-up, end of case).
	Step    int
	Command string
	Message string   // what went wrong, one line
	Detail  string   // what follows it: a mismatch and diff, blocked tasks, problems found
	Report  []string // for a fault: the kernel's first report, summarised (title, RIP, frames)
	Fault   string   // for a fault: the line that names the kernel's first report (its title)
	// KnownBreak is the case's broken line when the failure matches it: a
	// break the maintainer declared for this kernel, not a new one.
	KnownBreak string
}

// Where is the failure's place: "file:line", or "file" at the end.
func (f Failure) Where() string {
	if f.Line == 0 {
		return f.File
	}
	return fmt.Sprintf("%s:%d", f.File, f.Line)
}

// Summary is the failure on one line: "cases/x.txtar:17: kmsg insmod:
// kernel log differs from golden/x/insmod.kmsg", or "at the end of the
// case: module x is still loaded".
func (f Failure) Summary() string {
	what := f.Message
	if f.Command != "" {
		what = f.Command + ": " + what
	}
	if f.Kind == FailEndOfCase || f.Kind == FailFixed {
		return what
	}
	return f.Where() + ": " + what
}

// fail records a failure of the case's current line and ends the script
// with it: the transcript's FAIL line is its message, the detail follows.
func (cfg *Config) fail(ts *testscript.TestScript, st *caseState, f Failure) {
	if cfg.knownBreak(ts, st, f) {
		return
	}
	cfg.record(ts, st, f)
	text := f.Message
	if f.Command != "" {
		text = f.Command + ": " + text
	}
	if f.Detail != "" {
		text += "\n" + f.Detail
	}
	ts.Fatalf("%s", text)
}

// record keeps a failure as the case's, filling in where it is. The first failure is the case's: later ones are its
// consequences.
func (cfg *Config) record(ts *testscript.TestScript, st *caseState, f Failure) {
	f.File, f.Line = scriptPos(ts)
	if f.Kind == FailEndOfCase || f.Kind == FailFixed {
		f.Line = 0
	}
	if st == nil || st.record.Failure != nil {
		return
	}
	st.record.Failure = &f
}

// stepFailure is a failure of the step that ran last.
func (st *caseState) stepFailure(kind FailureKind, command, message string) Failure {
	return Failure{Kind: kind, Step: st.steps, Command: command, Message: message}
}

// checkFailed records, once the script has ended, a failure testscript
// itself decided (a builtin's: stdout, exists, cmp...), which kmodcheck's
// commands did not see: it is a check of the last step.
func (cfg *Config) checkFailed(ts *testscript.TestScript, st *caseState) {
	if !failed(st.t) || st.record.Failure != nil {
		return
	}
	file, line := scriptPos(ts)
	check := fmt.Sprintf("the check on line %d", line)
	if l := sourceLine(file, line); l != "" {
		check = "`" + l + "`"
	}
	cfg.record(ts, st, st.stepFailure(FailStep, st.lastLine, check+" failed"))
}

// sourceLine is line n of a case file's script, "" if it cannot be read.
func sourceLine(file string, n int) string {
	lines, err := readScript(file)
	if err != nil || n < 1 || n > len(lines) {
		return ""
	}
	return strings.TrimSpace(lines[n-1])
}

// scriptPos is the case file and the line testscript is running. The
// testscript API does not tell a command where it is; its TestScript keeps
// it, and reflect reads it (TestScriptPos checks that it still can).
func scriptPos(ts *testscript.TestScript) (file string, line int) {
	v := reflect.ValueOf(ts).Elem()
	if f := v.FieldByName("file"); f.Kind() == reflect.String {
		file = f.String()
	}
	if l := v.FieldByName("lineno"); l.Kind() == reflect.Int {
		line = int(l.Int())
	}
	return file, line
}

// endOfCaseFailure is the failure of a case that left problems behind.
func endOfCaseFailure(problems []string) Failure {
	return Failure{Kind: FailEndOfCase, Message: "at the end of the case", Detail: indent(problems)}
}

// firstLine is s's first line.
func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
