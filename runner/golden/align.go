package golden

import (
	"encoding/binary"
	"sort"
)

// Costs of the edits an alignment may make to a golden file. The
// hundreds count changed golden lines, so that the cheapest alignment
// is the smallest diff. The tens count messages written out as new
// lines: between diffs of the same size, the one that keeps more
// messages on their existing lines wins. The units break the remaining
// ties: a new line goes into a stream it looks like, else as an ordered
// line, else into some other stream.
const (
	costInsertSimilar = 110 // a message no item takes becomes a new line in a stream it looks like or is amid
	costInsertPlain   = 111 // ... a new ordered line
	costInsertOther   = 112 // ... a new line in a stream it does not look like
	costShort         = 100 // an item takes fewer messages than it requires: deleted, or its quantifier lowered
	costLong          = 100 // a repeated item takes more messages than it allows: its quantifier raised
)

// alignSlack and alignMaxStates bound the search: a message is not
// placed by edits costing more than alignSlack, alignments costing more
// than the cheapest by alignSlack are dropped, and at most
// alignMaxStates are kept.
const (
	alignSlack     = 400
	alignMaxStates = 1000
)

// An edit is one message's place in an alignment: taken by an item or
// inserted as a new line. Edits link back to the previous message's.
type edit struct {
	prev   *edit
	item   int // the item that took the message, or -1
	insert insertion
}

// An insertion is a message written as a new golden line.
type insertion struct {
	msg     string
	anchor  int  // the item the new line goes next to, or -1 if there are none
	after   bool // after the anchor rather than before it
	segment int
	stream  int // the stream the line joins, or -1 for an ordered line
}

// An alignState is like a matcher state, but a stream's position also
// records whether a stream of an interleave block has started (taken or
// gained a message), because edits can move a stream past items without
// it taking messages: an optional stream that has not started may be
// absent, and a block none of whose streams has started may have new
// ordered lines inserted before it. It carries the cost of the cheapest
// alignment found to reach it, and that alignment's edits.
type alignState struct {
	segment int
	pos     []int32 // item, count, started (0 or 1), for each stream
	cost    int
	path    *edit
}

// alignSet is a set of alignStates, keeping the cheapest of each.
type alignSet struct {
	states []*alignState
	index  map[string]int
	key    []byte
}

func newAlignSet() *alignSet {
	return &alignSet{index: make(map[string]int)}
}

// add adds st, or replaces the same state in the set if st is cheaper.
func (set *alignSet) add(st *alignState) {
	set.key = binary.LittleEndian.AppendUint32(set.key[:0], uint32(st.segment))
	for _, v := range st.pos {
		set.key = binary.LittleEndian.AppendUint32(set.key, uint32(v))
	}
	if i, ok := set.index[string(set.key)]; ok {
		if st.cost < set.states[i].cost {
			set.states[i] = st
		}
		return
	}
	set.index[string(set.key)] = len(set.states)
	set.states = append(set.states, st)
}

// align returns the end state of the cheapest alignment of actual with
// g that it finds, or nil.
func (g *Golden) align(actual []string) *alignState {
	layer := []*alignState{{pos: make([]int32, 3*g.maxStreams)}}
	for _, line := range actual {
		layer = prune(g.alignStep(layer, line))
		if len(layer) == 0 {
			return nil
		}
	}
	var best *alignState
	bestCost := 0
	for _, st := range layer {
		cost := st.cost + g.shortfall(st.segment, st.pos)
		if best == nil || cost < bestCost {
			best, bestCost = st, cost
		}
	}
	return best
}

// prune drops the states costing more than the cheapest by alignSlack,
// and keeps the cheapest alignMaxStates of the rest, in their order.
func prune(states []*alignState) []*alignState {
	if len(states) == 0 {
		return nil
	}
	cheapest := states[0].cost
	for _, st := range states {
		cheapest = min(cheapest, st.cost)
	}
	kept := states[:0]
	for _, st := range states {
		if st.cost <= cheapest+alignSlack {
			kept = append(kept, st)
		}
	}
	if len(kept) > alignMaxStates {
		sort.SliceStable(kept, func(a, b int) bool { return kept[a].cost < kept[b].cost })
		kept = kept[:alignMaxStates]
	}
	return kept
}

// alignStep returns the states reached from layer by placing line:
// taken by an item, possibly after leaving earlier items short, or
// written as a new line; in the current segment or, after finishing
// it, a later one.
func (g *Golden) alignStep(layer []*alignState, line string) []*alignState {
	set := newAlignSet()
	for _, from := range layer {
		if g.takeFree(set, from, line) {
			// Like a diff following a run of common lines, an alignment
			// that can keep a message on an existing line for free is
			// not also tried with the message written out.
			continue
		}
		st := from
		for extra := 0; extra <= alignSlack; {
			if st.segment == len(g.segments) {
				// After the last item, before any closing comments.
				set.add(st.inserted(insertion{msg: line, anchor: len(g.items) - 1, after: true, stream: -1}, extra+costInsertPlain, -1))
				break
			}
			seg := &g.segments[st.segment]
			for k := range seg.streams {
				g.take(set, st, k, line, extra, false)
			}
			g.insertions(set, st, seg, line, extra)
			extra += g.finishCost(st)
			st = st.nextSegment()
		}
	}
	return set.states
}

// takeFree adds to set the states in which an item takes line without
// any edit, as the matcher would, and reports whether there were any.
// Starting an optional stream does not count as free: leaving the
// stream absent may be cheaper in the end.
func (g *Golden) takeFree(set *alignSet, st *alignState, line string) bool {
	found := false
	for st.segment < len(g.segments) {
		seg := &g.segments[st.segment]
		for k := range seg.streams {
			if !seg.streams[k].optional || st.pos[3*k+2] == 1 {
				found = g.take(set, st, k, line, 0, true) || found
			}
		}
		if g.finishCost(st) > 0 {
			break
		}
		st = st.nextSegment()
	}
	return found
}

// finishCost returns the cost of leaving short the items of st's
// segment that still require messages.
func (g *Golden) finishCost(st *alignState) int {
	return g.shortfall(st.segment, st.pos) - g.shortfall(st.segment+1, nil)
}

// nextSegment returns st moved on to the start of the next segment.
func (st *alignState) nextSegment() *alignState {
	return &alignState{segment: st.segment + 1, pos: make([]int32, len(st.pos)), cost: st.cost, path: st.path}
}

// take adds to set the states in which stream k's current item or a
// later one takes line, the items before it left short at a cost, or,
// if free, only those that need no edits. It reports whether there
// were any.
func (g *Golden) take(set *alignSet, st *alignState, k int, line string, extra int, free bool) bool {
	found := false
	str := &g.segments[st.segment].streams[k]
	started := int32(0) // ordered segments need no flag; leaving it clear avoids duplicate states
	if g.segments[st.segment].block {
		started = 1
	}
	i, c := int(st.pos[3*k]), int(st.pos[3*k+1])
	for ; i < len(str.items) && extra <= alignSlack; i, c = i+1, 0 {
		it := &g.items[str.items[i]]
		if it.matches(line) {
			switch q := it.quant; {
			case q.unbounded() || c < q.max:
				set.add(st.with(k, i, countAfter(q, c), started, extra, &edit{item: str.items[i]}))
				found = true
			case q.max > 1 && !free:
				// A repeated item taking more than it allows: charge
				// once, for the change to its quantifier.
				cost := extra
				if c == q.max {
					cost += costLong
				}
				set.add(st.with(k, i, c+1, started, cost, &edit{item: str.items[i]}))
				found = true
			}
		}
		if c < it.quant.min {
			if free {
				break
			}
			extra += costShort
		}
	}
	return found
}

// insertions adds to set the states reached from st by writing line as
// a new golden line.
func (g *Golden) insertions(set *alignSet, st *alignState, seg *segment, line string, extra int) {
	untouched := true
	for k := range seg.streams {
		untouched = untouched && st.pos[3*k+2] == 0 && st.pos[3*k] == 0 && st.pos[3*k+1] == 0
	}
	if seg.block && untouched {
		// Before the block, as an ordered line.
		set.add(st.inserted(insertion{msg: line, anchor: seg.first, stream: -1}, extra+costInsertPlain, -1))
	}
	for k := range seg.streams {
		str := &seg.streams[k]
		i, c := int(st.pos[3*k]), int(st.pos[3*k+1])
		at := st
		if c > 0 {
			// Between items, not within one that has taken messages.
			cost := 0
			if c < g.items[str.items[i]].quant.min {
				cost = costShort
			}
			i++
			at = st.with(k, i, 0, st.pos[3*k+2], cost, nil)
		}
		ins := insertion{msg: line, segment: st.segment, stream: k}
		if i == len(str.items) {
			ins.anchor, ins.after = str.items[i-1], true
		} else {
			ins.anchor = str.items[i]
		}
		if !seg.block {
			ins.stream = -1
			set.add(at.inserted(ins, extra+costInsertPlain, -1))
			continue
		}
		// A message amid an optional stream's messages is likely part
		// of the same work; joining the stream keeps it optional as a
		// whole instead of requiring the message when the work is absent.
		amidOptional := str.optional && at.pos[3*k+2] == 1 && i < len(str.items)
		cost := costInsertOther
		if amidOptional || g.looksLikeNeighbours(str, i, line) {
			cost = costInsertSimilar
		}
		set.add(at.inserted(ins, extra+cost, k))
	}
}

// with returns a copy of st with stream k at item i, count c, after an
// edit costing cost; e is the edit's record, or nil for none.
func (st *alignState) with(k, i, c int, started int32, cost int, e *edit) *alignState {
	next := &alignState{segment: st.segment, pos: append([]int32(nil), st.pos...), cost: st.cost + cost, path: st.path}
	next.pos[3*k], next.pos[3*k+1], next.pos[3*k+2] = int32(i), int32(c), started
	if e != nil {
		e.prev = st.path
		next.path = e
	}
	return next
}

// inserted returns st after inserting a message at a cost, which starts
// stream k unless k is negative.
func (st *alignState) inserted(ins insertion, cost, k int) *alignState {
	e := &edit{prev: st.path, item: -1, insert: ins}
	next := &alignState{segment: st.segment, pos: st.pos, cost: st.cost + cost, path: e}
	if k >= 0 && st.pos[3*k+2] == 0 {
		next.pos = append([]int32(nil), st.pos...)
		next.pos[3*k+2] = 1
	}
	return next
}

// looksLikeNeighbours reports whether line shares at least half of
// itself, at its start and end, with the items either side of position
// i in stream str, as "my_data->i = 3" does with "my_data->i = 2".
func (g *Golden) looksLikeNeighbours(str *stream, i int, line string) bool {
	for _, j := range []int{i - 1, i} {
		if j >= 0 && j < len(str.items) && 2*similarity(g.items[str.items[j]].msg, line) >= len(line) {
			return true
		}
	}
	return false
}

// shortfall returns the cost of leaving short every item of
// segments[s:] that still requires messages, with the streams of
// segment s at pos (nil for their start).
func (g *Golden) shortfall(s int, pos []int32) int {
	if pos == nil || s == len(g.segments) {
		return costShort * g.requiredFrom[s]
	}
	short := g.requiredFrom[s+1]
	for k, str := range g.segments[s].streams {
		i, c, started := int(pos[3*k]), int(pos[3*k+1]), pos[3*k+2]
		if i == len(str.items) || str.optional && started == 0 {
			continue
		}
		short += str.requiredFrom[i+1]
		if c < g.items[str.items[i]].quant.min {
			short++
		}
	}
	return costShort * short
}
