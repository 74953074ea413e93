package main

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/kmodcheck/kmodcheck/runner/bisect"
	"github.com/kmodcheck/kmodcheck/runner/kernel"
)

// fakeBisect lists releases and fails a case from first on, with the
// reason a from_timer build gives.
func fakeBisect(releases []string, first string, flaky map[string][]string) bisectDeps {
	return bisectDeps{
		releases: func(_ context.Context, good, bad string) ([]string, error) {
			i, j := slices.Index(releases, good), slices.Index(releases, bad)
			if i < 0 || j < 0 {
				return nil, errors.New("no such kernel")
			}
			return releases[i : j+1], nil
		},
		run: func(_ context.Context, _, release string) (bisect.Outcome, error) {
			v := bisect.Pass
			if slices.Index(releases, release) >= slices.Index(releases, first) {
				v = bisect.Fail
			}
			if s := flaky[release]; len(s) > 0 {
				v, flaky[release] = s[0], s[1:]
			}
			if v == bisect.Pass {
				return bisect.Outcome{Verdict: v}, nil
			}
			return bisect.Outcome{Verdict: v, Step: "make", Reason: "step 1 `make`: timer.c:14:32: error: implicit declaration of function ‘from_timer’" +
				" — from_timer() renamed timer_container_of() in 6.16; instead: timer_container_of(var, timer, field)"}, nil
		},
	}
}

var bisectReleases = []string{"6.12.9", "6.12.38", "6.13.11", "6.14.7", "6.15.4", "6.16.3", "6.17.1"}

func TestBisectCmd(t *testing.T) {
	var out, errs bytes.Buffer
	bisectExit := func(args []string, deps bisectDeps) int {
		return exitCode(bisectWith(context.Background(), args, stdio{out: &out, err: &errs}, deps), &errs)
	}
	code := bisectExit([]string{"cases/timer.txtar", "6.12.9", "6.17.1"}, fakeBisect(bisectReleases, "6.16.3", nil))
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out.String(), errs.String())
	}
	for _, want := range []string{
		"bisect timer: 7 releases from 6.12.9 to 6.17.1, at most 7 runs if each can be tried\n",
		"run 1: 6.12.9: PASS\nrun 2: 6.17.1: FAIL step 1 `make`",
		"run 3: 6.14.7: PASS\nrun 4: 6.15.4: PASS\nrun 5: 6.16.3: FAIL",
		"run 6: 6.15.4 (again): PASS\nrun 7: 6.16.3 (again): FAIL",
		"first failing release: 6.16.3\nlast passing release:  6.15.4\n",
		"failing step:          step 1 `make`: timer.c:14:32: error: implicit declaration of function ‘from_timer’ — from_timer() renamed timer_container_of() in 6.16;",
		"7 runs in ",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}

	out.Reset()
	flaky := map[string][]string{"6.16.3": {bisect.Fail, bisect.Pass}}
	if code := bisectExit([]string{"cases/timer.txtar", "6.12.9", "6.17.1"}, fakeBisect(bisectReleases, "6.17.1", flaky)); code != 1 ||
		!strings.Contains(out.String(), "no answer: the boundary is flaky: 6.16.3 gave FAIL, then PASS\nbetween 6.15.4 and 6.16.3") {
		t.Errorf("flaky boundary: exit %d\n%s", code, out.String())
	}

	errs.Reset()
	if code := bisectExit([]string{"cases/timer.txtar", "6.16.3", "6.17.1"}, fakeBisect(bisectReleases, "6.16.3", nil)); code != 2 ||
		!strings.Contains(errs.String(), "6.16.3 gave FAIL") {
		t.Errorf("a GOOD that fails: exit %d: %s", code, errs.String())
	}
	if code := bisectExit([]string{"x.txtar", "6.12.9"}, fakeBisect(bisectReleases, "6.16.3", nil)); code != 2 {
		t.Errorf("two arguments: exit %d", code)
	}
}

// The releases between GOOD and BAD, by version, of GOOD's flavour.
func TestReleasesBetween(t *testing.T) {
	var ks []*kernel.Kernel
	all := []string{"6.12.118+deb12-amd64", "6.1.0-57-amd64", "6.10.6+bpo-amd64", "6.1.0-112-amd64", "6.5.0-0.deb12.4-rt-amd64", "6.16.3-cloud-amd64"}
	for _, r := range all {
		ks = append(ks, &kernel.Kernel{Release: r, Flavour: kernel.Flavour(r)})
	}
	got, err := releasesBetween(all, ks, "6.1.0-57-amd64", "6.12")
	want := []string{"6.1.0-57-amd64", "6.1.0-112-amd64", "6.10.6+bpo-amd64", "6.12.118+deb12-amd64"}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("releasesBetween: %v, %v; want %v", got, err, want)
	}
	if _, err := releasesBetween(all, ks, "6.12", "6.1.0-57-amd64"); err == nil {
		t.Error("BAD older than GOOD accepted")
	}
}
