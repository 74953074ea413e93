package golden

import (
	"os"
	"path/filepath"
	"strings"
)

// newHeader starts every golden file New writes.
const newHeader = `# Kernel messages the step must log, one per line, in order; a leading \ escapes [ # or \.
# Lines labelled [name] may interleave with other labels; a final {*} {+} {?} {3} {2,} {2,5} repeats a line; {N} is any number.
`

// New returns a golden file that expects exactly the messages in actual:
// a short header, then one line per message, escaped as needed.
func New(actual []string) []byte {
	return []byte(newHeader + plainItems(actual))
}

// Format returns a golden file of comment lines (each written after "# ")
// followed by lines as they are, escaped where the golden language needs
// it.
func Format(comments, lines []string) []byte {
	var b strings.Builder
	for _, c := range comments {
		b.WriteString(strings.TrimRight("# "+c, " ") + "\n")
	}
	return []byte(b.String() + plainItems(lines))
}

func plainItems(actual []string) string {
	var b strings.Builder
	for _, msg := range actual {
		b.WriteString(formatItem("", false, msg, once))
		b.WriteByte('\n')
	}
	return b.String()
}

// Update returns the text of a golden file that accepts actual, for
// maintainers accepting a changed kernel log. If g already accepts
// actual, Update returns g's original text unchanged.
//
// Otherwise it keeps as much of g as it can, so that the change reviews
// as a small diff: it looks for the alignment of actual with g that
// changes the fewest golden lines, then keeps comments and every line
// used by that alignment as written, labels and quantifiers included.
// Messages the alignment could not place are written as new lines where
// they occurred: inside an interleave block, in the stream whose
// neighbouring lines they look like (or amid whose messages they came,
// for an optional stream), else as ordered lines. Lines left without
// messages are deleted. A repeated item that took more or fewer
// messages than its quantifier allows keeps its line with the
// quantifier adjusted ({3} becomes {5}, {2,3} becomes {1,3}, {+}
// becomes {*}) instead of having the messages written out. An optional
// stream whose messages are all absent is left as it was. If every line
// of an ordered run between two interleave blocks would go, its last
// line stays, allowed to be absent ({?}), so that the blocks do not
// merge into one.
//
// The search is bounded (it gives up alignments that fall more than a
// few edits behind the best), so on very different logs the result may
// change more than needed. It is checked with Match; should it not
// accept actual, Update falls back to g's leading comments followed by
// actual, one plain line per message.
func (g *Golden) Update(actual []string) []byte {
	if g.Match(actual).OK {
		return g.data
	}
	if out := g.revise(actual); out != nil {
		if ng, err := g.reparse(out); err == nil && ng.Match(actual).OK {
			return out
		}
	}
	return g.rewrite(actual)
}

// rewrite returns the comment lines that open g, or New's header if
// there are none, followed by actual, one plain line per message.
func (g *Golden) rewrite(actual []string) []byte {
	return []byte(g.header() + plainItems(actual))
}

func (g *Golden) header() string {
	var b strings.Builder
	for _, l := range g.lines {
		if l.item >= 0 {
			break
		}
		b.WriteString(l.raw + "\n")
	}
	if b.Len() == 0 {
		return newHeader
	}
	return b.String()
}

// A revision is how an alignment changes a golden file.
type revision struct {
	taken   []int            // messages taken, by item
	started map[[2]int]bool  // streams, by segment and index, that took or gained a message
	before  map[int][]string // new lines to write before an item
	after   map[int][]string // new lines to write after an item
	atEnd   []string         // new lines for a file without items
	barrier map[int]bool     // items to keep, allowed to be absent, so that two blocks do not merge
}

// revise returns g edited along the cheapest alignment with actual, or
// nil if no alignment was found.
func (g *Golden) revise(actual []string) []byte {
	end := g.align(actual)
	if end == nil {
		return nil
	}
	r := g.revision(end.path)
	var b strings.Builder
	write := func(lines ...string) {
		for _, l := range lines {
			b.WriteString(l + "\n")
		}
	}
	for _, l := range g.lines {
		if l.item < 0 {
			write(l.raw)
			continue
		}
		write(r.before[l.item]...)
		if line, keep := g.revisedItem(l, r); keep {
			write(line)
		}
		write(r.after[l.item]...)
	}
	write(r.atEnd...)
	return []byte(b.String())
}

// revision collects the changes an alignment, given by its last edit,
// makes.
func (g *Golden) revision(last *edit) *revision {
	r := &revision{
		taken:   make([]int, len(g.items)),
		started: make(map[[2]int]bool),
		before:  make(map[int][]string),
		after:   make(map[int][]string),
		barrier: make(map[int]bool),
	}
	var path []*edit
	for e := last; e != nil; e = e.prev {
		path = append(path, e)
	}
	for i := len(path) - 1; i >= 0; i-- {
		e := path[i]
		if e.item >= 0 {
			r.taken[e.item]++
			it := g.items[e.item]
			r.started[[2]int{it.segment, it.stream}] = true
			continue
		}
		ins := e.insert
		label, optional := "", false
		if ins.stream >= 0 {
			str := g.segments[ins.segment].streams[ins.stream]
			label, optional = str.label, str.optional
			r.started[[2]int{ins.segment, ins.stream}] = true
		}
		line := formatItem(label, optional, ins.msg, once)
		switch {
		case ins.anchor < 0:
			r.atEnd = append(r.atEnd, line)
		case ins.after:
			r.after[ins.anchor] = append(r.after[ins.anchor], line)
		default:
			r.before[ins.anchor] = append(r.before[ins.anchor], line)
		}
	}
	// Deleting every line of an ordered run between two interleave
	// blocks would merge the blocks into one, where a stream present in
	// one and absent in the other, or optional in one and not in the
	// other, no longer means the same. Keep the run's last line instead,
	// allowed to be absent.
	for s := 1; s < len(g.segments)-1; s++ {
		seg := &g.segments[s]
		if seg.block {
			continue
		}
		items := seg.streams[0].items
		empty := true
		for _, i := range items {
			_, keep := g.revisedItem(g.lines[g.items[i].line-1], r)
			empty = empty && !keep && len(r.before[i]) == 0 && len(r.after[i]) == 0
		}
		if empty {
			r.barrier[items[len(items)-1]] = true
		}
	}
	return r
}

// revisedItem returns the line for an item in revision r, and whether
// to keep it at all.
func (g *Golden) revisedItem(l sourceLine, r *revision) (string, bool) {
	it := g.items[l.item]
	n := r.taken[l.item]
	q := it.quant
	optional := g.segments[it.segment].streams[it.stream].optional
	if q.allows(n) || optional && !r.started[[2]int{it.segment, it.stream}] {
		return l.raw, true
	}
	switch {
	case n == 0 && (q.unbounded() || r.barrier[l.item]):
		q.min = 0
	case n == 0:
		return "", false
	case q.min == q.max:
		q = quant{n, n}
	case n < q.min:
		q.min = n
	default:
		q.max = n
	}
	if s := q.String(); s != "" {
		return it.head + " " + s, true
	}
	// Alone, a quantifier-shaped end of the message (`x {3}`, written so
	// before ` {2}`) would read as the quantifier, and an empty or blank
	// message (` {2}`) as a comment: escape them.
	head := it.head
	if brace, ok := quantShape(head); ok && brace > 0 && head[brace-1] == ' ' {
		head = head[:brace] + `\` + head[brace:]
	}
	if isComment(head) {
		head = `\` + head
	}
	return head, true
}

// newGoldenMode is a new golden's mode, a text file's: what -update writes
// is the maintainer's to read and commit.
const newGoldenMode = 0o644

// Write writes data as the golden at path, keeping the mode the file
// has (a golden is the maintainer's file: -update changes its lines and
// nothing else). The file is replaced at once, through a temporary file
// renamed over it, so that a run stopped half way leaves the old golden.
func Write(path string, data []byte) error {
	mode := os.FileMode(newGoldenMode)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // renamed away on success
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(mode)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	return err
}
