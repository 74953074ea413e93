package golden

import (
	"fmt"
	"slices"
	"strings"
)

// A Line is a message to compare with a golden file: its text, filtered
// and normalised, and the thread that printed it, as far as the caller
// knows (kmsg.Lines makes them from kernel records).
type Line struct {
	Text string
	PID  int    // 0 if the target could not tell, or in interrupt context
	Task string // the thread's name, "" if unknown
	// Context is the interrupt context that printed the line (Softirq,
	// Hardirq, NMI) and CPU the CPU it ran on; "" in task context.
	Context string
	CPU     int
	// Exited: the task's last line, the task having exited when it was
	// read: it prints no more (see Run.Before).
	Exited bool
}

// Known reports whether the target told which thread, or which interrupt
// context, printed the line.
func (l Line) Known() bool { return l.PID != 0 || l.Context != "" }

// thread returns the line's thread as a reader names it, after "printed":
// by "kthread_init_work worker example" (pid 126), or in softirq context
// (CPU 0).
func (l Line) thread() string {
	if l.Context != "" {
		return fmt.Sprintf("in %s context (CPU %d)", l.Context, l.CPU)
	}
	return fmt.Sprintf("by %q (pid %d)", l.Task, l.PID)
}

// who names the line's thread or context in a diff: the task's name, or
// the context's label, @softirq.
func (l Line) who() string {
	if l.Context != "" {
		return "@" + l.Context
	}
	return l.Task
}

// isWorkqueueWorker reports whether a task is one of the kernel's
// shared workqueue workers. Work queued to a workqueue runs on whichever
// worker of the pool is free, and the target names them all alike: a
// worker's line binds no label in a match (two works may be two labels),
// and a new golden gives all of them one stream.
func isWorkqueueWorker(task string) bool {
	return strings.HasPrefix(task, "kworker")
}

// threadIDs numbers the threads of lines from 1 in order of appearance,
// 0 for a line whose thread is unknown, and returns, for each number,
// the first line that thread printed. A thread is a PID; a workqueue
// worker's line is 0, or if workers is set, every worker of one name is
// one thread. It returns nil IDs when no line's thread is known.
func threadIDs(lines []Line, workers bool) (ids []int32, first []Line) {
	first = []Line{{}}
	keys := []threadKey{{}}
	var index map[threadKey]int32 // once there are too many threads to search
	for i, l := range lines {
		worker := isWorkqueueWorker(l.Task)
		if !l.Known() || worker && !workers {
			continue
		}
		if ids == nil {
			ids = make([]int32, len(lines))
		}
		if i > 0 && ids[i-1] != 0 && l.PID == lines[i-1].PID && l.Task == lines[i-1].Task && l.Context == lines[i-1].Context {
			ids[i] = ids[i-1] // a thread's lines come in runs
			continue
		}
		key := threadKey{pid: l.PID}
		switch {
		case l.Context != "":
			key = threadKey{context: l.Context} // one "thread" per kind of context
		case worker:
			key = threadKey{task: l.Task}
		}
		id, ok := int32(0), false
		if index != nil {
			id, ok = index[key]
		} else if k := slices.Index(keys, key); k > 0 {
			id, ok = int32(k), true
		}
		if !ok {
			id = int32(len(first))
			first, keys = append(first, l), append(keys, key)
			if index == nil && len(keys) > smallSet {
				index = make(map[threadKey]int32)
				for k, key := range keys[1:] {
					index[key] = int32(k + 1)
				}
			} else if index != nil {
				index[key] = id
			}
		}
		ids[i] = id
	}
	return ids, first
}

// A threadKey is what tells threads apart: a PID, or for workqueue
// workers (PID 0 here) the name they share, or for lines printed in
// interrupt context, the kind of context.
type threadKey struct {
	pid     int
	task    string
	context string
}

// wrongThread sets result's mismatch, and its Want and Got with each
// line's thread, if state st cannot take actual[failed] only because its
// thread is not the one the golden binds; it reports whether it did.
// pending are st's pending items.
func (m *matcher) wrongThread(result *Match, st []int32, pending []int, failed int, ids []int32, threads []Line) bool {
	l := threads[ids[failed]]
	l.Text = result.Got[failed]
	msg := m.threadMismatch(st, l, ids[failed], threads)
	if msg == "" {
		return false
	}
	result.Mismatch = fmt.Sprintf("%s (kernel line %d)", msg, failed+1)
	wantIDs := append([]int32(nil), ids[:failed]...)
	for _, i := range pending {
		it := m.g.items[i]
		id := int32(0)
		if it.segment == int(st[0]) {
			id = st[1+streamWidth*it.stream+2]
		}
		wantIDs = append(wantIDs, id)
	}
	result.Want, result.Got = withThreads(result.Want, wantIDs, threads), withThreads(result.Got, ids, threads)
	return true
}

// threadMismatch explains why state st cannot take line, printed by
// thread, if a stream could take its text were it not bound to another
// thread: in the form
//
//	x.kmsg:7: [worker] "my_data->i = 3" was printed by "a" (pid 125), but [worker]'s lines come from "b" (pid 126)
//
// It returns "" if the thread is not why.
func (m *matcher) threadMismatch(st []int32, l Line, thread int32, threads []Line) string {
	g := m.g
	pos := st[1:]
	for s := int(st[0]); s < len(g.segments); s++ {
		if s != int(st[0]) {
			pos = m.zero
		}
		seg := &g.segments[s]
		for k := range seg.streams {
			str := &seg.streams[k]
			if _, ok := m.bindThread(seg, pos, k, thread); ok {
				continue
			}
			i, c := int(pos[streamWidth*k]), int(pos[streamWidth*k+1])
			for ; i < len(str.items); i, c = i+1, 0 {
				it := &g.items[str.items[i]]
				if it.matches(l.Text) && (it.quant.unbounded() || c < it.quant.max) {
					return m.describeBinding(seg, pos, k, it, l, thread, threads)
				}
				if c < it.quant.min {
					break
				}
			}
		}
		if !m.finished(seg, pos) {
			break
		}
	}
	return ""
}

func (m *matcher) describeBinding(seg *segment, pos []int32, k int, it *item, l Line, thread int32, threads []Line) string {
	label := seg.streams[k].label
	head := fmt.Sprintf("%s:%d: [%s] %q was printed %s", m.g.Path, it.line, label, l.Text, l.thread())
	if msg := contextMismatch(head, seg.streams[k], l); msg != "" {
		return msg
	}
	if bound := pos[streamWidth*k+2]; bound != 0 {
		return fmt.Sprintf("%s, but [%s]'s lines come from %s", head, label, strings.TrimPrefix(threads[bound].thread(), "by "))
	}
	for j := range seg.streams {
		if pos[streamWidth*j+2] == thread {
			return fmt.Sprintf("%s, whose lines are [%s]'s: each label is a thread of its own", head, seg.streams[j].label)
		}
	}
	return head
}

// withThreads returns lines with each line whose thread ids[i] is known
// prefixed by the thread's name in brackets.
func withThreads(lines []string, ids []int32, threads []Line) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l
		if ids[i] != 0 {
			out[i] = "[" + threads[ids[i]].who() + "] " + l
		}
	}
	return out
}
