package golden

import "strings"

// learnLabels returns g, a golden the maintainer wrote without labels,
// with the labels runs show: each line that some thread (or interrupt
// context) alone printed in every run gets that thread's label, as
// NewRuns names it, unless a fresh golden would keep it ordered (the
// step's own process before or after everyone else). The lines keep their
// text, order and comments: a thread's lines keep the order the file gives
// them, and threads interleave. A line a thread repeats a varying number
// of times takes the fresh golden's quantifier, and the thread's copies of
// it that follow (with only other threads' lines between) fold into it.
// It returns nil if g has a label already, a run's threads are unknown, or
// no line would get a label.
func (g *Golden) learnLabels(runs []Run) []byte {
	if !g.unlabelled() || !threadsKnown(runs) {
		return nil
	}
	fresh, err := Parse(g.Path, []byte(generalise(runs)))
	if err != nil {
		return nil
	}
	labels := make([]string, len(g.items))
	found := false
	for i := range g.items {
		labels[i] = g.learnt(&g.items[i], runs, fresh)
		found = found || labels[i] != ""
	}
	if !found {
		return nil
	}
	var b strings.Builder
	last := map[string]int{} // each label's last item written
	for _, l := range g.lines {
		if l.item < 0 {
			b.WriteString(l.raw + "\n")
			continue
		}
		it, label := &g.items[l.item], labels[l.item]
		if label == "" {
			clear(last) // an ordered line ends the block
			b.WriteString(l.raw + "\n")
			continue
		}
		q := it.quant
		if f := fresh.streamItem(label, it); f != nil && f.quant.unbounded() && !q.unbounded() {
			q = quant{min(q.min, f.quant.min), -1}
		}
		if prev, ok := last[label]; ok && q.unbounded() && g.items[prev].msg == it.msg {
			continue // folded into the thread's previous copy
		}
		last[label] = l.item
		b.WriteString(formatLine(label, false, it.head, q) + "\n")
	}
	return []byte(b.String())
}

// Labelled reports whether some line of g has a label: a thread's or a
// context's.
func (g *Golden) Labelled() bool {
	for _, it := range g.items {
		if it.label != "" {
			return true
		}
	}
	return false
}

func (g *Golden) unlabelled() bool {
	for _, it := range g.items {
		if it.label != "" {
			return false
		}
	}
	return len(g.items) > 0
}

func threadsKnown(runs []Run) bool {
	for _, run := range runs {
		for _, l := range run.Lines {
			if !l.Known() {
				return false
			}
		}
	}
	return len(runs) > 0
}

// learnt returns the label of the one thread that printed, in every run,
// every line it takes, or "" if several did, none did, or a fresh golden
// keeps the line ordered.
func (g *Golden) learnt(it *item, runs []Run, fresh *Golden) string {
	name := ""
	for _, run := range runs {
		for _, th := range threadsOf(run.Lines) {
			for _, msg := range th.msgs {
				if !it.matches(msg) {
					continue
				}
				if name != "" && name != th.name {
					return ""
				}
				name = th.name
			}
		}
	}
	if name == "" || fresh.streamItem("", it) != nil {
		return ""
	}
	return name
}

// streamItem returns the first item of the stream labelled label (""
// for ordered items) that takes it's message, or nil.
func (g *Golden) streamItem(label string, it *item) *item {
	for i := range g.items {
		f := &g.items[i]
		if f.label == label && (f.matches(it.msg) || it.matches(f.msg)) {
			return f
		}
	}
	return nil
}

// PlainLines returns how many lines g has when every one is a plain
// message, as a terminal showed it: no label, no quantifier, no varying
// token. ok is false for any other golden, and for an empty one.
func (g *Golden) PlainLines() (n int, ok bool) {
	for _, it := range g.items {
		if it.label != "" || it.quant != once || it.re != nil {
			return 0, false
		}
	}
	return len(g.items), len(g.items) > 0
}
