package golden

import (
	"fmt"
	"slices"
	"strings"
)

// contextHeader explains, in a new golden, the labels of lines printed in
// interrupt context.
const contextHeader = "# [@softirq], [@hardirq], [@nmi]: lines printed in that interrupt context (timers, tasklets, handlers), whatever task it interrupted.\n"

// spineTasks are the processes a step runs to load and unload a module:
// the module's init and exit functions print from them.
var spineTasks = map[string]bool{"insmod": true, "rmmod": true, "modprobe": true}

// A Run is what one step printed in one run of its case, for writing a
// golden from it.
type Run struct {
	Lines []Line
	// Before is what the same run's previous kmsg took, if any: a thread
	// that was printing a line over and over when it ended, and had not
	// exited, may print it again, any number of times, at the start of
	// Lines.
	Before []Line
}

// NewRuns returns a golden file for a step that printed runs[i].Lines in
// the i-th of several runs of its case (one run is enough; more show what
// varies). It accepts every run, and what runs like them print:
//
//   - Each thread's lines are one stream, labelled with the thread's name,
//     `[kthread_init_work worker example]`: its lines keep their order,
//     threads interleave freely. A workqueue's workers are one thread.
//   - The lines of the step's own process (insmod, rmmod, modprobe) that
//     come before any other thread's are ordered lines, less the last if
//     there are several: it may race with the threads the process has
//     just started. Likewise those after every other thread's last line,
//     less the first, which may race with a thread being stopped. The rest
//     of its lines are its stream.
//   - A thread's consecutive repeats of a line become one line with {+}:
//     how many depends on timing.
//   - A thread that ended the previous kmsg repeating a line, or starts
//     this one with the line it ended it with, may print it any number of
//     times ({*}) before its other lines, from the very start: then no line
//     comes before the streams. Not a task that had exited by then (a
//     reader's cat, a thread that returned): it prints no more.
//   - Across runs: a line missing from some runs gets {?} ({*} if it
//     repeats), a thread missing from some runs is an optional stream
//     `[name?]`.
//
// When some line's thread is unknown, every line is an ordered line, with
// repeats and lines missing from some runs marked as above.
func NewRuns(runs []Run) []byte {
	return []byte(newHeader + generalise(runs))
}

// A genItem is a golden line being generalised from several runs.
type genItem struct {
	msg string
	// vary, if not nil, says which numbers of msg (see splitNumbers)
	// differ between runs: the golden has {N} for them.
	vary     []bool
	min, max int // how many times in a row it appeared, over the runs
}

// takes reports whether the item stands for a run's message.
func (it genItem) takes(msg string) bool {
	if it.vary == nil {
		return it.msg == msg
	}
	lits, nums := splitNumbers(it.msg)
	lits2, nums2 := splitNumbers(msg)
	if !slices.Equal(lits, lits2) {
		return false
	}
	for k := range nums {
		if !it.vary[k] && nums[k] != nums2[k] {
			return false
		}
	}
	return true
}

// line returns the item as a golden line.
func (it genItem) line(label string, optional bool) string {
	if it.vary == nil {
		return formatItem(label, optional, it.msg, it.quant())
	}
	lits, nums := splitNumbers(it.msg)
	var b strings.Builder
	for k, lit := range lits {
		b.WriteString(escapeTokens(lit))
		switch {
		case k == len(nums):
		case it.vary[k]:
			b.WriteString("{N}")
		default:
			b.WriteString(nums[k])
		}
	}
	return formatLine(label, optional, escapeLine(b.String()), it.quant())
}

// splitNumbers splits msg into its literal parts and its numbers (runs of
// digits): msg is lits[0] nums[0] lits[1] ... nums[n-1] lits[n].
func splitNumbers(msg string) (lits, nums []string) {
	start := 0
	for i := 0; i < len(msg); i++ {
		if msg[i] < '0' || msg[i] > '9' {
			continue
		}
		j := i
		for j < len(msg) && '0' <= msg[j] && msg[j] <= '9' {
			j++
		}
		lits, nums = append(lits, msg[start:i]), append(nums, msg[i:j])
		start, i = j, j-1
	}
	return append(lits, msg[start:]), nums
}

// varyWith returns which numbers vary once it also stands for msg, and
// whether it can: msg is it's message but for some numbers, none of them
// after a \ (which would escape its {N}).
func (it genItem) varyWith(msg string) ([]bool, bool) {
	lits, nums := splitNumbers(it.msg)
	lits2, nums2 := splitNumbers(msg)
	if len(nums) == 0 || !slices.Equal(lits, lits2) {
		return nil, false
	}
	vary := make([]bool, len(nums))
	for k := range nums {
		vary[k] = it.vary != nil && it.vary[k] || nums[k] != nums2[k]
		if vary[k] && strings.HasSuffix(lits[k], `\`) {
			return nil, false
		}
	}
	return vary, true
}

func (it genItem) quant() quant {
	switch {
	case it.max <= 1:
		return quant{it.min, 1}
	case it.min == 0:
		return quant{0, -1}
	}
	return quant{1, -1}
}

// A genStream is a thread's lines, generalised.
type genStream struct {
	name  string
	runs  int // how many runs it appeared in
	items []genItem
}

func generalise(runs []Run) string {
	known := true
	for _, run := range runs {
		for _, l := range run.Lines {
			known = known && l.Known()
		}
	}
	var prefix, suffix []genItem
	var streams []*genStream
	for r, run := range runs {
		if !known {
			prefix = mergeRun(prefix, collapse(texts(run.Lines)), r)
			continue
		}
		continuing := continuations(run)
		pre, block, post := splitSpine(run.Lines, len(continuing) > 0)
		prefix = mergeRun(prefix, collapse(texts(pre)), r)
		suffix = mergeRun(suffix, collapse(texts(post)), r)
		for _, th := range withContinuing(threadsOf(block), continuing) {
			streams = addThread(streams, th, r)
		}
	}
	var b strings.Builder
	if len(streams) > 0 {
		b.WriteString("# Each [label] is the thread of that name: its lines keep their order, threads interleave.\n")
	}
	if slices.ContainsFunc(streams, func(st *genStream) bool { return strings.HasPrefix(st.name, "@") }) {
		b.WriteString(contextHeader)
	}
	writeItems(&b, "", false, prefix)
	for _, st := range streams {
		writeItems(&b, st.name, st.runs < len(runs), st.items)
	}
	writeItems(&b, "", false, suffix)
	return b.String()
}

// withContinuing returns threads, each marked periodic if it is among
// continuing, followed by those of continuing not among them.
func withContinuing(threads, continuing []*thread) []*thread {
	for _, c := range continuing {
		found := false
		for _, th := range threads {
			if th.name == c.name {
				th.periodic, found = c.periodic, true
			}
		}
		if !found {
			threads = append(threads, c)
		}
	}
	return threads
}

// addThread merges the r-th run's lines of a thread into its stream,
// returning streams with the stream added if it is new.
func addThread(streams []*genStream, th *thread, r int) []*genStream {
	var st *genStream
	for _, s := range streams {
		if s.name == th.name {
			st = s
		}
	}
	if st == nil {
		st = &genStream{name: th.name}
		streams = append(streams, st)
	}
	reps := collapse(th.msgs)
	if th.periodic != "" && (len(reps) == 0 || reps[0].msg != th.periodic) {
		reps = append([]rep{{th.periodic, 0}}, reps...)
	}
	st.items = mergeRun(st.items, reps, min(r, st.runs))
	if th.periodic != "" {
		st.items[0].min, st.items[0].max = 0, max(st.items[0].max, 2) // {*}
	}
	st.runs++
	return streams
}

// continuations returns the threads, other than the step's own process,
// that may go on repeating in run.Lines the line they ended run.Before
// with (see NewRuns), each with that line as periodic and no messages.
func continuations(run Run) []*thread {
	var out []*thread
	now := threadsOf(run.Lines)
	for _, th := range threadsOf(run.Before) {
		if spineTasks[th.task] || th.exited {
			continue
		}
		reps := collapse(th.msgs)
		last := reps[len(reps)-1]
		again := false
		for _, n := range now {
			again = again || n.name == th.name && n.msgs[0] == last.msg
		}
		if last.n > 1 || again {
			out = append(out, &thread{name: th.name, task: th.task, periodic: last.msg})
		}
	}
	return out
}

func writeItems(b *strings.Builder, label string, optional bool, items []genItem) {
	for _, it := range items {
		b.WriteString(it.line(label, optional) + "\n")
	}
}

func texts(lines []Line) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l.Text
	}
	return out
}

// splitSpine splits a run into its ordered head and tail, the lines of
// the step's own process before and after every other thread's (see
// NewRuns), and the lines between. When a thread may continue from the
// previous kmsg, it may print from the start: there is no head. The tail
// is found the same way whether or not another thread printed in this
// run, so that runs where it did and runs where it did not agree on it.
func splitSpine(run []Line, continuing bool) (head, block, tail []Line) {
	p := 0
	for p < len(run) && spineTasks[run[p].Task] {
		p++
	}
	switch {
	case p == len(run) && !continuing:
		return run, nil, nil
	case continuing:
		p = 0
	case p > 1:
		p-- // the last may race with the threads it started
	}
	q := len(run)
	for q > p && spineTasks[run[q-1].Task] {
		q--
	}
	if len(run)-q > 1 {
		q++ // the first may race with a thread being stopped
	}
	return run[:p], run[p:q], run[q:]
}

// A thread is the messages one thread printed in a run, in order.
type thread struct {
	name     string
	task     string
	msgs     []string
	periodic string // the line it may go on repeating from the previous kmsg, if any
	exited   bool   // a task (not a workqueue's workers, not a context) that had exited
}

// threadsOf returns the threads of lines in order of their first line,
// named after their tasks: the second of two threads of one name is
// "name 2".
func threadsOf(lines []Line) []*thread {
	ids, first := threadIDs(lines, true)
	byID := make([]*thread, len(first))
	var out []*thread
	names := map[string]int{}
	for i, l := range lines {
		id := ids[i]
		if byID[id] == nil {
			name := labelName(first[id].Task)
			if first[id].Context != "" {
				name = "@" + first[id].Context // one stream per kind of interrupt context
			}
			names[name]++
			if n := names[name]; n > 1 {
				name = fmt.Sprintf("%s %d", name, n)
			}
			byID[id] = &thread{name: name, task: first[id].Task}
			out = append(out, byID[id])
		}
		byID[id].msgs = append(byID[id].msgs, l.Text)
		byID[id].exited = l.Exited && l.Context == "" && !isWorkqueueWorker(l.Task)
	}
	return out
}

// labelName returns a task's name as a label: characters a label may not
// hold become _.
func labelName(task string) string {
	name := []byte(strings.TrimSpace(task))
	for i, c := range name {
		if !labelChar(rune(c)) {
			name[i] = '_'
		}
	}
	if !validLabel(string(name)) {
		return "thread"
	}
	return string(name)
}

// A rep is a message and how many times in a row a thread printed it.
type rep struct {
	msg string
	n   int
}

func collapse(msgs []string) []rep {
	var out []rep
	for _, m := range msgs {
		if len(out) > 0 && out[len(out)-1].msg == m {
			out[len(out)-1].n++
			continue
		}
		out = append(out, rep{m, 1})
	}
	return out
}

// maxMergeCells bounds the table mergeRun fills in to align a run with
// the lines so far; beyond it, only their common ends are aligned.
const maxMergeCells = 1 << 22

// mergeRun returns items generalised to also accept run, the r-th run
// (counting from 0) of the stream: items and run are aligned on a
// longest common subsequence of messages; items the run lacks, and the
// run's messages the items lack (when r > 0), may be absent.
func mergeRun(items []genItem, run []rep, r int) []genItem {
	if r == 0 {
		out := make([]genItem, len(run))
		for i, x := range run {
			out[i] = genItem{msg: x.msg, min: x.n, max: x.n}
		}
		return out
	}
	pairs := commonSubsequence(items, run)
	var out []genItem
	i, j := 0, 0
	for _, p := range append(pairs, [2]int{len(items), len(run)}) {
		if p[0]-i == p[1]-j && sameNumbers(items[i:p[0]], run[j:p[1]]) {
			// The same lines with other numbers: a varying value.
			for ; i < p[0]; i, j = i+1, j+1 {
				it := items[i]
				it.vary, _ = it.varyWith(run[j].msg)
				it.min, it.max = min(it.min, run[j].n), max(it.max, run[j].n)
				out = append(out, it)
			}
		}
		for ; i < p[0]; i++ {
			it := items[i]
			it.min = 0
			out = append(out, it)
		}
		for ; j < p[1]; j++ {
			out = append(out, genItem{msg: run[j].msg, min: 0, max: run[j].n})
		}
		if p[0] < len(items) {
			it := items[i]
			it.min, it.max = min(it.min, run[j].n), max(it.max, run[j].n)
			out = append(out, it)
			i, j = i+1, j+1
		}
	}
	return out
}

// commonSubsequence returns the index pairs of a longest common
// subsequence of the messages of items and run.
func commonSubsequence(items []genItem, run []rep) [][2]int {
	// The common ends first: they are most of it when runs are alike.
	var head, tail [][2]int
	lo := 0
	for lo < len(items) && lo < len(run) && items[lo].takes(run[lo].msg) {
		head = append(head, [2]int{lo, lo})
		lo++
	}
	hiA, hiB := len(items), len(run)
	for hiA > lo && hiB > lo && items[hiA-1].takes(run[hiB-1].msg) {
		hiA, hiB = hiA-1, hiB-1
		tail = append([][2]int{{hiA, hiB}}, tail...)
	}
	n, m := hiA-lo, hiB-lo
	if n == 0 || m == 0 || (n+1)*(m+1) > maxMergeCells {
		return append(head, tail...)
	}
	// lcs[a][b] is the length of a longest common subsequence of
	// items[lo+a:hiA] and run[lo+b:hiB].
	lcs := make([][]int32, n+1)
	for a := range lcs {
		lcs[a] = make([]int32, m+1)
	}
	for a := n - 1; a >= 0; a-- {
		for b := m - 1; b >= 0; b-- {
			switch {
			case items[lo+a].takes(run[lo+b].msg):
				lcs[a][b] = lcs[a+1][b+1] + 1
			case lcs[a+1][b] >= lcs[a][b+1]:
				lcs[a][b] = lcs[a+1][b]
			default:
				lcs[a][b] = lcs[a][b+1]
			}
		}
	}
	mid := head
	for a, b := 0, 0; a < n && b < m; {
		switch {
		case items[lo+a].takes(run[lo+b].msg):
			mid = append(mid, [2]int{lo + a, lo + b})
			a, b = a+1, b+1
		case lcs[a+1][b] >= lcs[a][b+1]:
			a++
		default:
			b++
		}
	}
	return append(mid, tail...)
}

// UpdateRuns is [Golden.Update] for lines whose threads may be known,
// from one or more runs of the case. It returns g's text unchanged if g
// accepts every run; else g revised for the last run, as Update does, if
// that accepts every run; else g's leading comments (or New's header)
// followed by what NewRuns would write.
func (g *Golden) UpdateRuns(runs []Run) []byte {
	if g.acceptsAll(runs) {
		return g.data
	}
	// Lines the maintainer wrote without labels, which threads print
	// concurrently: label them as the runs show, then revise.
	if learnt := g.learnLabels(runs); learnt != nil {
		if lg, err := Parse(g.Path, learnt); err == nil {
			return lg.UpdateRuns(runs)
		}
	}
	if out := g.revise(texts(runs[len(runs)-1].Lines)); out != nil {
		if ng, err := Parse(g.Path, out); err == nil && ng.acceptsAll(runs) {
			return out
		}
	}
	return []byte(g.header() + generalise(runs))
}

func (g *Golden) acceptsAll(runs []Run) bool {
	for _, run := range runs {
		if !g.MatchLines(run.Lines).OK {
			return false
		}
	}
	return true
}

// sameNumbers reports whether items and run, as long as each other, are
// the same messages but for their numbers.
func sameNumbers(items []genItem, run []rep) bool {
	for i, it := range items {
		if _, ok := it.varyWith(run[i].msg); !ok {
			return false
		}
	}
	return len(items) > 0
}
