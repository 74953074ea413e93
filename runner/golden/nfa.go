package golden

import (
	"encoding/binary"
	"slices"
	"sort"
)

// A matcher runs a golden file as a nondeterministic automaton over
// messages, keeping the set of states every way of matching could be
// in. A state is a segment index followed, for each stream of that
// segment, by the stream's current item, how many messages that item
// has taken, and the thread the stream is bound to (see [threads]; 0
// while none is, and always in an ordered segment). Counts of unbounded items stop growing at their minimum
// (but at least 1, to tell an optional stream that has started from one
// that has not), so the set stays small however long the log is.
type matcher struct {
	g       *Golden
	width   int     // int32s per state
	states  []int32 // the current states, width int32s each
	next    []int32 // the states being built by step
	zero    []int32 // stream positions at the start of a segment
	buf     []int32 // the state being added
	index   map[string]int
	indexed bool // index holds every state in next
	key     []byte
	threads []Line // the first line of each thread number (see threadIDs), for its context
}

// smallSet is how many states are deduplicated by comparing them all
// before an index is worth building.
const smallSet = 16

func newMatcher(g *Golden) *matcher {
	width := 1 + streamWidth*g.maxStreams
	return &matcher{
		g:      g,
		width:  width,
		states: make([]int32, width), // segment 0, every stream at its start
		zero:   make([]int32, width-1),
		buf:    make([]int32, width),
	}
}

// streamWidth is how many int32s of a state each stream takes.
const streamWidth = 3

// step moves every state over line, printed by thread (0 if unknown).
// If no state can take it, step returns false and leaves the states as
// they were.
func (m *matcher) step(line string, thread int32) bool {
	m.next = m.next[:0]
	m.indexed = false
	clear(m.index)
	for off := 0; off < len(m.states); off += m.width {
		m.take(m.states[off:off+m.width], line, thread)
	}
	if len(m.next) == 0 {
		return false
	}
	m.states, m.next = m.next, m.states
	return true
}

// take adds to next every state that st reaches by taking line: in the
// current segment by any stream's current item or a later one whose
// predecessors are satisfied, or in a later segment if everything
// before it can finish. In an interleave block a stream takes only the
// lines of its thread, and binds to the thread of its first line if no
// other stream of the block is bound to it.
func (m *matcher) take(st []int32, line string, thread int32) {
	g := m.g
	pos := st[1:]
	for s := int(st[0]); s < len(g.segments); s++ {
		if s != int(st[0]) {
			pos = m.zero
		}
		seg := &g.segments[s]
		for k := range seg.streams {
			str := &seg.streams[k]
			i, c := int(pos[streamWidth*k]), int(pos[streamWidth*k+1])
			for i < len(str.items) {
				it := &g.items[str.items[i]]
				q := it.quant
				if (q.unbounded() || c < q.max) && it.matches(line) {
					if bind, ok := m.bindThread(seg, pos, k, thread); ok {
						m.add(s, pos, k, i, countAfter(q, c), bind)
					}
				}
				if c < q.min {
					break
				}
				i, c = i+1, 0
			}
		}
		if !m.finished(seg, pos) {
			break
		}
	}
}

// countAfter returns the count to record after an item with quantifier
// q that has taken c messages takes one more.
func countAfter(q quant, c int) int {
	if q.unbounded() {
		return min(c+1, max(q.min, 1))
	}
	return c + 1
}

// bindThread returns the thread stream k of seg is bound to after
// taking a line of thread, and whether it may take it at all: a stream
// takes the lines of its own thread and, while unbound, of any thread
// no other stream of the block is bound to. A line of unknown thread
// (0) is taken by any stream and binds nothing; so is every line of an
// ordered segment. A line printed in interrupt context is taken only by a
// stream of that context ([NAME@softirq]), which binds nothing: which
// task an interrupt interrupts is chance.
func (m *matcher) bindThread(seg *segment, pos []int32, k int, thread int32) (int32, bool) {
	bound := pos[streamWidth*k+2]
	if thread == 0 || !seg.block {
		return bound, true
	}
	if want, got := seg.streams[k].context, m.contextOf(thread); want != "" || got != "" {
		return bound, contextTakes(want, got)
	}
	if int(thread) < len(m.threads) && isWorkqueueWorker(m.threads[thread].Task) {
		return bound, true // task context, but which worker runs a work is chance
	}
	if bound == thread {
		return bound, true
	}
	if bound != 0 {
		return 0, false
	}
	for j := range seg.streams {
		if pos[streamWidth*j+2] == thread {
			return 0, false
		}
	}
	return thread, true
}

// contextOf returns the interrupt context of a thread number, "" for a
// task.
func (m *matcher) contextOf(thread int32) string {
	if int(thread) >= len(m.threads) {
		return ""
	}
	return m.threads[thread].Context
}

// add adds to next the state in segment s with stream positions pos,
// except that stream k is at item i with count c, bound to thread.
func (m *matcher) add(s int, pos []int32, k, i, c int, thread int32) {
	m.buf[0] = int32(s)
	copy(m.buf[1:], pos)
	m.buf[1+streamWidth*k], m.buf[2+streamWidth*k], m.buf[3+streamWidth*k] = int32(i), int32(c), thread
	n := len(m.next) / m.width
	if !m.indexed && n < smallSet {
		for off := 0; off < len(m.next); off += m.width {
			if slices.Equal(m.next[off:off+m.width], m.buf) {
				return
			}
		}
		m.next = append(m.next, m.buf...)
		return
	}
	if !m.indexed {
		if m.index == nil {
			m.index = make(map[string]int)
		}
		for j := 0; j < n; j++ {
			m.index[string(m.encode(m.next[j*m.width:(j+1)*m.width]))] = j
		}
		m.indexed = true
	}
	key := m.encode(m.buf)
	if _, ok := m.index[string(key)]; ok {
		return
	}
	m.index[string(key)] = n
	m.next = append(m.next, m.buf...)
}

func (m *matcher) encode(st []int32) []byte {
	m.key = m.key[:0]
	for _, v := range st {
		m.key = binary.LittleEndian.AppendUint32(m.key, uint32(v))
	}
	return m.key
}

// finished reports whether every stream of seg can end at pos.
func (m *matcher) finished(seg *segment, pos []int32) bool {
	for k := range seg.streams {
		str := &seg.streams[k]
		i, c := int(pos[streamWidth*k]), int(pos[streamWidth*k+1])
		switch {
		case str.optional && i == 0 && c == 0:
			// Not started: the stream may be absent.
		case i == len(str.items):
		case c >= m.g.items[str.items[i]].quant.min && str.optionalFrom[i+1]:
		default:
			return false
		}
	}
	return true
}

// accepting reports whether some state has satisfied the whole file.
func (m *matcher) accepting() bool {
	for off := 0; off < len(m.states); off += m.width {
		if m.complete(m.states[off : off+m.width]) {
			return true
		}
	}
	return false
}

func (m *matcher) complete(st []int32) bool {
	s := int(st[0])
	return s >= len(m.g.segments) || m.finished(&m.g.segments[s], st[1:]) && m.g.requiredFrom[s+1] == 0
}

// eachPending calls f for every item that still requires messages in
// state st, with how many, segment by segment.
func (m *matcher) eachPending(st []int32, f func(item, n int)) {
	g := m.g
	for s := int(st[0]); s < len(g.segments); s++ {
		pos := st[1:]
		if s != int(st[0]) {
			pos = m.zero
		}
		for k, str := range g.segments[s].streams {
			i, c := int(pos[streamWidth*k]), int(pos[streamWidth*k+1])
			if str.optional && i == 0 && c == 0 {
				continue
			}
			for ; i < len(str.items); i, c = i+1, 0 {
				if n := g.items[str.items[i]].quant.min - c; n > 0 {
					f(str.items[i], n)
				}
			}
		}
	}
}

// best returns the current state closest to completing the file: the
// one with the fewest required messages still to come.
func (m *matcher) best() []int32 {
	var best []int32
	fewest := -1
	for off := 0; off < len(m.states); off += m.width {
		st := m.states[off : off+m.width]
		count := 0
		m.eachPending(st, func(_, n int) { count += n })
		if fewest < 0 || count < fewest {
			best, fewest = st, count
		}
	}
	return best
}

// maxPending bounds the list pending returns, so that a quantifier
// such as {1000000} cannot blow up a mismatch report.
const maxPending = 10000

// pending returns the items still required in state st, each repeated
// as many times as it requires, in file order, up to maxPending of them.
func (m *matcher) pending(st []int32) []int {
	type need struct{ item, n int }
	var needs []need
	m.eachPending(st, func(item, n int) { needs = append(needs, need{item, n}) })
	sort.Slice(needs, func(a, b int) bool { return needs[a].item < needs[b].item })
	var items []int
	for _, nd := range needs {
		for range min(nd.n, maxPending-len(items)) {
			items = append(items, nd.item)
		}
	}
	return items
}

// closest returns the item to name as wanted when state st cannot take
// got. The candidates are each stream's next required item in the first
// segment that still requires any. A stream that has got further on is
// the one got belongs to, out of turn, so its next item is what was
// missed; otherwise the candidate that looks most like got is named.
func (m *matcher) closest(st []int32, got string) int {
	const later = 1 << 30 // beats any similarity
	seen := map[[2]int]bool{}
	best, bestScore := -1, -1
	m.eachPending(st, func(item, _ int) {
		it := m.g.items[item]
		if best >= 0 && it.segment != m.g.items[best].segment || seen[[2]int{it.segment, it.stream}] {
			return
		}
		seen[[2]int{it.segment, it.stream}] = true
		score := similarity(it.msg, got)
		str := m.g.segments[it.segment].streams[it.stream]
		for _, j := range str.items[it.pos+1:] {
			if m.g.items[j].matches(got) {
				score += later
				break
			}
		}
		if score > bestScore {
			best, bestScore = item, score
		}
	})
	return best
}
