package output

import (
	"strings"

	"github.com/kmodcheck/kmodcheck/runner/golden"
)

// A Match is the outcome of comparing a step's output with a golden.
type Match struct {
	OK       bool
	Mismatch string // the golden line and the output line at fault
	Diff     string // unified diff, golden to output
	First    golden.Difference
}

// Compare compares normalised output lines, of the stream named stream
// ("stdout" or "stderr"), with g. The output is complete: unlike a kernel
// log, nothing more will come.
func Compare(g *golden.Golden, lines []string, stream string) Match {
	m := g.Match(lines)
	if m.OK {
		return Match{OK: true}
	}
	return Match{
		Mismatch: mismatch(m, stream, stream),
		First:    m.First,
		Diff:     m.DiffAs(g.Path, stream),
	}
}

// CompareTerminal is Compare for a terminal's view of a step, its stdout
// and stderr interleaved (see golden.Golden.MatchTerminal). It also
// returns the interleaving it compared, for an update.
func CompareTerminal(g *golden.Golden, stdout, stderr []string) (Match, []string) {
	m, merged := g.MatchTerminal(stdout, stderr)
	if m.OK {
		return Match{OK: true}, merged
	}
	return Match{
		Mismatch: mismatch(m, "terminal", "output"),
		First:    m.First,
		Diff:     m.DiffAs(g.Path, "terminal"),
	}, merged
}

// mismatch is m's mismatch in the words of a step's output: golden.Match
// speaks of kernel lines and the log; here they are the lines of what
// (stdout, terminal) and the end of end (stdout, output).
func mismatch(m golden.Match, what, end string) string {
	s := strings.Replace(m.Mismatch, "(kernel line ", "("+what+" line ", 1)
	return strings.Replace(s, ", the log ended", ", the "+end+" ended", 1)
}
