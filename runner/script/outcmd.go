package script

import (
	"bytes"
	"errors"
	"flag"
	"io/fs"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/kmodcheck/kmodcheck/runner/kmsg"
	"github.com/kmodcheck/kmodcheck/runner/target"
)

// OutputExt is the extension of step-output golden files.
const OutputExt = ".out"

// outCmd compares the last step's standard output (or, with -stderr, its
// standard error) with golden/CASE/NAME.out, in the golden language of
// kernel logs, both sides normalised (kmsg.OutputNormalizer). -keep names
// normalisation rules not to apply. It reports, and with -update
// rewrites, as kmsg does; its comparisons are steps of kind Compare, as
// kmsg's are, so reports and artifacts treat both kinds of golden alike.
func (cfg *Config) outCmd(ts *testscript.TestScript, neg bool, args []string) {
	fset := flag.NewFlagSet("out", flag.ContinueOnError)
	useStderr := fset.Bool("stderr", false, "compare the step's standard error instead of its output")
	terminal := fset.Bool("terminal", false, "compare what a terminal showed: standard output and error, each in its order, interleaved in any way")
	keep := fset.String("keep", "", "comma-separated normalisation rules not to apply, e.g. size")
	var usage bytes.Buffer
	fset.SetOutput(&usage)
	if err := fset.Parse(args); err != nil || fset.NArg() != 1 || neg {
		ts.Fatalf("usage: out [-stderr | -terminal] [-keep rule,...] name\n%s", usage.String())
	}
	if *useStderr && *terminal {
		ts.Fatalf("out: -stderr and -terminal: choose one (-terminal compares both streams)")
	}
	name := fset.Arg(0)
	rules := map[string]bool{}
	for _, r := range strings.Split(*keep, ",") {
		if r = strings.TrimSpace(r); r != "" {
			rules[r] = true
		}
	}
	if err := kmsg.CheckRules(rules); err != nil {
		ts.Fatalf("out: %v", err)
	}
	st := ts.Value(stateKey{}).(*caseState)
	if st.last == nil {
		ts.Fatalf("out %s: no step has run: out compares the output of the step before it", name)
	}
	stream, output := "stdout", st.last.Stdout
	if *useStderr {
		stream, output = "stderr", st.last.Stderr
	}
	if *terminal {
		stream = "terminal"
	}
	line := strings.Join(append([]string{"out"}, args...), " ")
	st.count(line)
	cfg.begin(ts.Name(), st, Compare, line, "")

	norm := kmsg.OutputNormalizer{Work: st.work, Release: cfg.Target.Release(), Keep: rules}
	goldenPath, updatePath := cfg.goldenFileFor(ts.Name(), name, OutputExt, cfg.Target.Release())
	data, err := readGolden(goldenPath)
	missing := errors.Is(err, fs.ErrNotExist)
	if err != nil && !missing {
		ts.Fatalf("out: %v", err)
	}
	var golden *kmsg.Golden
	if !missing {
		if golden, err = kmsg.ParseOutputGolden(goldenPath, data, norm); err != nil {
			ts.Fatalf("%v", err)
		}
	} else if !cfg.Update {
		ts.Fatalf("out: golden file %s does not exist; run with -update to create it from this run's %s", goldenPath, stream)
	}

	cmp := &Comparison{Golden: goldenPath}
	m, lines := compareStep(golden, norm, st.last, output, stream, *terminal)
	if golden != nil {
		if m.OK {
			cmp.OK = true
			ts.Logf("[out %s: %d %s lines match %s]", name, len(lines), stream, goldenPath)
			cfg.compared(ts.Name(), st, cmp)
			return
		}
	}
	if cfg.Update {
		text := kmsg.NewOutput(lines)
		if golden != nil {
			text = golden.Update(lines)
		}
		cmp.OK, cmp.Golden = true, updatePath
		if !bytes.Equal(text, data) || updatePath != goldenPath {
			if err := kmsg.WriteGolden(updatePath, text); err != nil {
				ts.Fatalf("out: update %s: %v", updatePath, err)
			}
			cmp.Updated = true
			ts.Logf("[out %s: updated %s]", name, updatePath)
		}
		cfg.compared(ts.Name(), st, cmp)
		return
	}
	cmp.Mismatch, cmp.First, cmp.Diff = m.Mismatch, m.First, m.Diff
	cfg.compared(ts.Name(), st, cmp)
	cfg.fail(ts, st, Failure{Kind: FailKmsg, Step: st.steps, Command: line,
		Message: stream + " differs from " + goldenPath, Detail: m.Mismatch + "\n" + m.Diff})
}

// compareStep compares a step's output (its stream's, or with terminal
// both streams as a terminal shows them) with golden, if there is one. It
// returns the lines an update writes from: for a terminal, the streams
// laid out as the golden has them, or stdout then stderr.
func compareStep(golden *kmsg.Golden, norm kmsg.OutputNormalizer, last *target.Result, output []byte, stream string, terminal bool) (kmsg.OutputMatch, []string) {
	lines := norm.Lines(output)
	if !terminal {
		if golden == nil {
			return kmsg.OutputMatch{}, lines
		}
		return kmsg.CompareOutput(golden, lines, stream), lines
	}
	stderr := norm.Lines(last.Stderr)
	if golden == nil {
		return kmsg.OutputMatch{}, append(lines, stderr...)
	}
	return kmsg.CompareTerminal(golden, lines, stderr)
}
