package report

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// Kernels by version, number by number, whatever their flavour's digits.
func TestSortReleases(t *testing.T) {
	want := []string{
		"5.10.0-46-amd64", "6.1.0-0.deb11.52-amd64", "6.1.0-47-amd64", "6.1.0-57-amd64", "6.1.0-112-amd64",
		"6.12.9-amd64", "6.12.115+deb13-amd64", "6.12.115+deb13.1-amd64", "6.12.118+deb12-amd64", "6.12.118+deb13-amd64",
		"7.2.6+deb13-amd64", "7.3.4+deb13-amd64",
	}
	got := slices.Clone(want)
	slices.Reverse(got)
	sortReleases(got)
	if !slices.Equal(got, want) {
		t.Errorf("sorted:\n%v\nwant\n%v", got, want)
	}
}

// A known break (BROKEN) is its own cell, with its broken line and reason
// below the table, and fails no run.
func TestBrokenCell(t *testing.T) {
	rs := reasonResults()[:1] // the from_timer build on 6.12
	rs[0].Status, rs[0].Kernel = "BROKEN", k612
	rs[0].Record.Failure.KnownBreak = "from_timer"
	ok := results()[0] // well_behaved passes on 6.1
	ok.Case = "timer"
	pairs := PairsOf(append(rs, ok))
	text := NewTable(pairs).Text()
	want := "timer on " + k612 + ": known break (broken \"from_timer\"): step 1 `make`: timer.c:14:32: error: implicit declaration of function ‘from_timer’"
	if !strings.Contains(text, "timer  PASS            BROKEN\n") || !strings.Contains(text, want) {
		t.Errorf("table:\n%s\nwant a BROKEN cell and %q", text, want)
	}
	if c := pairs[0].Case; c.KnownBreak != "from_timer" || c.Reason == nil || c.Reason.Change == nil {
		t.Errorf("BROKEN case record %+v", c)
	}
	if md := MarkdownOf(pairs, time.Minute, "kmodcheck"); !strings.Contains(md, "| `timer` | ✅ PASS | 🚧 BROKEN |") || !strings.Contains(md, "0 failed") {
		t.Errorf("markdown:\n%s", md)
	}
}

// A run on one kernel has no table, but each failure's reason still ends
// it, as the table's would: the compiler's error and the API change.
func TestOneKernelReasons(t *testing.T) {
	rs := reasonResults()[:1] // the from_timer build on 6.12
	var b strings.Builder
	Summary(&b, rs, time.Second)
	want := "timer on " + k612 + ": step 1 `make`: timer.c:14:32: error: implicit declaration of function ‘from_timer’"
	if !strings.Contains(b.String(), want) || strings.Contains(b.String(), "CASE ") {
		t.Errorf("summary:\n%s\nwant no table, and %q", b.String(), want)
	}
}
