// Package suite runs cases outside go test: it runs each case × kernel
// pair selected through testscript with its own T, jobs at a time, tells a
// Reporter how each goes, and returns one result per pair. Cases finds the
// case files; runner/setup builds the targets they run on.
package suite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/kmodcheck/kmodcheck/runner/cache"
	"github.com/kmodcheck/kmodcheck/runner/script"
	"github.com/kmodcheck/kmodcheck/runner/scriptcase"
	"github.com/kmodcheck/kmodcheck/runner/setup"
	"github.com/kmodcheck/kmodcheck/runner/shard"
	"github.com/kmodcheck/kmodcheck/runner/target"
)

// Cases expands the arguments (directories and .txtar files) into case
// files, keeping those whose name matches run.
func Cases(args []string, run *regexp.Regexp) ([]string, error) {
	var files []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, &setup.Error{Err: err}
		}
		if !st.IsDir() {
			files = append(files, a)
			continue
		}
		m, _ := filepath.Glob(filepath.Join(a, "*.txtar"))
		if len(m) == 0 {
			return nil, &setup.Error{Err: fmt.Errorf("%s: no .txtar cases", a)}
		}
		files = append(files, m...)
	}
	sort.Strings(files)
	var out []string
	seen := map[string]bool{}
	for _, f := range files {
		// A case named twice (cases/ and cases/x.txtar) runs once.
		key := filepath.Clean(f)
		if seen[key] {
			continue
		}
		seen[key] = true
		if run == nil || run.MatchString(CaseName(f)) {
			out = append(out, f)
		}
	}
	return out, nil
}

// CaseName is a case's name: its file name without .txtar.
func CaseName(file string) string {
	return strings.TrimSuffix(filepath.Base(file), ".txtar")
}

// A Reporter is told how a run goes: each case × kernel as it gets its
// turn, what it is doing, and how it ended. runner/report's Reporter is
// one. Its methods may be called from several goroutines at once.
type Reporter interface {
	Start(caseName, kernel string)
	Notice(kernel string, n script.Notice)
	// Artifacts writes a finished case × kernel's files into dir (CaseDir)
	// when the run keeps artifacts, returning those it wrote.
	Artifacts(dir string, r script.Result) ([]string, error)
	// Done is told each case × kernel's result, its artifacts written.
	Done(r script.Result)
}

// RunOptions shape a run beyond its configuration.
type RunOptions struct {
	Jobs    int  // case × kernel pairs at once; 0: runtime.NumCPU()
	Verbose bool // transcripts keep the steps of phases that passed
	// Report, if set, is told how the run goes.
	Report Reporter
}

// Select returns, per target, the files whose case × kernel pair is in the
// shard.
func Select(targets []target.Target, files []string, part shard.Shard) [][]string {
	sel := make([][]string, len(targets))
	for i, t := range targets {
		for _, f := range files {
			if part.Has(CaseName(f), t.Release()) {
				sel[i] = append(sel[i], f)
			}
		}
	}
	return sel
}

// Run runs the case × kernel pairs selected (Select): selected[i] are
// the case files to run on targets[i]. With cfg.ArtifactDir set, each pair
// keeps its files in DIR/KERNEL/CASE: the target's console and kernel
// logs, and what the reporter writes (see CaseDir).
//
// When ctx is done, every running case stops (its VM killed, its work
// directory removed) and, like those that had not started, ends
// INTERRUPTED; Run returns once all have.
func Run(ctx context.Context, cfg script.Config, targets []target.Target, selected [][]string, o RunOptions) []script.Result {
	cfg.Context = ctx
	jobs := o.Jobs
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	sem := make(chan struct{}, jobs)
	var runners []*runner
	for i, sel := range selected {
		if len(sel) == 0 {
			continue
		}
		r, p := kernelRun(ctx, cfg, targets[i], sel, o, sem)
		testscript.RunT(r, p)
		runners = append(runners, r)
	}
	var results []script.Result
	for _, r := range runners {
		r.wg.Wait()
		results = append(results, r.results...)
	}
	sort.SliceStable(results, func(i, j int) bool {
		if results[i].Case != results[j].Case {
			return results[i].Case < results[j].Case
		}
		return results[i].Kernel < results[j].Kernel
	})
	return results
}

// kernelRun is the runner of one kernel's cases, jobs among sem, and
// their testscript parameters.
func kernelRun(ctx context.Context, cfg script.Config, t target.Target, files []string, o RunOptions, sem chan struct{}) (*runner, testscript.Params) {
	release, out := t.Release(), cfg.ArtifactDir
	cfg.Target = t
	if out != "" {
		cfg.ArtifactDir = filepath.Join(out, release)
	}
	if o.Report != nil {
		cfg.Observe = func(n script.Notice) { o.Report.Notice(release, n) }
	}
	var mu sync.Mutex
	records := map[string]*script.Record{} // by case name
	byName := map[string]string{}
	for _, f := range files {
		byName[CaseName(f)] = f
	}
	r := &runner{ctx: ctx, sem: sem, verbose: o.Verbose, kernel: release}
	r.finish = func(res script.Result) script.Result {
		res.File = byName[res.Case]
		mu.Lock()
		if rec := records[res.Case]; rec != nil {
			res.Record = *rec
		}
		mu.Unlock()
		if out != "" {
			res.Dir = CaseDir(out, release, res.Case)
		}
		return finish(res, o.Report)
	}
	if o.Report != nil {
		r.start = func(name string) { o.Report.Start(name, release) }
	}
	p := cfg.Params(files...)
	setup := p.Setup
	p.Setup = func(env *testscript.Env) error {
		// The script builds each case's record as it runs; the result
		// takes it once the case has ended.
		err := setup(env)
		if c, ok := env.T().(*scriptcase.T); ok {
			mu.Lock()
			records[c.Name()] = script.RecordOf(env)
			mu.Unlock()
		}
		return err
	}
	return r, p
}

// finish completes a case's result as it ends, writes its artifacts into
// its directory, if the run keeps them, and reports it.
func finish(res script.Result, rep Reporter) script.Result {
	if res.Status == script.Pass {
		res.Record.Failure = nil
	}
	if f := res.Record.Failure; res.Status == script.Skip && f != nil && f.KnownBreak != "" {
		res.Status = script.Broken // the script skipped the rest of a known break
	}
	if rep == nil {
		return res
	}
	if res.Dir != "" {
		res.Files, res.ArtifactErr = rep.Artifacts(res.Dir, res)
	}
	rep.Done(res)
	return res
}

// keptRuns is how many runs' output directories RunDir keeps.
const keptRuns = 20

// RunDir makes a new directory for a run's output under the cache's runs
// directory, removing the oldest beyond the last keptRuns.
func RunDir() (string, error) {
	c, err := cache.Default()
	if err != nil {
		return "", err
	}
	runs := c.Path("runs", "")
	old, _ := filepath.Glob(filepath.Join(runs, "*"))
	sort.Strings(old)
	for len(old) >= keptRuns {
		os.RemoveAll(old[0])
		old = old[1:]
	}
	dir := filepath.Join(runs, fmt.Sprintf("%s-%d", time.Now().Format("20060102-150405"), os.Getpid()))
	return dir, os.MkdirAll(dir, 0o755)
}

// CaseDir is where a case × kernel keeps its files under an output
// directory: DIR/KERNEL/CASE.
func CaseDir(out, kernel, caseName string) string {
	return filepath.Join(out, kernel, caseName)
}
