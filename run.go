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

	"github.com/kmodcheck/kmodcheck/runner/report"
	"github.com/kmodcheck/kmodcheck/runner/script"
	"github.com/kmodcheck/kmodcheck/runner/suite"
)

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opts suite.Options
	fs.StringVar(&opts.Target, "target", "qemu", "where steps run: qemu (a VM per case) or host (this machine's kernel; root)")
	var kernels stringList
	fs.Var(&kernels, "kernel", "kernel `release` or pattern for the qemu target; repeat it to run every case on each (default: the system's newest)")
	fs.StringVar(&opts.Accel, "accel", "auto", "qemu accelerator: auto (probe KVM, else TCG), kvm or tcg")
	fs.DurationVar(&opts.StepTimeout, "step-timeout", time.Minute, "bound for one step (a case's timeout command overrides it)")
	caseTimeout := fs.Duration("case-timeout", 10*time.Minute, "bound for a whole case")
	update := fs.Bool("update", false, "rewrite golden files that differ from what the kernel printed")
	runRE := fs.String("run", "", "run only cases whose name matches `regexp`")
	jobs := fs.Int("j", runtime.NumCPU(), "cases to run at once")
	golden := fs.String("golden", "", "golden `dir` (default: golden beside the cases directory)")
	modules := fs.String("modules", "", "module sources `dir` (default: modules beside the cases directory)")
	out := fs.String("out", "", "keep per case the kernel console log in `dir` (default: a new directory under the cache)")
	verbose := fs.Bool("v", false, "print every case's transcript")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: kmodcheck run [flags] cases/ | case.txtar ...\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	var re *regexp.Regexp
	if *runRE != "" {
		var err error
		if re, err = regexp.Compile(*runRE); err != nil {
			fmt.Fprintf(stderr, "kmodcheck: -run: %v\n", err)
			return 2
		}
	}
	files, err := suite.Cases(fs.Args(), re)
	if err != nil {
		fmt.Fprintf(stderr, "kmodcheck: %v\n", err)
		return 2
	}
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
	if *out == "" {
		if *out, err = suite.RunDir(); err != nil {
			fmt.Fprintf(stderr, "kmodcheck: %v\n", err)
			return 2
		}
	}
	cfg := script.Config{
		Golden: *golden, Modules: *modules, Update: *update,
		StepTimeout: opts.StepTimeout, CaseTimeout: *caseTimeout, ArtifactDir: *out,
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
	start := time.Now()
	var mu sync.Mutex // cases end concurrently
	results := suite.Run(cfg, targets, files, *jobs, *verbose, func(r suite.Result) {
		mu.Lock()
		defer mu.Unlock()
		report.Line(stdout, r, *verbose)
	})
	fmt.Fprintf(stdout, "kernel console logs: %s\n", *out)
	report.Summary(stdout, results, time.Since(start))
	for _, r := range results {
		if r.Status == "FAIL" {
			return 1
		}
	}
	return 0
}

// stringList is a flag that may be repeated.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }
