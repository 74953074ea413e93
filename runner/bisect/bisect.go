// Package bisect finds, in a list of kernel releases ordered old to new,
// the first release on which a case fails, running the case on as few of
// them as a binary search needs.
//
// The first release must pass and the last fail; both are run first, to
// check. Then each step runs the release halfway between the last known
// pass and the first known fail. A release the case cannot say anything
// about (it skips there, or it cannot run: the kernel cannot be fetched or
// booted) is left out, and the untried release nearest the middle is run
// instead; if every release between the two is such, the answer is the
// range.
//
// A flaky case must not send the search astray: a fail that has nothing to
// do with the kernel (a step that timed out once) looks like a boundary.
// So once the search has closed in, both sides of the boundary are run
// once more. If either gives another verdict than its first, the result
// says the boundary is flaky, with both verdicts, and names no first
// failing release. Any false verdict that shaped the final boundary is one
// of its two sides, so the reruns are where it shows. The result also says
// when the first failing release fails for another reason than the last
// (another step, another error): a different failure, which a reader
// should look at before trusting the boundary.
package bisect

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"strings"
)

// Verdicts of a run.
const (
	Pass = "PASS"
	Fail = "FAIL"
	Skip = "SKIP" // the case says nothing about this release
)

// An Outcome is what running the case on a release gave.
type Outcome struct {
	Verdict string // Pass, Fail or Skip
	// Reason is why it failed, on one line; Step its failing step
	// ("make", "kmsg insmod"), which tells one failure from another.
	Reason, Step string
	// Cause, when set, tells failures apart instead of Reason: the API
	// change a build's error is explained by, which two compilers word
	// differently ([-Werror=...] or not).
	Cause string
}

// same reports whether two failures are one: at the same step, for the
// same cause.
func (o Outcome) same(p Outcome) bool {
	if o.Step != p.Step {
		return false
	}
	if o.Cause != "" || p.Cause != "" {
		return o.Cause == p.Cause
	}
	return o.Reason == p.Reason
}

// A Runner runs the case on a release. An error means the release could
// not be tried (not fetched, not booted): the search goes around it, as
// for a Skip. A done ctx ends the search.
type Runner func(ctx context.Context, release string) (Outcome, error)

// A Trial is one run of the case on a release.
type Trial struct {
	Release string
	Index   int // in the list of releases
	Outcome Outcome
	Err     error
	Rerun   bool // a second run of a side of the boundary
}

// Usable reports whether the trial says pass or fail.
func (t Trial) Usable() bool {
	return t.Err == nil && (t.Outcome.Verdict == Pass || t.Outcome.Verdict == Fail)
}

// A Result is what the search concluded.
type Result struct {
	// LastGood is the newest release that passed, FirstBad the oldest
	// after it that failed; Untested are the releases between them that
	// could not say (skipped, or not run), when there are any.
	LastGood, FirstBad string
	Untested           []string
	// Bad is FirstBad's outcome.
	Bad Outcome
	// Flaky: a side of the boundary gave two verdicts; FirstBad is then
	// not to be trusted, and Note says which.
	Flaky bool
	// Note is what a reader should know beyond the boundary: a flaky
	// side, or a first failure unlike the last release's.
	Note   string
	Trials []Trial // in the order they ran
}

// Estimate is how many runs a search over n releases takes at most when
// every release can be tried: both ends, the halvings, the two reruns.
func Estimate(n int) int {
	if n < 2 {
		return n
	}
	return 2 + bits.Len(uint(n-2)) + 2
}

// ErrEnds is returned when the first release does not pass or the last
// does not fail.
var ErrEnds = errors.New("bisect needs a first release that passes and a last that fails")

// A search is the state of one Search.
type search struct {
	ctx      context.Context
	releases []string
	run      Runner
	progress func(Trial)
	res      Result
	tried    map[int]Trial
}

// Search runs the case on releases (old to new) until it knows the first
// that fails; progress, if not nil, is told each trial as it ends.
func Search(ctx context.Context, releases []string, run Runner, progress func(Trial)) (Result, error) {
	if len(releases) < 2 {
		return Result{}, fmt.Errorf("bisect needs at least two releases, got %d", len(releases))
	}
	s := &search{ctx: ctx, releases: releases, run: run, progress: progress, tried: map[int]Trial{}}
	lo, hi := 0, len(releases)-1
	for _, end := range []struct {
		i    int
		want string
	}{{lo, Pass}, {hi, Fail}} {
		t, err := s.try(end.i, false)
		if err != nil {
			return s.res, err
		}
		if !t.Usable() || t.Outcome.Verdict != end.want {
			return s.res, fmt.Errorf("%w: %s gave %s", ErrEnds, releases[end.i], describe(t))
		}
	}
	for {
		mid, ok := s.next(lo, hi)
		if !ok {
			break
		}
		t, err := s.try(mid, false)
		if err != nil {
			return s.res, err
		}
		switch {
		case !t.Usable():
			continue
		case t.Outcome.Verdict == Pass:
			lo = mid
		default:
			hi = mid
		}
	}
	return s.conclude(lo, hi)
}

// next is the untried release between lo and hi nearest their middle;
// false when none is left.
func (s *search) next(lo, hi int) (int, bool) {
	mid := (lo + hi) / 2
	for d := 0; mid-d > lo || mid+d+1 < hi; d++ {
		for _, i := range []int{mid - d, mid + d + 1} {
			if i > lo && i < hi {
				if _, done := s.tried[i]; !done {
					return i, true
				}
			}
		}
	}
	return 0, false
}

// conclude reruns both sides of the boundary lo, hi and says what they
// show.
func (s *search) conclude(lo, hi int) (Result, error) {
	r := &s.res
	r.LastGood, r.FirstBad = s.releases[lo], s.releases[hi]
	r.Bad = s.tried[hi].Outcome
	for i := lo + 1; i < hi; i++ {
		r.Untested = append(r.Untested, s.releases[i])
	}
	var flaky []string
	for _, i := range []int{lo, hi} {
		first := s.tried[i]
		again, err := s.try(i, true)
		if err != nil {
			return *r, err
		}
		if !again.Usable() || again.Outcome.Verdict != first.Outcome.Verdict {
			flaky = append(flaky, fmt.Sprintf("%s gave %s, then %s", s.releases[i], describe(first), describe(again)))
		}
	}
	last := s.tried[len(s.releases)-1].Outcome
	switch {
	case len(flaky) > 0:
		r.Flaky = true
		r.Note = "the boundary is flaky: " + strings.Join(flaky, "; ")
	case !r.Bad.same(last):
		r.Note = fmt.Sprintf("%s fails otherwise than %s: at %q (%s), not at %q (%s)",
			r.FirstBad, s.releases[len(s.releases)-1], r.Bad.Step, r.Bad.Reason, last.Step, last.Reason)
	}
	return *r, nil
}

// try runs release i, and records the trial (a rerun keeps the first in
// tried).
func (s *search) try(i int, rerun bool) (Trial, error) {
	if err := s.ctx.Err(); err != nil {
		return Trial{}, err
	}
	out, err := s.run(s.ctx, s.releases[i])
	if cerr := s.ctx.Err(); cerr != nil {
		return Trial{}, cerr
	}
	t := Trial{Release: s.releases[i], Index: i, Outcome: out, Err: err, Rerun: rerun}
	s.res.Trials = append(s.res.Trials, t)
	if !rerun {
		s.tried[i] = t
	}
	if s.progress != nil {
		s.progress(t)
	}
	return t, nil
}

// describe is a trial's verdict, or why it has none.
func describe(t Trial) string {
	if t.Err != nil {
		return "no verdict (" + t.Err.Error() + ")"
	}
	return t.Outcome.Verdict
}
