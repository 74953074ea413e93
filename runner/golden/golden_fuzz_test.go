package golden

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// Limits of the reference check: refMatch is exponential, so it runs on
// goldens and logs small enough to answer in milliseconds; larger inputs
// are still parsed and matched, for crashes.
const (
	fuzzRefItems = 7
	fuzzRefLines = 7
)

// FuzzGoldenMatch parses a golden file and matches a log against it,
// comparing the verdict (OK, Accepted, Alive) with refMatch, the direct
// reading of the matching rules in random_test.go, with each line's thread
// taken from pids (0 unknown). Each log line is also written as a golden
// message (escapeMessage, formatItem) and must parse back to itself, and
// what -update writes for a log the golden rejects must accept it.
func FuzzGoldenMatch(f *testing.F) {
	f.Add([]byte("Inside kthread_init function\n[init] Created kthread\n[thread] thread execution {+}\n[worker?] Inside work function\n[worker?] my_data->i = {N}\n"),
		"Inside kthread_init function\nthread execution\nCreated kthread\nInside work function\nmy_data->i = 0", []byte{1, 2, 2, 3, 3})
	f.Add([]byte("a {*}\n# c\n[s] b {2,}\n[t] c {1,3}\nd {?}\n"), "a\nb\nc\nb\nd", []byte{0, 1, 2, 1, 0})
	f.Add([]byte("\\[x] \\{3} {2}\n\\\\\n{/[a-z]+ \\/} x/} {+}\n"), "[x] {3}\n[x] {3}\n\\\nab /} x", []byte{})
	f.Fuzz(func(t *testing.T, golden []byte, log string, pids []byte) {
		g, err := Parse("x.kmsg", golden)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "x.kmsg:") {
				t.Fatalf("error %q does not name the golden file", err)
			}
			return
		}
		actual := SplitLines(log)
		lines := make([]Line, len(actual))
		for i, msg := range actual {
			lines[i].Text = msg
			if i < len(pids) && pids[i]%4 != 0 {
				lines[i].PID = int(pids[i] % 4)
				lines[i].Task = fmt.Sprintf("t%d", lines[i].PID)
			}
		}
		m := g.Match(actual)
		checkMatch(t, m, actual)
		ml := g.MatchLines(lines)
		if ml.OK != (ml.Mismatch == "") {
			t.Fatalf("MatchLines: OK %v but Mismatch %q", ml.OK, ml.Mismatch)
		}
		for _, msg := range actual {
			checkEscape(t, msg)
		}
		if len(g.items) > fuzzRefItems || len(actual) > fuzzRefLines {
			return
		}
		ids, _ := threadIDs(lines, false)
		for _, c := range []struct {
			name string
			m    Match
			ids  []int32
		}{{"Match", m, nil}, {"MatchLines", ml, ids}} {
			accepted := -1
			for n := 0; n <= len(actual); n++ {
				var prefix []int32
				if c.ids != nil {
					prefix = c.ids[:n]
				}
				if refMatch(g, actual[:n], prefix, true) {
					accepted = n
				}
			}
			alive := refMatch(g, actual, c.ids, false)
			if c.m.OK != (accepted == len(actual)) || c.m.Accepted != accepted || c.m.Alive != alive {
				t.Fatalf("golden:\n%slog %q, threads %v: %s says OK %v, Accepted %d, Alive %v; the reference says Accepted %d, Alive %v",
					golden, actual, c.ids, c.name, c.m.OK, c.m.Accepted, c.m.Alive, accepted, alive)
			}
		}
		// -update: the revision it finds, and what it writes in the end,
		// parse and accept the log. No message ends in "\r", a golden
		// line's line ending: /dev/kmsg writes \x0d, the output
		// normaliser drops it.
		if m.OK || slices.ContainsFunc(actual, func(s string) bool { return strings.HasSuffix(s, "\r") }) {
			return
		}
		for _, c := range []struct {
			name string
			out  []byte
		}{{"revise", g.revise(actual)}, {"Update", g.Update(actual)}} {
			if c.out == nil {
				continue
			}
			ng, err := Parse("x.kmsg", c.out)
			if err != nil {
				t.Fatalf("golden:\n%slog %q: %s wrote a golden that does not parse: %v\n%s", golden, actual, c.name, err, c.out)
			}
			if nm := ng.Match(actual); !nm.OK {
				t.Fatalf("golden:\n%slog %q: %s wrote a golden that rejects the log: %s\n%s", golden, actual, c.name, nm.Mismatch, c.out)
			}
		}
	})
}

// checkEscape checks that msg, written as a golden line, alone or with a
// label and a quantifier, reads back as the literal message msg.
func checkEscape(t *testing.T, msg string) {
	t.Helper()
	if strings.HasSuffix(msg, "\r") {
		return // a golden line's final \r is its line ending; no record or normalised output line ends so
	}
	for _, c := range []struct {
		label string
		q     quant
	}{{"", once}, {"kworker/0:1", quant{2, -1}}} {
		line := formatItem(c.label, false, msg, c.q)
		g, err := Parse("x.kmsg", []byte(line+"\n"))
		if err != nil {
			t.Fatalf("message %q written as %q does not parse: %v", msg, line, err)
		}
		if len(g.items) != 1 {
			t.Fatalf("message %q written as %q parses as %d items", msg, line, len(g.items))
		}
		it := g.items[0]
		if it.msg != msg || it.re != nil || it.label != c.label || it.quant != c.q {
			t.Fatalf("message %q written as %q reads back as %q (pattern %v, label %q, %v)", msg, line, it.msg, it.re, it.label, it.quant)
		}
	}
}
