package script

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/kmodcheck/kmodcheck/runner/golden"
)

// A kmsg that passes on a stretch from the start of the log leaves the
// lines after it to the next kmsg: they were printed by what comes next.
// When no kmsg comes next, nothing would ever compare them, and a module
// that prints one line too many in its exit function would pass. So the
// lines a case's last kmsg left fail the case at its end, unless that kmsg
// said the log may go on (kmsg -more). Lines printed by steps after the
// last kmsg are compared with nothing: a case that cares ends with a kmsg.

// leftover is what a kmsg left for the next one.
type leftover struct {
	name       string // the kmsg's golden name
	golden     *golden.Golden
	data       []byte        // the golden as read
	updatePath string        // where -update writes it
	lines      []golden.Line // every line the kmsg compared, normalised, with its thread
	before     []golden.Line // what the kmsg before it took, for -update
	accepted   int           // how many of them the golden took
}

// leftoverProblem returns the end-of-case failure for lines a kmsg left
// and no later kmsg took, or "". With -update the golden is rewritten to
// take them instead.
func (cfg *Config) leftoverProblem(ts *testscript.TestScript, st *caseState) string {
	lo := st.leftover
	if lo == nil {
		return ""
	}
	if cfg.Update {
		text := rewrite(lo.golden, []golden.Run{{Lines: lo.lines, Before: lo.before}})
		if !bytes.Equal(text, lo.data) {
			if err := golden.Write(lo.updatePath, text); err != nil {
				return fmt.Sprintf("kmsg %s: update %s: %v", lo.name, lo.updatePath, err)
			}
			ts.Logf("[kmsg %s: updated %s with the %d lines after it that no later kmsg compares]", lo.name, lo.updatePath, len(lo.lines)-lo.accepted)
		}
		return ""
	}
	return lo.report()
}

// report names each line left over, in the form of a kmsg mismatch, and
// the diff from the golden to every line the kmsg compared.
func (lo *leftover) report() string {
	rest := lo.lines[lo.accepted:]
	var b strings.Builder
	fmt.Fprintf(&b, "kmsg %s: %d kernel line(s) after what %s takes, compared by no later kmsg (kmsg -more %s allows more lines):\n",
		lo.name, len(rest), lo.golden.Path, lo.name)
	for i, l := range rest {
		fmt.Fprintf(&b, "%s: unexpected %q (kernel line %d): no golden line takes it\n", lo.golden.Path, l.Text, lo.accepted+i+1)
	}
	b.WriteString(lo.golden.MatchLines(lo.lines).Diff(lo.golden.Path))
	return strings.TrimRight(b.String(), "\n")
}
