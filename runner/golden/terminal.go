package golden

import "slices"

// maxTerminalCells bounds the table MatchTerminal fills in, one cell per
// pair of stdout and stderr prefixes: beyond it, only the interleaving
// stdout then stderr is tried.
const maxTerminalCells = 1 << 18

// MatchTerminal compares the golden with what a terminal showed of a
// step: its standard output and standard error, two pipes whose lines
// each keep their order but interleave in any way (a pasted terminal shows
// one interleaving; the pipes may deliver another). It passes if the
// golden accepts some interleaving. It also returns an interleaving, for
// an update: when the golden fails, the streams laid out as the golden's
// lines are (see orderLike). The mismatch is reported on the interleaving
// that went furthest, then the rest of stdout and of stderr.
func (g *Golden) MatchTerminal(stdout, stderr []string) (Match, []string) {
	n, k := len(stdout), len(stderr)
	if n == 0 || k == 0 || (n+1)*(k+1) > maxTerminalCells {
		merged := append(slices.Clone(stdout), stderr...)
		return g.Match(merged), merged
	}
	t := terminalTable{m: newMatcher(g), stdout: stdout, stderr: stderr,
		cells: make([][]int32, (n+1)*(k+1)), from: make([]byte, (n+1)*(k+1))}
	t.cells[0] = slices.Clone(t.m.states)
	far := 0 // the reachable cell furthest into the output
	for i := 0; i <= n; i++ {
		for j := 0; j <= k; j++ {
			c := i*(k+1) + j
			if t.cells[c] == nil {
				continue
			}
			if i+j > far/(k+1)+far%(k+1) {
				far = c
			}
			if i < n {
				t.reach(c, c+k+1, stdout[i], 'o')
			}
			if j < k {
				t.reach(c, c+1, stderr[j], 'e')
			}
		}
	}
	merged := t.path(far)
	i, j := far/(k+1), far%(k+1)
	merged = append(append(merged, stdout[i:]...), stderr[j:]...)
	if last := t.cells[len(t.cells)-1]; last != nil {
		t.m.states = last
		if t.m.accepting() {
			return Match{OK: true, Accepted: len(merged), Alive: true, Want: merged, Got: merged}, merged
		}
	}
	// For an update, lay the streams out as the golden does: after a
	// changed line, stdout then stderr would move stderr's lines.
	return g.Match(merged), g.orderLike(stdout, stderr)
}

// orderLike interleaves stdout and stderr as the golden's lines do: each
// stderr line goes before the first stdout line the golden has after it.
// Lines the golden lacks stay after their stream's previous line.
func (g *Golden) orderLike(stdout, stderr []string) []string {
	outAt, errAt := g.positions(stdout), g.positions(stderr)
	merged := make([]string, 0, len(stdout)+len(stderr))
	j := 0
	for i, line := range stdout {
		for j < len(stderr) && errAt[j] < outAt[i] {
			merged, j = append(merged, stderr[j]), j+1
		}
		merged = append(merged, line)
	}
	return append(merged, stderr[j:]...)
}

// positions returns, for each line, the index of the golden item that
// takes it, searching on from the previous line's; a line no item takes
// gets its predecessor's.
func (g *Golden) positions(lines []string) []int {
	at := make([]int, len(lines))
	next, last := 0, -1
	for i, line := range lines {
		at[i] = last
		for p := next; p < len(g.items); p++ {
			if g.items[p].matches(line) {
				at[i], last, next = p, p, p+1
				break
			}
		}
	}
	return at
}

// A terminalTable holds, for each pair of stdout and stderr prefixes,
// the matcher's states after some interleaving of them (nil if none
// matches), and which stream's line came last on the way.
type terminalTable struct {
	m              *matcher
	stdout, stderr []string
	cells          [][]int32
	from           []byte // 'o' stdout, 'e' stderr
}

// reach adds to cell to the states cell c reaches by taking line.
func (t *terminalTable) reach(c, to int, line string, stream byte) {
	// step swaps its buffers: neither may be a cell's.
	t.m.states, t.m.next = t.cells[c], nil
	ok := t.m.step(line, 0)
	t.m.next = nil
	if !ok {
		return
	}
	if t.cells[to] == nil {
		t.from[to] = stream
	}
	t.cells[to] = t.union(t.cells[to], t.m.states)
}

// union returns the states of a and b, each once.
func (t *terminalTable) union(a, b []int32) []int32 {
	w := t.m.width
	seen := make(map[string]bool, (len(a)+len(b))/w)
	out := make([]int32, 0, len(a)+len(b))
	for _, set := range [][]int32{a, b} {
		for off := 0; off < len(set); off += w {
			key := string(t.m.encode(set[off : off+w]))
			if !seen[key] {
				seen[key] = true
				out = append(out, set[off:off+w]...)
			}
		}
	}
	return out
}

// path returns the lines of an interleaving that reaches cell c.
func (t *terminalTable) path(c int) []string {
	k := len(t.stderr)
	var rev []string
	for c != 0 {
		i, j := c/(k+1), c%(k+1)
		if t.from[c] == 'o' {
			rev, c = append(rev, t.stdout[i-1]), c-(k+1)
		} else {
			rev, c = append(rev, t.stderr[j-1]), c-1
		}
	}
	slices.Reverse(rev)
	return rev
}
