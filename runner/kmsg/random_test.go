package kmsg

import (
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
		g, err := ParseGolden("x.kmsg", []byte(text))
		if err != nil {
			continue
		}
		actual := randomLog(r)
		m := g.Match(actual)
		checkMatch(t, m, actual)
		accepted, alive := -1, false
		for n := 0; n <= len(actual); n++ {
			if refMatch(g, actual[:n], true) {
				accepted = n
			}
		}
		alive = refMatch(g, actual, false)
		if m.OK != (accepted == len(actual)) || m.Accepted != accepted || m.Alive != alive {
			t.Fatalf("golden:\n%slog %q: OK %v, Accepted %d, Alive %v; reference says Accepted %d, Alive %v",
				text, actual, m.OK, m.Accepted, m.Alive, accepted, alive)
		}
	}
}

// refMatch reports whether g can take all of actual and, if finish is
// set, then end.
func refMatch(g *Golden, actual []string, finish bool) bool {
	type pos struct{ i, c int }
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
				for i < len(str.items) {
					it := g.items[str.items[i]]
					if it.matches(actual[t]) && (it.quant.unbounded() || c < it.quant.max) {
						nps := append([]pos(nil), ps...)
						nstarted := append([]bool(nil), started...)
						nps[k], nstarted[k] = pos{i, c + 1}, true
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
		g, err := ParseGolden("x.kmsg", []byte(text))
		if err != nil {
			continue
		}
		actual := randomLog(r)
		if g.Match(actual).OK {
			continue
		}
		revised := g.revise(actual)
		ng, err := ParseGolden("x.kmsg", revised)
		if err != nil {
			t.Fatalf("golden:\n%slog %q: revision does not parse: %v\n%s", text, actual, err, revised)
		}
		if m := ng.Match(actual); !m.OK {
			t.Fatalf("golden:\n%slog %q: revision rejects the log: %s\n%s", text, actual, m.Mismatch, revised)
		}
	}
}
