package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/bisect"
	"github.com/kmodcheck/kmodcheck/runner/kernel"
	"github.com/kmodcheck/kmodcheck/runner/report"
	"github.com/kmodcheck/kmodcheck/runner/script"
	"github.com/kmodcheck/kmodcheck/runner/setup"
	"github.com/kmodcheck/kmodcheck/runner/suite"
)

// bisectUsage heads `kmodcheck bisect -h`; the flags follow it.
const bisectUsage = `Usage: kmodcheck bisect [flags] CASE GOOD BAD

Finds the first kernel release, between GOOD (where the case passes) and
BAD (where it fails), on which the case fails: it lists the releases
between them of GOOD's flavour, old to new (those the archive offers, in
every suite, and the kernels here), runs the case on both ends and then on as few
releases as a binary search needs, fetching each on demand, and prints
the first failing release, the last passing one, and the failing step
with its reason. Both sides of the boundary are run once more: if either
gives another verdict, the boundary is flaky and is not named as the
answer. CASE is a .txtar file; GOOD and BAD are kernel names as for
-kernel. See docs/reports.md.

Exit status: 0 the boundary is found, 1 it is flaky or a range of
releases could not be tried, 2 usage or set-up error (a malformed case,
checked first as kmodcheck run checks it; GOOD fails, BAD passes, a
kernel cannot be found).

Flags:
`

// bisectDeps are what kmodcheck bisect needs of the rest of kmodcheck.
type bisectDeps struct {
	// check checks the case file before anything is listed or run; nil:
	// no check.
	check func(caseFile string) error
	// releases lists the releases from good to bad, both included, old
	// to new, good and bad being kernel names as for -kernel.
	releases func(ctx context.Context, good, bad string) ([]string, error)
	// run runs a case file on one release, fetching it if need be.
	run func(ctx context.Context, caseFile, release string) (bisect.Outcome, error)
}

// bisectCmd is kmodcheck bisect.
func bisectCmd(ctx context.Context, args []string, std stdio) error {
	return bisectWith(ctx, args, std, archiveBisect(std.err))
}

// bisectWith is kmodcheck bisect with deps for its kernels.
func bisectWith(ctx context.Context, args []string, std stdio, deps bisectDeps) error {
	fs := flag.NewFlagSet("bisect", flag.ContinueOnError)
	fs.SetOutput(std.err)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), bisectUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	if fs.NArg() != 3 {
		fs.Usage()
		return errUsage("")
	}
	caseFile, good, bad := fs.Arg(0), fs.Arg(1), fs.Arg(2)
	if deps.check != nil {
		if err := deps.check(caseFile); err != nil {
			return err
		}
	}
	releases, err := deps.releases(ctx, good, bad)
	if err != nil {
		return bisectError(err)
	}
	name := suite.CaseName(caseFile)
	fmt.Fprintf(std.out, "bisect %s: %d releases from %s to %s, at most %d runs if each can be tried\n",
		name, len(releases), releases[0], releases[len(releases)-1], bisect.Estimate(len(releases)))
	start := time.Now()
	n := 0
	res, err := bisect.Search(ctx, releases, func(ctx context.Context, release string) (bisect.Outcome, error) {
		return deps.run(ctx, caseFile, release)
	}, func(t bisect.Trial) {
		n++
		fmt.Fprintf(std.out, "run %d: %s\n", n, trialLine(t))
	})
	took := time.Since(start).Round(100 * time.Millisecond)
	if err != nil {
		return bisectError(fmt.Errorf("%w (after %d runs, %v)", err, n, took))
	}
	return bisectReport(std.out, res, n, took)
}

// bisectError is a bisect that could not start or go on: exit status 2.
func bisectError(err error) error {
	return failed("bisect", 2, err)
}

// trialLine is a trial's progress line.
func trialLine(t bisect.Trial) string {
	again := ""
	if t.Rerun {
		again = " (again)"
	}
	switch {
	case t.Err != nil:
		return fmt.Sprintf("%s%s: cannot try it: %v", t.Release, again, t.Err)
	case t.Outcome.Verdict == bisect.Fail:
		return fmt.Sprintf("%s%s: FAIL %s", t.Release, again, t.Outcome.Reason)
	}
	return fmt.Sprintf("%s%s: %s", t.Release, again, t.Outcome.Verdict)
}

// bisectReport prints the conclusion; a boundary that is flaky or not
// pinned down ends kmodcheck with status 1.
func bisectReport(w io.Writer, res bisect.Result, runs int, took time.Duration) error {
	var unsettled error
	if res.Flaky {
		fmt.Fprintf(w, "no answer: %s\n", res.Note)
		fmt.Fprintf(w, "between %s and %s, after %d runs in %v\n", res.LastGood, res.FirstBad, runs, took)
		return statusError(1)
	}
	if len(res.Untested) > 0 {
		fmt.Fprintf(w, "first failing release: one of %s, %s (could not try %s)\n",
			strings.Join(res.Untested, ", "), res.FirstBad, strings.Join(res.Untested, ", "))
		unsettled = statusError(1)
	} else {
		fmt.Fprintf(w, "first failing release: %s\n", res.FirstBad)
	}
	fmt.Fprintf(w, "last passing release:  %s\n", res.LastGood)
	fmt.Fprintf(w, "failing step:          %s\n", res.Bad.Reason)
	if res.Note != "" {
		fmt.Fprintf(w, "note: %s\n", res.Note)
	}
	fmt.Fprintf(w, "%d runs in %v\n", runs, took)
	return unsettled
}

// archiveBisect is bisect's wiring: the releases are those the archive
// offers (every suite, kmodcheck kernels available) and the complete
// kernels here, of GOOD's flavour, from GOOD to BAD; a release this
// machine lacks is fetched when the search needs it (as kmodcheck run
// -kernel does). Each run keeps its artifacts in DIR/run-N/KERNEL/CASE,
// DIR being one new directory under the cache's runs for the whole bisect.
func archiveBisect(stderr io.Writer) bisectDeps {
	var dir string
	n := 0
	run := func(ctx context.Context, caseFile, release string) (bisect.Outcome, error) {
		if dir == "" {
			var err error
			if dir, err = suite.RunDir(); err != nil {
				return bisect.Outcome{}, err
			}
		}
		n++
		return runOnRelease(ctx, caseFile, release, filepath.Join(dir, fmt.Sprintf("run-%d", n)), stderr)
	}
	releases := func(ctx context.Context, good, bad string) ([]string, error) {
		return archiveReleases(ctx, good, bad, stderr)
	}
	check := func(caseFile string) error {
		_, _, err := (&runArgs{paths: []string{caseFile}}).checkedCases()
		return err
	}
	return bisectDeps{check: check, releases: releases, run: run}
}

// archiveReleases are the releases the archive offers and the complete
// kernels here, of good's flavour, from good to bad, old to new.
func archiveReleases(ctx context.Context, good, bad string, progress io.Writer) ([]string, error) {
	f, err := newFetcher(progress)
	if err != nil {
		return nil, err
	}
	local, err := kernel.Discover(f.Cache)
	if err != nil {
		return nil, err
	}
	offers, err := f.Available(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("list the archive's releases: %w", err)
	}
	var all []string
	var ks []*kernel.Kernel
	add := func(release string) {
		if !slices.Contains(all, release) {
			all = append(all, release)
			ks = append(ks, &kernel.Kernel{Release: release, Flavour: kernel.Flavour(release)})
		}
	}
	for _, k := range local {
		if k.Complete() {
			add(k.Release)
		}
	}
	for _, o := range offers {
		add(o.Release)
	}
	return releasesBetween(all, ks, good, bad)
}

// releasesBetween are the releases of all from good's to bad's, old to
// new, of good's flavour.
func releasesBetween(all []string, ks []*kernel.Kernel, good, bad string) ([]string, error) {
	ordered := slices.Clone(all)
	slices.SortFunc(ordered, report.CompareReleases)
	var ends [2]int
	for i, name := range []string{good, bad} {
		k, err := kernel.Select(ks, name)
		if err != nil {
			return nil, err
		}
		if ends[i] = slices.Index(ordered, k.Release); ends[i] < 0 {
			return nil, fmt.Errorf("%s: %s is not complete", name, k.Release)
		}
	}
	if ends[0] >= ends[1] {
		return nil, fmt.Errorf("GOOD (%s) must be older than BAD (%s)", ordered[ends[0]], ordered[ends[1]])
	}
	flavour := kernel.Flavour(ordered[ends[0]])
	var out []string
	for _, r := range ordered[ends[0] : ends[1]+1] {
		if kernel.Flavour(r) == flavour {
			out = append(out, r)
		}
	}
	return out, nil
}

// runOnRelease runs a case file on one release, as kmodcheck run
// -kernel RELEASE -out OUT CASE does (fetching the release if it is not
// here, its progress on progress), and says what it gave.
func runOnRelease(ctx context.Context, caseFile, release, out string, progress io.Writer) (bisect.Outcome, error) {
	a := &runArgs{paths: []string{caseFile}, kernels: stringList{release}, jobs: 1, count: 1, caseTimeout: 10 * time.Minute}
	a.opts = setup.Options{Target: "qemu", Accel: "auto", Boot: "snapshot", StepTimeout: time.Minute}
	p, err := planRun(ctx, a, progress)
	if err != nil {
		var ce *commandError
		if errors.As(err, &ce) { // the trial's line says it is kmodcheck's
			err = errors.Join(ce.errs...)
		}
		return bisect.Outcome{}, err
	}
	p.cfg.ArtifactDir = out
	rs := suite.Run(ctx, p.cfg, p.targets, p.selected, suite.RunOptions{Jobs: 1, Report: &report.Reporter{}})
	if len(rs) != 1 {
		return bisect.Outcome{}, fmt.Errorf("%d results for one case on one kernel", len(rs))
	}
	return outcomeOf(report.PairsOf(rs)[0])
}

// outcomeOf is a pair's verdict for bisect: a kernel that did not start
// is no verdict.
func outcomeOf(p report.Pair) (bisect.Outcome, error) {
	c := p.Case
	switch c.Status {
	case script.Pass:
		return bisect.Outcome{Verdict: bisect.Pass}, nil
	case script.Skip:
		return bisect.Outcome{Verdict: bisect.Skip, Reason: c.Skip}, nil
	case script.Fail, script.Broken: // a known break fails too, as declared
		if c.FailureKind == script.FailSetup {
			return bisect.Outcome{}, errors.New(c.Failure)
		}
		o := bisect.Outcome{Verdict: bisect.Fail, Reason: report.ReasonLine(p)}
		if c.Reason != nil {
			o.Reason, o.Step = c.Reason.Line(), c.Reason.Command
			if c.Reason.Change != nil {
				o.Cause = c.Reason.Change.Symbol + " " + c.Reason.Change.Since
			}
		}
		return o, nil
	}
	return bisect.Outcome{}, fmt.Errorf("%s on %s: %s", c.Case, c.Kernel, c.Status)
}
