package golden

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

// randomGolden returns a small golden file over the messages a..e, with
// every kind of label and quantifier, that may not parse (a stream
// marked optional on one line only).
func randomGolden(r *rand.Rand) string {
	labels := []string{"", "", "[s] ", "[t] ", "[u?] ", "[u] ", "[v?] "}
	quants := []string{"", "", "", " {*}", " {+}", " {?}", " {2}", " {1,3}", " {2,}"}
	var b strings.Builder
	for range 1 + r.Intn(10) {
		if r.Intn(5) == 0 {
			b.WriteString("# comment\n")
		}
		b.WriteString(labels[r.Intn(len(labels))])
		b.WriteByte(byte('a' + r.Intn(5)))
		b.WriteString(quants[r.Intn(len(quants))])
		b.WriteByte('\n')
	}
	return b.String()
}

// randomLog returns up to 11 messages over a..f.
func randomLog(r *rand.Rand) []string {
	var actual []string
	for range r.Intn(12) {
		actual = append(actual, string(rune('a'+r.Intn(6))))
	}
	return actual
}

// TestMatchAgainstReference compares Match with a direct, exponential
// reading of the matching rules.
func TestMatchAgainstReference(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for range 5000 {
		text := randomGolden(r)
		g, err := Parse("x.kmsg", []byte(text))
		if err != nil {
			continue
		}
		actual := randomLog(r)
		m := g.Match(actual)
		checkMatch(t, m, actual)
		accepted, alive := -1, false
		for n := 0; n <= len(actual); n++ {
			if refMatch(g, actual[:n], nil, true) {
				accepted = n
			}
		}
		alive = refMatch(g, actual, nil, false)
		if m.OK != (accepted == len(actual)) || m.Accepted != accepted || m.Alive != alive {
			t.Fatalf("golden:\n%slog %q: OK %v, Accepted %d, Alive %v; reference says Accepted %d, Alive %v",
				text, actual, m.OK, m.Accepted, m.Alive, accepted, alive)
		}
	}
}

// refMatch reports whether g can take all of actual and, if finish is
// set, then end; ids[t] is the thread of actual[t] (0 unknown), or ids
// is nil.
func refMatch(g *Golden, actual []string, ids []int32, finish bool) bool {
	type pos struct {
		i, c  int
		bound int32
	}
	// bind returns the thread stream k is bound to after taking line t,
	// and whether it may take it.
	bind := func(s int, ps []pos, k, t int) (int32, bool) {
		if ids == nil || ids[t] == 0 || !g.segments[s].block {
			return ps[k].bound, true
		}
		if ps[k].bound != 0 {
			return ps[k].bound, ps[k].bound == ids[t]
		}
		for j := range ps {
			if ps[j].bound == ids[t] {
				return 0, false
			}
		}
		return ids[t], true
	}
	var try func(s int, ps []pos, started []bool, t int) bool
	canEnd := func(s int, ps []pos, started []bool) bool {
		for k, str := range g.segments[s].streams {
			if str.optional && !started[k] {
				continue
			}
			for i := ps[k].i; i < len(str.items); i++ {
				c := 0
				if i == ps[k].i {
					c = ps[k].c
				}
				if c < g.items[str.items[i]].quant.min {
					return false
				}
			}
		}
		return true
	}
	fresh := func(s int) ([]pos, []bool) {
		n := len(g.segments[s].streams)
		return make([]pos, n), make([]bool, n)
	}
	try = func(s int, ps []pos, started []bool, t int) bool {
		if s == len(g.segments) {
			return t == len(actual)
		}
		if t == len(actual) && !finish {
			return true
		}
		if t < len(actual) {
			for k, str := range g.segments[s].streams {
				i, c := ps[k].i, ps[k].c
				bound, ok := bind(s, ps, k, t)
				for ok && i < len(str.items) {
					it := g.items[str.items[i]]
					if it.matches(actual[t]) && (it.quant.unbounded() || c < it.quant.max) {
						nps := append([]pos(nil), ps...)
						nstarted := append([]bool(nil), started...)
						nps[k], nstarted[k] = pos{i, c + 1, bound}, true
						if try(s, nps, nstarted, t+1) {
							return true
						}
					}
					if c < it.quant.min {
						break
					}
					i, c = i+1, 0
				}
			}
		}
		if !canEnd(s, ps, started) {
			return false
		}
		if s+1 == len(g.segments) {
			return try(s+1, nil, nil, t)
		}
		nps, nstarted := fresh(s + 1)
		return try(s+1, nps, nstarted, t)
	}
	if len(g.segments) == 0 {
		return try(0, nil, nil, 0)
	}
	ps, started := fresh(0)
	return try(0, ps, started, 0)
}

// TestUpdateRandom checks that the revision Update finds, before any
// fallback, accepts the log it was made for.
func TestUpdateRandom(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	for range 3000 {
		text := randomGolden(r)
		g, err := Parse("x.kmsg", []byte(text))
		if err != nil {
			continue
		}
		actual := randomLog(r)
		if g.Match(actual).OK {
			continue
		}
		revised := g.revise(actual)
		ng, err := Parse("x.kmsg", revised)
		if err != nil {
			t.Fatalf("golden:\n%slog %q: revision does not parse: %v\n%s", text, actual, err, revised)
		}
		if m := ng.Match(actual); !m.OK {
			t.Fatalf("golden:\n%slog %q: revision rejects the log: %s\n%s", text, actual, m.Mismatch, revised)
		}
	}
}

// TestMatchLinesAgainstReference is TestMatchAgainstReference with each
// message printed by one of three threads, or an unknown one.
func TestMatchLinesAgainstReference(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	for range 5000 {
		text := randomGolden(r)
		g, err := Parse("x.kmsg", []byte(text))
		if err != nil {
			continue
		}
		actual := randomLog(r)
		lines := make([]Line, len(actual))
		for i, msg := range actual {
			lines[i] = Line{Text: msg, PID: r.Intn(4)}
			if lines[i].PID != 0 {
				lines[i].Task = fmt.Sprintf("t%d", lines[i].PID)
			}
		}
		ids, _ := threadIDs(lines, false)
		m := g.MatchLines(lines)
		accepted := -1
		for n := 0; n <= len(actual); n++ {
			var prefix []int32
			if ids != nil {
				prefix = ids[:n]
			}
			if refMatch(g, actual[:n], prefix, true) {
				accepted = n
			}
		}
		alive := refMatch(g, actual, ids, false)
		if m.OK != (accepted == len(actual)) || m.Accepted != accepted || m.Alive != alive || m.OK != (m.Mismatch == "") {
			t.Fatalf("golden:\n%slines %v: OK %v, Accepted %d, Alive %v; reference says Accepted %d, Alive %v",
				text, lines, m.OK, m.Accepted, m.Alive, accepted, alive)
		}
	}
}

// TestNewRunsRandom checks that a golden NewRuns writes accepts every run
// it was written from, and that UpdateRuns keeps it for them.
func TestNewRunsRandom(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	tasks := []string{"insmod", "insmod", "a", "b", "kworker/0:1"}
	for range 3000 {
		randomLines := func() []Line {
			var lines []Line
			for range r.Intn(12) {
				k := r.Intn(len(tasks))
				pid := k + 1
				if tasks[k] == "kworker/0:1" {
					pid = 50 + r.Intn(2)
				}
				texts := []string{"a", "b", "c", "d", "n 1", "n 2", `n\3`, "n 1 {+}"}
				lines = append(lines, Line{Text: texts[r.Intn(len(texts))], PID: pid, Task: tasks[k]})
			}
			return lines
		}
		var runs []Run
		for range 1 + r.Intn(3) {
			runs = append(runs, Run{Before: randomLines(), Lines: randomLines()})
		}
		text := NewRuns(runs)
		g, err := Parse("x.kmsg", text)
		if err != nil {
			t.Fatalf("runs %v: NewRuns wrote a golden that does not parse: %v\n%s", runs, err, text)
		}
		for i, run := range runs {
			if m := g.MatchLines(run.Lines); !m.OK {
				t.Fatalf("runs %v: NewRuns wrote a golden that rejects run %d: %s\n%s", runs, i, m.Mismatch, text)
			}
		}
		if got := g.UpdateRuns(runs); string(got) != string(text) {
			t.Fatalf("UpdateRuns changed NewRuns' golden:\n%s\nto:\n%s", text, got)
		}
	}
}
