package golden

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rogpeppe/go-internal/diff"
)

// A Match is the outcome of comparing kernel messages with a golden
// file.
type Match struct {
	// OK reports whether the golden file accepts all of the messages.
	OK bool

	// Accepted is the length of the longest prefix of the messages that
	// the golden file accepts completely, every required item
	// satisfied, or -1 if there is none. Messages after it may belong
	// to the next step.
	Accepted int

	// Alive reports whether some way of matching survives all of the
	// messages, so that more messages could still complete (or extend)
	// a match; it is true whenever OK is. When it is false, waiting for
	// a slow kernel is pointless.
	Alive bool

	// Want and Got are for display. Got is the messages matched (the
	// caller's slice, not a copy), except after a line printed by the
	// wrong thread: then each line of Want and Got whose thread is known
	// starts with the thread's name in brackets, and Want names the
	// thread the golden expected. Want is the golden file's
	// expectation aligned with Got: the messages of the best partial
	// match, which are identical to Got's, followed by the golden
	// file's remaining required messages in file order (at most 10000
	// of them). Want equals Got exactly when OK is true.
	Want, Got []string

	// Mismatch is "" when OK is true, and otherwise one line naming the
	// golden line and the kernel message at fault, in one of the forms
	//
	//	golden/x.kmsg:12: want "my_data->i = 5", got "my_data->i = 6" (kernel line 17)
	//	golden/x.kmsg:12: want "my_data->i = 10", the log ended
	//	golden/x.kmsg: unexpected "foo" (kernel line 3): no golden line takes it
	//
	// Kernel lines count from 1. A message is unexpected when nothing
	// remains to be matched, or when no remaining golden line has its
	// text and dropping it lets the next message match.
	Mismatch string

	// First is Mismatch's golden line and message as data, for reports
	// that show them apart; zero when OK is true.
	First Difference
}

// A Difference is where messages (or a step's output) first depart from a
// golden file.
type Difference struct {
	Golden string `json:"golden"`         // the golden file
	Line   int    `json:"line,omitempty"` // its line at fault; 0 when no golden line takes Got
	// Before: when no golden line takes Got, the golden line still
	// waiting when it came (0 when none was).
	Before int    `json:"before,omitempty"`
	Want   string `json:"want,omitempty"` // that line's message
	Got    string `json:"got,omitempty"`  // the message at fault; "" when the log ended first
	At     int    `json:"at,omitempty"`   // Got's line number among the messages, from 1
	// Thread: Got's text is what the golden wants, from another thread
	// than the one its label is bound to.
	Thread bool `json:"thread,omitempty"`
}

// Where is the golden's place the difference is at: "golden/x.kmsg:12",
// or the file alone when no line of it is.
func (d Difference) Where() string {
	if line := max(d.Line, d.Before); line > 0 {
		return fmt.Sprintf("%s:%d", d.Golden, line)
	}
	return d.Golden
}

// Diff returns a unified diff from the golden expectation (named
// goldenName) to the kernel's messages, or "" when m is OK.
func (m Match) Diff(goldenName string) string {
	return m.DiffAs(goldenName, "kernel")
}

// DiffAs is Diff for lines that are not the kernel's: the diff names
// them gotName ("stdout", "terminal").
func (m Match) DiffAs(goldenName, gotName string) string {
	if m.OK {
		return ""
	}
	return string(diff.Diff(goldenName, joinLines(m.Want), gotName, joinLines(m.Got)))
}

func joinLines(lines []string) []byte {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// Match compares actual, the step's messages already filtered and
// normalised, with the golden file, whichever threads printed them.
func (g *Golden) Match(actual []string) Match {
	return g.match(actual, nil, nil)
}

// MatchLines is Match for lines whose threads may be known: in an
// interleave block, all lines of one label must come from one thread,
// and different labels' from different threads. A line whose thread is
// unknown may belong to any label, as in Match.
func (g *Golden) MatchLines(lines []Line) Match {
	texts := make([]string, len(lines))
	for i, l := range lines {
		texts[i] = l.Text
	}
	ids, threads := threadIDs(lines, false)
	ids, threads = withWorkers(lines, ids, threads)
	return g.match(texts, ids, threads)
}

// match compares actual with the golden file; ids[t] numbers the thread
// of actual[t] (see threadIDs), or ids is nil if no thread is known.
func (g *Golden) match(actual []string, ids []int32, threads []Line) Match {
	thread := func(t int) int32 {
		if ids == nil {
			return 0
		}
		return ids[t]
	}
	m := newMatcher(g)
	m.threads = threads
	accepted := -1
	if m.accepting() {
		accepted = 0
	}
	failed := -1 // the first message no surviving state could take
	for t, line := range actual {
		if !m.step(line, thread(t)) {
			failed = t
			break
		}
		if m.accepting() {
			accepted = t + 1
		}
	}
	result := Match{
		OK:       accepted == len(actual),
		Accepted: accepted,
		Alive:    failed < 0,
		Want:     actual,
		Got:      actual,
	}
	if result.OK {
		return result
	}
	// m.states holds every state after actual[:matched].
	matched := len(actual)
	if failed >= 0 {
		matched = failed
	}
	best := slices.Clone(m.best())
	pending := m.pending(best)
	result.Want = make([]string, 0, matched+len(pending))
	result.Want = append(result.Want, actual[:matched]...)
	for _, i := range pending {
		result.Want = append(result.Want, g.items[i].msg)
	}
	if failed < 0 {
		it := g.items[pending[0]]
		result.Mismatch = fmt.Sprintf("%s:%d: want %q, the log ended", g.Path, it.line, it.msg)
		result.First = Difference{Golden: g.Path, Line: it.line, Want: it.msg}
		return result
	}
	got := actual[failed]
	if ids != nil && ids[failed] != 0 && m.wrongThread(&result, best, pending, failed, ids, threads) {
		result.First = Difference{Golden: g.Path, Got: got, At: failed + 1, Thread: true}
		if i := m.closest(best, got); i >= 0 {
			result.First.Line, result.First.Want = g.items[i].line, g.items[i].msg
		}
		return result
	}
	// got is an extra message, rather than one in the wrong place or a
	// wrong one, if nothing remains to match, or if the golden file
	// never expects it from here and the message after it fits.
	// A message much like an expected one (a wrong value) is named as a
	// replacement for it, not as an extra line.
	extra := len(pending) == 0
	var it item
	if !extra {
		it = g.items[m.closest(best, got)]
	}
	if !extra && failed+1 < len(actual) && !slices.ContainsFunc(pending, func(i int) bool { return g.items[i].matches(got) }) &&
		2*similarity(it.msg, got) < max(len(it.msg), len(got)) {
		extra = m.step(actual[failed+1], thread(failed+1))
	}
	if extra {
		result.First = Difference{Golden: g.Path, Got: got, At: failed + 1}
		if len(pending) > 0 {
			result.First.Before = g.items[pending[0]].line
		}
		result.Mismatch = fmt.Sprintf("%s: unexpected %q (kernel line %d): no golden line takes it", result.First.Where(), got, failed+1)
		return result
	}
	result.Mismatch = fmt.Sprintf("%s:%d: want %q, got %q (kernel line %d)", g.Path, it.line, it.msg, got, failed+1)
	result.First = Difference{Golden: g.Path, Line: it.line, Want: it.msg, Got: got, At: failed + 1}
	return result
}

// similarity scores how alike two messages look, for choosing which
// expected message to name in a mismatch: the lengths of their common
// prefix and common suffix.
func similarity(a, b string) int {
	n := min(len(a), len(b))
	prefix := 0
	for prefix < n && a[prefix] == b[prefix] {
		prefix++
	}
	suffix := 0
	for suffix < n-prefix && a[len(a)-1-suffix] == b[len(b)-1-suffix] {
		suffix++
	}
	return prefix + suffix
}
