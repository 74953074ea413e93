package report

import (
	"fmt"
	"github.com/kmodcheck/kmodcheck/runner/script"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/kmodcheck/kmodcheck/runner/kernel"
)

// A Table is the compatibility table of a run: a row per case, a column
// per kernel (ordered by version), a cell per case × kernel, and below it
// the reason of each failing cell. It is made from case records alone, so
// the JSON report of a run, or of merged shards, gives the same table.
type Table struct {
	Cases   []string // in name order
	Kernels []string // oldest first
	cells   map[[2]string]Pair
}

// NewTable is the table of pairs. Kernels named by run records (the
// plan) are columns even where no case ran on them. For a pair recorded
// more than once (-update -count), the last record is the cell.
func NewTable(pairs []Pair, kernels ...string) Table {
	t := Table{cells: map[[2]string]Pair{}}
	for _, p := range pairs {
		c := p.Case
		if !slices.Contains(t.Cases, c.Case) {
			t.Cases = append(t.Cases, c.Case)
		}
		if !slices.Contains(kernels, c.Kernel) {
			kernels = append(kernels, c.Kernel)
		}
		t.cells[[2]string{c.Case, c.Kernel}] = p
	}
	slices.Sort(t.Cases)
	t.Kernels = slices.Clone(kernels)
	sortReleases(t.Kernels)
	return t
}

// Cell is the pair of a case and a kernel; ok is false if it did not run.
func (t Table) Cell(caseName, kernel string) (Pair, bool) {
	p, ok := t.cells[[2]string{caseName, kernel}]
	return p, ok
}

// Status is a cell's status: PASS, FAIL, SKIP, INTERRUPTED, or "-" for a
// pair that did not run.
func (t Table) Status(caseName, kernel string) string {
	if p, ok := t.Cell(caseName, kernel); ok {
		return string(p.Case.Status)
	}
	return "-"
}

// Failures are the failing cells, and the known breaks (BROKEN), row by
// row, each column by version.
func (t Table) Failures() []Pair {
	var out []Pair
	for _, c := range t.Cases {
		for _, k := range t.Kernels {
			if p, ok := t.Cell(c, k); ok && (p.Case.Status == script.Fail || p.Case.Status == script.Broken) {
				out = append(out, p)
			}
		}
	}
	return out
}

// ReasonLine is a failing cell's line below the table: "CASE on KERNEL:
// step N `COMMAND`: reason — the API change".
func ReasonLine(p Pair) string {
	what := p.Case.Failure
	if r := p.Case.Reason; r != nil {
		what = r.Line()
	}
	if p.Case.Status == script.Broken {
		what = fmt.Sprintf("known break (broken %q): %s", p.Case.KnownBreak, what)
	}
	return fmt.Sprintf("%s on %s: %s", p.Case.Case, p.Case.Kernel, what)
}

// Text is the table for a terminal: columns aligned, then the reasons.
func (t Table) Text() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "CASE")
	for _, k := range t.Kernels {
		fmt.Fprintf(tw, "\t%s", k)
	}
	fmt.Fprintln(tw)
	for _, c := range t.Cases {
		fmt.Fprint(tw, c)
		for _, k := range t.Kernels {
			fmt.Fprintf(tw, "\t%s", t.Status(c, k))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	return b.String() + t.reasonsText()
}

// reasonsText is a line for each failure and known break: ReasonLine.
func (t Table) reasonsText() string {
	var b strings.Builder
	for _, p := range t.Failures() {
		fmt.Fprintf(&b, "%s\n", ReasonLine(p))
	}
	return b.String()
}

// Markdown is the table as GitHub renders it, then the reasons as a list.
func (t Table) Markdown() string {
	var b strings.Builder
	b.WriteString("| case |")
	for _, k := range t.Kernels {
		fmt.Fprintf(&b, " %s |", mdCell(k))
	}
	b.WriteString("\n|---|")
	for range t.Kernels {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, c := range t.Cases {
		fmt.Fprintf(&b, "| `%s` |", c)
		for _, k := range t.Kernels {
			st := t.Status(c, k)
			if st == "-" {
				fmt.Fprint(&b, " – |")
				continue
			}
			fmt.Fprintf(&b, " %s %s |", icon(script.Status(st)), st)
		}
		b.WriteString("\n")
	}
	if fs := t.Failures(); len(fs) > 0 {
		b.WriteString("\n")
		for _, p := range fs {
			fmt.Fprintf(&b, "- %s\n", mdEscape(ReasonLine(p)))
		}
	}
	return b.String()
}

// mdEscape keeps a line from being read as markdown's or HTML's: a
// reason quotes compiler output and module messages.
func mdEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "|", `\|`, "*", `\*`, "_", `\_`).Replace(s)
}

// sortReleases orders kernel releases by version, oldest first:
// 6.1.0-57-amd64 before 6.12.118+deb12-amd64 before 7.3.4-amd64.
func sortReleases(rs []string) {
	slices.SortStableFunc(rs, CompareReleases)
}

// CompareReleases compares two releases number by number (6.1.0-57 <
// 6.1.0-112 < 6.12.9), then as text.
func CompareReleases(a, b string) int {
	na, nb := releaseNumbers(a), releaseNumbers(b)
	for i := 0; i < len(na) && i < len(nb); i++ {
		if na[i] != nb[i] {
			return na[i] - nb[i]
		}
	}
	if len(na) != len(nb) {
		return len(na) - len(nb)
	}
	return strings.Compare(a, b)
}

// releaseNumbers are the numbers of a release's version, up to its
// flavour: 6.12.118+deb12-amd64 gives 6, 12, 118 and 12.
func releaseNumbers(s string) []int {
	s = strings.TrimSuffix(s, "-"+kernel.Flavour(s))
	var out []int
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r < '0' || r > '9' }) {
		n, err := strconv.Atoi(f)
		if err != nil {
			break
		}
		out = append(out, n)
	}
	return out
}
