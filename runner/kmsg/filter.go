package kmsg

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// A Filter recognises kernel log records that are noise for a golden
// comparison. Filters are named so that a report can say what was
// dropped: nothing is removed silently.
type Filter struct {
	Name  string
	Doc   string
	match func(Record) bool
}

// NewFilter returns a filter that drops the records for which match
// returns true.
func NewFilter(name, doc string, match func(Record) bool) Filter {
	return Filter{Name: name, Doc: doc, match: match}
}

// Match reports whether f drops r.
func (f Filter) Match(r Record) bool {
	return f.match != nil && f.match(r)
}

// The kernel's notes when a module taints it. The module name comes
// first and varies, so it is matched loosely.
var taintNotes = []*regexp.Regexp{
	regexp.MustCompile(`^\S+: loading out-of-tree module taints kernel\.$`),
	regexp.MustCompile(`^\S+: module verification failed: signature and/or required key missing - tainting kernel$`),
	regexp.MustCompile(`^\S+: module license '.*' taints kernel\.$`),
}

// Facilities of the records kmodcheck expects.
const (
	facilityKernel = 0
	facilityUser   = 1
)

// DefaultFilters returns the filters kmodcheck applies unless told
// otherwise. They are tried in order and the first match names the
// reason a record was dropped, so kmodcheck's own markers are reported
// as such rather than as user space noise.
func DefaultFilters() []Filter {
	return []Filter{{
		Name: "taint",
		Doc:  "the kernel's notes that a tutorial module taints it (out-of-tree, unsigned, non-GPL licence)",
		match: func(r Record) bool {
			for _, re := range taintNotes {
				if re.MatchString(r.Text) {
					return true
				}
			}
			return false
		},
	}, {
		Name: "kmodcheck",
		Doc:  "step markers written by kmodcheck's guest agent (user facility, text starting with kmodcheck:)",
		match: func(r Record) bool {
			return r.Facility == facilityUser && strings.HasPrefix(r.Text, "kmodcheck:")
		},
	}, {
		Name: "userspace",
		Doc:  "any other record written by user space rather than the kernel (facility not 0)",
		match: func(r Record) bool {
			return r.Facility != facilityKernel
		},
	}, {
		Name: "clocksource",
		Doc:  "clock source, TSC and interrupt-latency notes: timing noise under emulation (TCG) on a busy host",
		match: func(r Record) bool {
			return strings.HasPrefix(r.Text, "clocksource: ") ||
				strings.Contains(r.Text, "Marking clocksource") ||
				strings.Contains(r.Text, "tsc: ") ||
				strings.HasPrefix(r.Text, "hrtimer: interrupt took ") ||
				strings.HasPrefix(r.Text, "perf: interrupt took too long")
		},
	}, {
		Name: "psi",
		Doc:  "the scheduler's pressure-stall accounting noting an inconsistent task state, once per boot about whichever task it caught (seen at random on 7.3 under TCG)",
		match: func(r Record) bool {
			return strings.HasPrefix(r.Text, "psi: inconsistent task state!")
		},
	}}
}

// Apply splits recs into the records no filter matches, in their
// original order, and the dropped ones keyed by the name of the first
// filter that matched them.
func Apply(filters []Filter, recs []Record) (kept []Record, dropped map[string][]Record) {
	dropped = make(map[string][]Record)
next:
	for _, r := range recs {
		for _, f := range filters {
			if f.Match(r) {
				dropped[f.Name] = append(dropped[f.Name], r)
				continue next
			}
		}
		kept = append(kept, r)
	}
	return kept, dropped
}

// Summarize describes dropped records for a report, for example
// "clocksource (1 line), taint (2 lines)". Names are sorted so that the
// report is stable. It returns "" when nothing was dropped.
func Summarize(dropped map[string][]Record) string {
	var names []string
	for name, recs := range dropped {
		if len(recs) > 0 {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var parts []string
	for _, name := range names {
		n := len(dropped[name])
		unit := "lines"
		if n == 1 {
			unit = "line"
		}
		parts = append(parts, fmt.Sprintf("%s (%d %s)", name, n, unit))
	}
	return strings.Join(parts, ", ")
}
