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
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/kmodcheck/kmodcheck/runner/report"
	"github.com/kmodcheck/kmodcheck/runner/script"
	"github.com/kmodcheck/kmodcheck/runner/suite"
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
per pair), -json FILE (a JSON object per line: one per step, one per pair;
see README.md), and, when $GITHUB_STEP_SUMMARY names a file, a markdown
summary appended to it. -shard I/N runs a stable part of the pairs, so that
N CI jobs run every pair once.

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
	opts                                      suite.Options
	kernels                                   stringList
	caseTimeout                               time.Duration
	update, verbose                           bool
	runRE, list, shard                        string
	jobs, count                               int
	golden, modules, out, junitFile, jsonFile string
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

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, a := runFlags(stderr)
	caseTimeout, update, runRE, list, shardFlag, jobs := &a.caseTimeout, &a.update, &a.runRE, &a.list, &a.shard, &a.jobs
	golden, modules, out, junitFile, jsonFile, verbose := &a.golden, &a.modules, &a.out, &a.junitFile, &a.jsonFile, &a.verbose
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	if a.count < 1 || a.count > 1 && !*update {
		fmt.Fprintln(stderr, "kmodcheck: -count N needs -update and N >= 1")
		return 2
	}
	opts, kernels := a.opts, a.kernels
	var res []*regexp.Regexp
	for _, f := range []struct{ name, re string }{{"run", *runRE}, {"list", *list}} {
		if f.re == "" {
			continue
		}
		re, err := regexp.Compile(f.re)
		if err != nil {
			fmt.Fprintf(stderr, "kmodcheck: -%s: %v\n", f.name, err)
			return 2
		}
		res = append(res, re)
	}
	var shard suite.Shard
	if *shardFlag != "" {
		var err error
		if shard, err = suite.ParseShard(*shardFlag); err != nil {
			fmt.Fprintf(stderr, "kmodcheck: -shard: %v\n", err)
			return 2
		}
	}
	files, err := suite.Cases(fs.Args(), nil)
	if err != nil {
		fmt.Fprintf(stderr, "kmodcheck: %v\n", err)
		return 2
	}
	files = matching(files, res)
	root := filepath.Dir(filepath.Clean(fs.Arg(0)))
	if st, err := os.Stat(fs.Arg(0)); err == nil && !st.IsDir() {
		root = filepath.Dir(filepath.Dir(filepath.Clean(fs.Arg(0))))
	}
	if *golden == "" {
		*golden = filepath.Join(root, "golden")
	}
	if *modules == "" {
		*modules = filepath.Join(root, "modules")
	}
	cfg := script.Config{
		Golden: *golden, Modules: *modules, Update: *update,
		StepTimeout: opts.StepTimeout, CaseTimeout: *caseTimeout,
	}
	if a.count > 1 {
		cfg.UpdateRuns = &script.GoldenRuns{}
	}
	bad := false
	for _, f := range files {
		if err := cfg.Check(f); err != nil {
			fmt.Fprintln(stderr, err)
			bad = true
		}
	}
	if bad {
		return 2
	}
	cfg.KernelVariants = len(kernels) > 0
	targets, err := opts.NewTargets(kernels)
	if err != nil {
		fmt.Fprintf(stderr, "kmodcheck: %v\n", err)
		return 2
	}
	selected := suite.Select(targets, files, shard)
	pairs := 0
	for _, sel := range selected {
		pairs += len(sel)
	}
	if *list != "" {
		for i, sel := range selected {
			for _, f := range sel {
				fmt.Fprintf(stdout, "%s@%s\n", suite.CaseName(f), targets[i].Release())
			}
		}
		return 0
	}

	// Reports are opened before anything boots: a path that cannot be
	// written is a set-up error, found at once.
	var junitOut, jsonOut *os.File
	for _, r := range []struct {
		name string
		f    **os.File
	}{{*junitFile, &junitOut}, {*jsonFile, &jsonOut}} {
		if r.name == "" {
			continue
		}
		if *r.f, err = os.Create(r.name); err != nil {
			fmt.Fprintf(stderr, "kmodcheck: %v\n", err)
			return 2
		}
		defer (*r.f).Close()
	}
	if *out == "" {
		if *out, err = suite.RunDir(); err != nil {
			fmt.Fprintf(stderr, "kmodcheck: %v\n", err)
			return 2
		}
	}
	cfg.ArtifactDir = *out

	if shard.Count > 0 {
		fmt.Fprintf(stdout, "shard %s: %d case × kernel pairs\n", shard, pairs)
	}
	if pairs == 0 {
		fmt.Fprintln(stdout, "no case × kernel pair selected")
	}
	var progress report.Progress = report.NewPlain(stdout, *verbose)
	if size, ok := terminal(stdout); ok && !*verbose {
		progress = report.NewLive(stdout, size, pairs*a.count, false, report.LiveRefresh)
	}
	start := time.Now()
	var mu sync.Mutex // cases end concurrently
	var jsonErr error
	var results []suite.Result
	for i := range a.count { // the runs of -update -count, one after another
		if i > 0 && ctx.Err() != nil {
			break // a stop signal ended the run before
		}
		results = append(results, suite.RunWith(ctx, cfg, targets, files, suite.RunOptions{
			Jobs: *jobs, Verbose: *verbose, Shard: shard,
			Start:   progress.Start,
			Observe: progress.Event,
			Done: func(r suite.Result) {
				progress.Done(r)
				if jsonOut != nil {
					mu.Lock()
					if err := report.WriteJSON(jsonOut, r); err != nil && jsonErr == nil {
						jsonErr = err
					}
					mu.Unlock()
				}
			},
		})...)
	}
	progress.Close()
	took := time.Since(start)

	if sig, ok := interruptedBy(ctx); ok {
		fmt.Fprintf(stdout, "kmodcheck: %s stopped the run after %.1fs\n", signalName(sig), took.Seconds())
	}
	report.Artifacts(stdout, *out, results)
	report.Summary(stdout, results, took)

	code := 0
	for _, r := range results {
		if r.Status == "FAIL" {
			code = 1
		}
	}
	fail := func(err error) {
		fmt.Fprintf(stderr, "kmodcheck: %v\n", err)
		code = 2
	}
	if jsonErr != nil {
		fail(jsonErr)
	}
	if jsonOut != nil {
		if err := jsonOut.Close(); err != nil {
			fail(err)
		}
	}
	if junitOut != nil {
		if err := report.WriteJUnit(junitOut, report.JUnit(results, took, start)); err != nil {
			fail(err)
		}
		if err := junitOut.Close(); err != nil {
			fail(err)
		}
	}
	title := "kmodcheck"
	if shard.Count > 0 {
		title += " (shard " + shard.String() + ")"
	}
	if err := report.AppendStepSummary(results, took, title); err != nil {
		fail(err)
	}
	return code
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
