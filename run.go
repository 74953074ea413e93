package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/kmodcheck/kmodcheck/runner/report"
	"github.com/kmodcheck/kmodcheck/runner/script"
	"github.com/kmodcheck/kmodcheck/runner/setup"
	"github.com/kmodcheck/kmodcheck/runner/shard"
	"github.com/kmodcheck/kmodcheck/runner/suite"
	"github.com/kmodcheck/kmodcheck/runner/target"
)

// runUsage heads `kmodcheck run -h`; the flags follow it.
const runUsage = `Usage: kmodcheck run [flags] cases/ | case.txtar ...

Runs each case on each kernel (a case × kernel pair), -j pairs at a time,
and prints a line per pair: PASS, FAIL or SKIP, the kernel, the
accelerator, the time; for a failure, its transcript (the failing step, its
output, the diff). On a terminal, the pairs running now are shown below,
each with its stage and times, updated in place; elsewhere (a pipe, a CI
log), or with -v, a plain line per event: === RUN, BOOT, STEP, KMSG.

Each pair keeps its files in -out DIR/KERNEL/CASE: console.log, kernel.log,
transcript.txt, steps/NN-COMMAND.txt, and NAME.kmsg.diff for a golden that
did not match; the end of the run names those of the failures.

Reports for CI: -junit FILE (JUnit XML, a testsuite per kernel, a testcase
per pair), -json FILE (a JSON object per line: the run, then one per step,
one per pair; see docs/reports.md), -matrix FILE (the case × kernel table, with
each failure's step and reason, as markdown), -html FILE (the table, each
pair's reason, golden diff and transcript, in one page), and, when
$GITHUB_STEP_SUMMARY names a file, a markdown summary appended to it. A run
over more than one kernel ends with the table. -shard I/N runs a stable
part of the pairs, so that N CI jobs run every pair once; kmodcheck report
merges their -json files.

SIGINT, SIGTERM and SIGHUP stop a run: the VMs are killed, the cases that
had not ended are INTERRUPTED in the summary and the reports, and the exit
status is 128 + the signal's number (130, 143, 129). A second signal ends
kmodcheck at once.

Exit status: 0 all passed (or none was selected), 1 a case failed, 2 usage
or set-up error (a malformed case, QEMU or a kernel missing, a report that
cannot be written), 128+N stopped by signal N.

Flags:
`

// runArgs are kmodcheck run's flags.
type runArgs struct {
	opts                                      setup.Options
	kernels                                   stringList
	caseTimeout                               time.Duration
	update, verbose                           bool
	runRE, list, shard                        string
	jobs, count                               int
	golden, modules, out, junitFile, jsonFile string
	matrixFile, htmlFile, runID               string

	// Parsed from the above by parseRun:
	paths []string         // the cases and directories named
	match []*regexp.Regexp // -run and -list
	part  shard.Shard      // -shard
}

// runFlags defines kmodcheck run's flags, for runCmd and for help.
func runFlags(output io.Writer) (*flag.FlagSet, *runArgs) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(output)
	a := &runArgs{}
	fs.StringVar(&a.opts.Target, "target", "qemu", "where steps run: qemu (a VM per case) or host (this machine's kernel; root)")
	fs.Var(&a.kernels, "kernel", "kernel `release` or pattern for the qemu target; repeat it to run every case on each (default: the system's newest)")
	fs.StringVar(&a.opts.Accel, "accel", "auto", "qemu accelerator: auto (probe KVM, else TCG), kvm or tcg")
	fs.StringVar(&a.opts.Boot, "boot", "snapshot", "qemu boot: snapshot (restore a state saved once per kernel; a failed restore boots cold) or cold (boot the kernel for every case)")
	fs.DurationVar(&a.opts.StepTimeout, "step-timeout", time.Minute, "bound for one step (a case's timeout command overrides it)")
	fs.DurationVar(&a.caseTimeout, "case-timeout", 10*time.Minute, "bound for a whole case")
	fs.BoolVar(&a.update, "update", false, "rewrite golden files that differ from what the kernel printed")
	fs.IntVar(&a.count, "count", 1, "with -update, run each case `N` times, one run after another, and write goldens that accept every run")
	fs.StringVar(&a.runRE, "run", "", "run only cases whose name matches `regexp`")
	fs.StringVar(&a.list, "list", "", "list the case@kernel pairs whose case matches `regexp` (and -run, and -shard) and exit without running them")
	fs.StringVar(&a.shard, "shard", "", "run only the shard `I/N` (1 <= I <= N) of the case × kernel pairs: a pair's shard is fixed by its case and kernel names, so N jobs with shards 1/N..N/N run every pair exactly once")
	fs.IntVar(&a.jobs, "j", runtime.NumCPU(), "case × kernel pairs to run at once")
	fs.StringVar(&a.golden, "golden", "", "golden `dir` (default: golden beside the cases directory)")
	fs.StringVar(&a.modules, "modules", "", "module sources `dir` (default: modules beside the cases directory)")
	fs.StringVar(&a.out, "out", "", "keep each pair's console and kernel logs, transcript, steps and diffs in `dir`/KERNEL/CASE (default: a new directory under the cache's runs)")
	fs.StringVar(&a.junitFile, "junit", "", "write a JUnit XML report to `file`: a testsuite per kernel, a testcase per case × kernel")
	fs.StringVar(&a.jsonFile, "json", "", "write a JSON report to `file`: a JSON object per line, per step and per case × kernel")
	fs.StringVar(&a.matrixFile, "matrix", "", "write the case × kernel table, with each failure's step and reason, to `file` as markdown")
	fs.StringVar(&a.htmlFile, "html", "", "write an HTML report to `file`: the table, and each case × kernel's reason, golden diff and transcript")
	fs.StringVar(&a.runID, "run-id", os.Getenv("GITHUB_RUN_ID"), "the run's `id` in the JSON report, which kmodcheck report checks when it merges shards (default: $GITHUB_RUN_ID)")
	fs.BoolVar(&a.verbose, "v", false, "print a line per event and every case's transcript, also on a terminal")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), runUsage)
		fs.PrintDefaults()
	}
	return fs, a
}

// runHelp writes kmodcheck run's usage and flags.
func runHelp(w io.Writer) {
	fs, _ := runFlags(w)
	fs.Usage()
}

// runCmd is kmodcheck run: it parses the command line, plans the pairs,
// runs them and reports the results, each step below.
func runCmd(ctx context.Context, args []string, std stdio) error {
	stdout, stderr := std.out, std.err
	a, err := parseRun(args, stderr)
	if err != nil {
		return err
	}
	p, err := planRun(ctx, a, stderr)
	if err != nil {
		return err
	}
	if a.list != "" {
		p.list(stdout)
		return nil
	}
	if p.pairs > 0 {
		// A kernel that cannot be prepared fails its cases, each saying why.
		if err := setup.Prepare(ctx, p.targets); err != nil {
			fmt.Fprintf(stderr, "kmodcheck: %v\n", err)
		}
	}
	rep, err := openReports(a)
	if err != nil {
		return failed("", 2, err)
	}
	defer rep.close()
	if a.out == "" {
		if a.out, err = suite.RunDir(); err != nil {
			return failed("", 2, err)
		}
	}
	p.cfg.ArtifactDir = a.out
	if err := p.writeRunRecord(rep); err != nil {
		return failed("", 2, err)
	}
	r := p.run(ctx, rep, stdout)
	return r.report(ctx, p, rep, stdout)
}

// parseRun parses kmodcheck run's command line.
func parseRun(args []string, stderr io.Writer) (*runArgs, error) {
	fs, a := runFlags(stderr)
	if err := fs.Parse(args); err != nil {
		return nil, flagError(err)
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return nil, errUsage("")
	}
	if a.count < 1 || a.count > 1 && !a.update {
		return nil, errUsage("kmodcheck: -count N needs -update and N >= 1\n")
	}
	a.paths = fs.Args()
	for _, f := range []struct{ name, re string }{{"run", a.runRE}, {"list", a.list}} {
		if f.re == "" {
			continue
		}
		re, err := regexp.Compile(f.re)
		if err != nil {
			return nil, errUsage(fmt.Sprintf("kmodcheck: -%s: %v\n", f.name, err))
		}
		a.match = append(a.match, re)
	}
	if a.shard != "" {
		var err error
		if a.part, err = shard.Parse(a.shard); err != nil {
			return nil, errUsage(fmt.Sprintf("kmodcheck: -shard: %v\n", err))
		}
	}
	return a, nil
}

// A runPlan is what a run will do: the checked cases, the targets they run
// on, and the pairs of this shard.
type runPlan struct {
	args     *runArgs
	cfg      script.Config
	files    []string
	targets  []target.Target
	selected [][]string // selected[i]: the cases to run on targets[i]
	pairs    int
}

// planRun finds and checks the cases, defaults -golden and -modules beside
// them, and sets up the targets; progress goes to stderr.
func planRun(ctx context.Context, a *runArgs, stderr io.Writer) (*runPlan, error) {
	files, cfg, err := a.checkedCases()
	if err != nil {
		return nil, err
	}
	cfg.KernelVariants = len(a.kernels) > 0
	a.opts.Progress = stderr
	targets, err := a.opts.NewTargets(ctx, a.kernels)
	if err != nil {
		return nil, failed("", 2, err)
	}
	p := &runPlan{args: a, cfg: cfg, files: files, targets: targets}
	p.selected = suite.Select(targets, files, a.part)
	for _, sel := range p.selected {
		p.pairs += len(sel)
	}
	return p, nil
}

// casesRoot is the directory that holds path's cases directory (path
// itself, or the directory of path, a case file), where its golden and
// modules directories are.
func casesRoot(path string) string {
	if st, err := os.Stat(path); err == nil && !st.IsDir() {
		return filepath.Dir(filepath.Dir(filepath.Clean(path)))
	}
	return filepath.Dir(filepath.Clean(path))
}

// checkedCases are the case files a names, each checked before anything
// boots (script.Config.Check), and the configuration they run with.
func (a *runArgs) checkedCases() ([]string, script.Config, error) {
	files, err := suite.Cases(a.paths, nil)
	if err != nil {
		return nil, script.Config{}, failed("", 2, err)
	}
	files = matching(files, a.match)
	root := casesRoot(a.paths[0])
	for _, p := range a.paths[1:] {
		if other := casesRoot(p); other != root && (a.golden == "" || a.modules == "") {
			return nil, script.Config{}, failed("", 2, fmt.Errorf("cases from two directories, %s and %s, each with its golden and modules beside it: run one at a time, or give -golden and -modules", a.paths[0], p))
		}
	}
	if a.golden == "" {
		a.golden = filepath.Join(root, "golden")
	}
	if a.modules == "" {
		a.modules = filepath.Join(root, "modules")
	}
	cfg := script.Config{
		Golden: a.golden, Modules: a.modules, Update: a.update,
		StepTimeout: a.opts.StepTimeout, CaseTimeout: a.caseTimeout,
	}
	if a.count > 1 {
		cfg.UpdateRuns = &script.GoldenRuns{}
	}
	var bad []error
	for _, f := range files {
		if err := cfg.Check(f); err != nil {
			bad = append(bad, err)
		}
	}
	if len(bad) > 0 { // each names its file and line: no prefix
		return nil, script.Config{}, &commandError{code: 2, errs: bad}
	}
	return files, cfg, nil
}

// list prints the planned pairs, one case@kernel a line (-list).
func (p *runPlan) list(stdout io.Writer) {
	for i, sel := range p.selected {
		for _, f := range sel {
			fmt.Fprintf(stdout, "%s@%s\n", suite.CaseName(f), p.targets[i].Release())
		}
	}
}

// runReports are the report files of -junit and -json; nil when not asked.
type runReports struct {
	junit, json, matrix, html *os.File
}

// openReports creates the report files before anything boots: a path that
// cannot be written is a set-up error, found at once.
func openReports(a *runArgs) (*runReports, error) {
	rep := &runReports{}
	for _, r := range []struct {
		name string
		f    **os.File
	}{{a.junitFile, &rep.junit}, {a.jsonFile, &rep.json}, {a.matrixFile, &rep.matrix}, {a.htmlFile, &rep.html}} {
		if r.name == "" {
			continue
		}
		var err error
		if *r.f, err = os.Create(r.name); err != nil {
			rep.close()
			return nil, err
		}
	}
	return rep, nil
}

// close closes what is open still, for an early return; report closes
// them itself to see their errors.
func (rep *runReports) close() {
	for _, f := range []*os.File{rep.junit, rep.json, rep.matrix, rep.html} {
		if f != nil {
			f.Close()
		}
	}
}

// A finishedRun is what running the plan gave.
type finishedRun struct {
	results []script.Result
	start   time.Time
	took    time.Duration
	jsonErr error // the first error writing the JSON report
}

// run runs the planned pairs, -count times, showing progress on stdout
// and writing each pair's JSON record as it ends.
func (p *runPlan) run(ctx context.Context, rep *runReports, stdout io.Writer) finishedRun {
	a := p.args
	if a.part.Count > 0 {
		fmt.Fprintf(stdout, "shard %s: %d case × kernel pairs\n", a.part, p.pairs)
	}
	if p.pairs == 0 {
		fmt.Fprintln(stdout, "no case × kernel pair selected")
	}
	var progress report.Progress = report.NewPlain(stdout, a.verbose)
	if size, ok := terminal(stdout); ok && !a.verbose {
		progress = report.NewLive(stdout, size, p.pairs*a.count, false, report.LiveRefresh)
	}
	r := finishedRun{start: time.Now()}
	rr := &report.Reporter{Progress: progress}
	if rep.json != nil { // a nil *os.File is no nil io.Writer
		rr.JSON = rep.json
	}
	for i := range a.count { // the runs of -update -count, one after another
		if i > 0 && ctx.Err() != nil {
			break // a stop signal ended the run before
		}
		r.results = append(r.results, suite.Run(ctx, p.cfg, p.targets, p.selected, suite.RunOptions{
			Jobs: a.jobs, Verbose: a.verbose, Report: rr,
		})...)
	}
	progress.Close()
	r.took = time.Since(r.start)
	r.jsonErr = rr.Err()
	return r
}

// report prints the run's end (the signal that stopped it, the artifacts of
// the failures, the summary) and finishes the reports: exit status 1 when
// a case failed, 2 when a report could not be written.
func (r finishedRun) report(ctx context.Context, p *runPlan, rep *runReports, stdout io.Writer) error {
	if sig, ok := interruptedBy(ctx); ok {
		fmt.Fprintf(stdout, "kmodcheck: %s stopped the run after %.1fs\n", signalName(sig), r.took.Seconds())
	}
	report.Artifacts(stdout, p.cfg.ArtifactDir, r.results)
	report.Summary(stdout, r.results, r.took)

	var errs []error
	if r.jsonErr != nil {
		errs = append(errs, r.jsonErr)
	}
	if rep.json != nil {
		if err := rep.json.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	title := "kmodcheck"
	if shard := p.args.part; shard.Count > 0 {
		title += " (shard " + shard.String() + ")"
	}
	out := tableReports{pairs: report.PairsOf(r.results), kernels: p.kernels(), title: title, took: r.took, started: r.start}
	if errs = append(errs, out.write(rep)...); len(errs) > 0 {
		return failed("", 2, errs...)
	}
	for _, res := range r.results {
		if res.Status == script.Fail {
			return statusError(1)
		}
	}
	return nil
}

// matching keeps the case files whose names match every regexp.
func matching(files []string, res []*regexp.Regexp) []string {
	var out []string
	for _, f := range files {
		ok := true
		for _, re := range res {
			ok = ok && re.MatchString(suite.CaseName(f))
		}
		if ok {
			out = append(out, f)
		}
	}
	return out
}

// terminal reports whether w is a terminal that can show live progress,
// and how to ask its size: not when TERM is dumb or unset.
func terminal(w io.Writer) (func() (int, int), bool) {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil, false
	}
	if t := os.Getenv("TERM"); t == "" || t == "dumb" {
		return nil, false
	}
	return func() (int, int) {
		w, h, err := term.GetSize(int(f.Fd()))
		if err != nil {
			return 80, 24
		}
		return w, h
	}, true
}

// stringList is a flag that may be repeated.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }
