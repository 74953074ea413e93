package bisect

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// releases are 17 releases, old to new.
var releases = []string{
	"6.1.0-10", "6.1.0-20", "6.1.0-30", "6.2.9", "6.3.7", "6.4.4", "6.5.3", "6.6.15", "6.7.12",
	"6.8.12", "6.9.10", "6.10.6", "6.11.5", "6.12.9", "6.12.38", "6.13.11", "6.14.7",
}

// fake is a runner whose case fails from release index first on, with
// the verdicts of runs given in script overriding, run by run.
type fake struct {
	first int
	// script[release] are the verdicts of its runs, in order; after
	// them, or without them, the release's true verdict.
	script map[string][]string
	errs   map[string]error
	ran    []string
}

func (f *fake) run(_ context.Context, release string) (Outcome, error) {
	f.ran = append(f.ran, release)
	if err := f.errs[release]; err != nil {
		return Outcome{}, err
	}
	v := Pass
	if slices.Index(releases, release) >= f.first {
		v = Fail
	}
	if s := f.script[release]; len(s) > 0 {
		v, f.script[release] = s[0], s[1:]
	}
	if v == Fail {
		return Outcome{Verdict: Fail, Step: "make", Reason: "error: 'no_llseek' undeclared"}, nil
	}
	return Outcome{Verdict: v}, nil
}

func TestSearch(t *testing.T) {
	for _, test := range []struct {
		name      string
		first     int
		script    map[string][]string
		errs      map[string]error
		ran       []string // in order
		good, bad string
		untested  []string
		flaky     bool
		note      string
	}{{
		// 6.12.9 is the first failing release: both ends, four halvings,
		// then both sides of the boundary again.
		name: "boundary", first: 13,
		ran:  []string{"6.1.0-10", "6.14.7", "6.7.12", "6.11.5", "6.12.38", "6.12.9", "6.11.5", "6.12.9"},
		good: "6.11.5", bad: "6.12.9",
	}, {
		name: "the second release", first: 1,
		ran:  []string{"6.1.0-10", "6.14.7", "6.7.12", "6.3.7", "6.1.0-30", "6.1.0-20", "6.1.0-10", "6.1.0-20"},
		good: "6.1.0-10", bad: "6.1.0-20",
	}, {
		name: "the last release", first: 16,
		ran:  []string{"6.1.0-10", "6.14.7", "6.7.12", "6.11.5", "6.12.38", "6.13.11", "6.13.11", "6.14.7"},
		good: "6.13.11", bad: "6.14.7",
	}, {
		// 6.12.9 skips and 6.12.38 cannot be fetched: the search goes
		// around them, and names the range.
		name: "untestable releases", first: 13,
		script: map[string][]string{"6.12.9": {Skip}},
		errs:   map[string]error{"6.12.38": errors.New("fetch: no such package")},
		ran:    []string{"6.1.0-10", "6.14.7", "6.7.12", "6.11.5", "6.12.38", "6.13.11", "6.12.9", "6.11.5", "6.13.11"},
		good:   "6.11.5", bad: "6.13.11", untested: []string{"6.12.9", "6.12.38"},
	}, {
		// The case failed once on 6.7.12 for no reason of the kernel's:
		// the search goes left, and the rerun of the boundary's failing
		// side passes. The result says so and names no first failing
		// release to trust.
		name: "flaky boundary", first: 13,
		script: map[string][]string{"6.7.12": {Fail}},
		ran:    []string{"6.1.0-10", "6.14.7", "6.7.12", "6.3.7", "6.5.3", "6.6.15", "6.6.15", "6.7.12"},
		good:   "6.6.15", bad: "6.7.12", flaky: true,
		note: "the boundary is flaky: 6.7.12 gave FAIL, then PASS",
	}, {
		// A pass that should have been a fail, on the boundary's good
		// side, shows in its rerun.
		name: "flaky good side", first: 13,
		script: map[string][]string{"6.12.9": {Pass}},
		ran:    []string{"6.1.0-10", "6.14.7", "6.7.12", "6.11.5", "6.12.38", "6.12.9", "6.12.9", "6.12.38"},
		good:   "6.12.9", bad: "6.12.38", flaky: true,
		note: "the boundary is flaky: 6.12.9 gave PASS, then FAIL",
	}} {
		t.Run(test.name, func(t *testing.T) {
			f := &fake{first: test.first, script: test.script, errs: test.errs}
			var told []string
			res, err := Search(context.Background(), releases, f.run, func(tr Trial) { told = append(told, tr.Release) })
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(f.ran, test.ran) {
				t.Errorf("ran %v\nwant %v", f.ran, test.ran)
			}
			if !slices.Equal(told, f.ran) || len(res.Trials) != len(f.ran) {
				t.Errorf("progress told %v, %d trials, for runs %v", told, len(res.Trials), f.ran)
			}
			if res.LastGood != test.good || res.FirstBad != test.bad || !slices.Equal(res.Untested, test.untested) {
				t.Errorf("last good %s, first bad %s, untested %v; want %s, %s, %v", res.LastGood, res.FirstBad, res.Untested, test.good, test.bad, test.untested)
			}
			if res.Flaky != test.flaky || res.Note != test.note {
				t.Errorf("flaky %v, note %q; want %v, %q", res.Flaky, res.Note, test.flaky, test.note)
			}
			if !test.flaky && (res.Bad.Verdict != Fail || res.Bad.Step != "make") {
				t.Errorf("the first failure: %+v", res.Bad)
			}
			if test.errs == nil && test.script == nil && len(f.ran) > Estimate(len(releases)) {
				t.Errorf("%d runs, more than the estimate %d", len(f.ran), Estimate(len(releases)))
			}
		})
	}
}

// The ends are checked before anything else runs.
func TestSearchEnds(t *testing.T) {
	f := &fake{first: 0}
	_, err := Search(context.Background(), releases, f.run, nil)
	if !errors.Is(err, ErrEnds) || !strings.Contains(err.Error(), "6.1.0-10 gave FAIL") || len(f.ran) != 1 {
		t.Errorf("a failing first release: %v after %v", err, f.ran)
	}
	f = &fake{first: len(releases)}
	_, err = Search(context.Background(), releases, f.run, nil)
	if !errors.Is(err, ErrEnds) || !strings.Contains(err.Error(), "6.14.7 gave PASS") || len(f.ran) != 2 {
		t.Errorf("a passing last release: %v after %v", err, f.ran)
	}
	if _, err := Search(context.Background(), releases[:1], f.run, nil); err == nil {
		t.Error("one release searched")
	}
}

// breaksAt5 is a run that passes on releases[:5], gives first on
// releases[5:9] and last from releases[9] on.
func breaksAt5(first, last Outcome) func(context.Context, string) (Outcome, error) {
	return func(_ context.Context, release string) (Outcome, error) {
		switch i := slices.Index(releases, release); {
		case i < 5:
			return Outcome{Verdict: Pass}, nil
		case i < 9:
			return first, nil
		}
		return last, nil
	}
}

// The first failure unlike the last is named.
func TestSearchOtherFailure(t *testing.T) {
	run := breaksAt5(Outcome{Verdict: Fail, Step: "kmsg insmod", Reason: "want a, got b"},
		Outcome{Verdict: Fail, Step: "make", Reason: "error: x"})
	res, err := Search(context.Background(), releases, run, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%s fails otherwise than 6.14.7: at %q (%s), not at %q (%s)", "6.4.4", "kmsg insmod", "want a, got b", "make", "error: x")
	if res.FirstBad != "6.4.4" || res.Flaky || res.Note != want {
		t.Errorf("first bad %s, flaky %v, note %q; want 6.4.4 and %q", res.FirstBad, res.Flaky, res.Note, want)
	}
}

// One break worded two ways (gcc 12's [-Werror=...], gcc 14's [-W...])
// is one failure when the same API change explains both: no note.
func TestSearchSameCauseOtherWords(t *testing.T) {
	run := breaksAt5(
		Outcome{Verdict: Fail, Step: "make", Cause: "class_create 6.4", Reason: "x.c:74:33: error: passing argument 1 of ‘class_create’ from incompatible pointer type [-Werror=incompatible-pointer-types]"},
		Outcome{Verdict: Fail, Step: "make", Cause: "class_create 6.4", Reason: "x.c:74:33: error: passing argument 1 of ‘class_create’ from incompatible pointer type [-Wincompatible-pointer-types]"})
	res, err := Search(context.Background(), releases, run, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.FirstBad != "6.4.4" || res.Note != "" {
		t.Errorf("first bad %s, note %q; want 6.4.4 and no note", res.FirstBad, res.Note)
	}
}

// A stop signal ends the search.
func TestSearchStopped(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	run := func(_ context.Context, release string) (Outcome, error) {
		if n++; n == 3 {
			cancel()
		}
		if release == releases[0] {
			return Outcome{Verdict: Pass}, nil
		}
		return Outcome{Verdict: Fail}, nil
	}
	if res, err := Search(ctx, releases, run, nil); !errors.Is(err, context.Canceled) || len(res.Trials) != 2 {
		t.Errorf("stopped search: %v after %d trials, want context.Canceled after 2", err, len(res.Trials))
	}
}
