package script

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/kmodcheck/kmodcheck/runner/golden"
	"github.com/kmodcheck/kmodcheck/runner/output"
	"github.com/kmodcheck/kmodcheck/runner/target"
)

// OutputExt is the extension of step-output golden files.
const OutputExt = ".out"

// outCmd compares the last step's standard output (or, with -stderr, its
// standard error) with golden/CASE/NAME.out, in the golden language of
// kernel logs, both sides normalised (output.Normalizer). -keep names
// normalisation rules not to apply. It reports, and with -update
// rewrites, as kmsg does; its comparisons are steps of kind Compare, as
// kmsg's are, so reports and artifacts treat both kinds of golden alike.
func (cfg *Config) outCmd(ts *testscript.TestScript, neg bool, args []string) {
	a, err := parseOutArgs(neg, args)
	if err != nil {
		ts.Fatalf("%v", err)
	}
	st := ts.Value(stateKey{}).(*caseState)
	if st.last == nil {
		ts.Fatalf("out %s: no step has run: out compares the output of the step before it", a.name)
	}
	line := strings.Join(append([]string{"out"}, args...), " ")
	st.count(line)
	cfg.begin(ts.Name(), st, Compare, line, "")

	norm := output.Normalizer{Work: st.work, Release: cfg.Target.Release(), Keep: a.keep}
	path, updatePath := cfg.goldenFileFor(ts.Name(), a.name, OutputExt, cfg.Target.Release())
	gf := loadGolden(ts, "out", path, updatePath, norm.ParseGolden)
	if gf.missing && !cfg.Update {
		ts.Fatalf("out: golden file %s does not exist; run with -update to create it from this run's %s", path, a.stream)
	}

	cmp := &Comparison{Golden: path}
	m, lines := compareStep(gf.parsed, norm, st.last, a)
	if m.OK {
		cmp.OK = true
		ts.Logf("[out %s: %d %s lines match %s]", a.name, len(lines), a.stream, path)
		cfg.compared(ts.Name(), st, cmp)
		return
	}
	if cfg.Update {
		cfg.updateOut(ts, a.name, gf, lines, cmp)
		cfg.compared(ts.Name(), st, cmp)
		return
	}
	cmp.Mismatch, cmp.First, cmp.Diff = m.Mismatch, m.First, m.Diff
	cfg.compared(ts.Name(), st, cmp)
	cfg.fail(ts, st, Failure{Kind: FailKmsg, Step: st.steps, Command: line,
		Message: a.stream + " differs from " + path, Detail: m.Mismatch + "\n" + m.Diff})
}

// outArgs are an out command's flags and golden name.
type outArgs struct {
	name     string
	stream   string          // what is compared: "stdout", "stderr" or "terminal"
	terminal bool            // both streams, interleaved as a terminal shows them
	keep     map[string]bool // normalisation rules not to apply
}

// parseOutArgs parses an out command's arguments, for the command and for
// Check.
func parseOutArgs(neg bool, args []string) (outArgs, error) {
	fset := flag.NewFlagSet("out", flag.ContinueOnError)
	useStderr := fset.Bool("stderr", false, "compare the step's standard error instead of its output")
	terminal := fset.Bool("terminal", false, "compare what a terminal showed: standard output and error, each in its order, interleaved in any way")
	keep := fset.String("keep", "", "comma-separated normalisation rules not to apply, e.g. size")
	fset.SetOutput(io.Discard)
	const usage = "usage: out [-stderr | -terminal] [-keep rule,...] name"
	if err := fset.Parse(args); err != nil {
		return outArgs{}, fmt.Errorf("out: %v (%s)", err, usage)
	}
	if fset.NArg() != 1 || neg {
		return outArgs{}, fmt.Errorf("%s", usage)
	}
	if *useStderr && *terminal {
		return outArgs{}, fmt.Errorf("out: -stderr and -terminal: choose one (-terminal compares both streams)")
	}
	a := outArgs{name: fset.Arg(0), stream: "stdout", terminal: *terminal, keep: map[string]bool{}}
	for _, r := range strings.Split(*keep, ",") {
		if r = strings.TrimSpace(r); r != "" {
			a.keep[r] = true
		}
	}
	if err := output.CheckRules(a.keep); err != nil {
		return outArgs{}, fmt.Errorf("out: %v", err)
	}
	switch {
	case *useStderr:
		a.stream = "stderr"
	case *terminal:
		a.stream = "terminal"
	}
	return a, nil
}

// updateOut writes the golden -update makes of lines, if it changed: a
// fresh one, or the golden revised to accept them.
func (cfg *Config) updateOut(ts *testscript.TestScript, name string, gf goldenFile, lines []string, cmp *Comparison) {
	text := output.NewGolden(lines)
	if gf.parsed != nil {
		text = gf.parsed.Update(lines)
	}
	cmp.OK, cmp.Golden = true, gf.updatePath
	if !bytes.Equal(text, gf.data) || gf.updatePath != gf.path {
		gf.write(ts, "out", text)
		cmp.Updated = true
		ts.Logf("[out %s: updated %s]", name, gf.updatePath)
	}
}

// compareStep compares a step's output (a's stream, or for a terminal
// both streams as a terminal shows them) with want, if there is a golden.
// It returns the lines an update writes from: for a terminal, the streams
// laid out as the golden has them, or stdout then stderr.
func compareStep(want *golden.Golden, norm output.Normalizer, last *target.Result, a outArgs) (output.Match, []string) {
	stdout := last.Stdout
	if a.stream == "stderr" {
		stdout = last.Stderr
	}
	lines := norm.Lines(stdout)
	var stderr []string // the terminal's other stream
	if a.terminal {
		stderr = norm.Lines(last.Stderr)
	}
	if a.stream != "stderr" && output.LsColumns(last.Step.Line) {
		lines = lsRows(want, lines, len(stderr))
	}
	if !a.terminal {
		if want == nil {
			return output.Match{}, lines
		}
		return output.Compare(want, lines, a.stream), lines
	}
	if want == nil {
		return output.Match{}, append(lines, stderr...)
	}
	return output.CompareTerminal(want, lines, stderr)
}

// lsRows lays out a bare ls's names (output.Columns) in the rows of a
// golden pasted from a terminal: as many as the golden's lines, less
// stderrLines, the standard error's that a terminal's golden also holds.
func lsRows(want *golden.Golden, names []string, stderrLines int) []string {
	if want == nil {
		return names
	}
	rows, ok := want.PlainLines()
	if !ok {
		return names
	}
	return output.Columns(names, rows-stderrLines)
}
