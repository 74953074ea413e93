package golden

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Threads of the kthread tutorial, as the printk:console tracepoint
// names them.
var (
	insmod = Line{PID: 124, Task: "insmod"}
	kthr   = Line{PID: 125, Task: "kthread_init_work thread example"}
	worker = Line{PID: 126, Task: "kthread_init_work worker example"}
)

// threadOf says who prints each message of kthreadGolden.
func threadOf(msg string) Line {
	switch msg {
	case "Inside kthread_init function", "Created kthread":
		return insmod
	case "Initializing kthread work", "Created kthread worker", "Queue the work to worker", "thread execution":
		return kthr
	}
	return worker
}

// attribute returns msgs as printed by their threads, except that
// message at (if at >= 0) is printed by by.
func attribute(msgs []string, at int, by Line) []Line {
	lines := make([]Line, len(msgs))
	for i, msg := range msgs {
		l := threadOf(msg)
		if i == at {
			l = by
		}
		l.Text = msg
		lines[i] = l
	}
	return lines
}

func TestMatchLinesBindsLabelsToThreads(t *testing.T) {
	g := mustParse(t, "golden/kthread.kmsg", kthreadGolden)
	good := kthreadLines(0, 2)
	// 8 is "my_data->i = 1", 1 is "Created kthread", 7 "thread execution".
	tests := []struct {
		name     string
		lines    []Line
		mismatch string
		diff     string // part of the diff
	}{{
		name:  "every line by its thread",
		lines: attribute(good, -1, Line{}),
	}, {
		name:  "a line whose thread is unknown",
		lines: attribute(good, 8, Line{}),
	}, {
		name:     "a worker line printed by the kthread",
		lines:    attribute(good, 8, kthr),
		mismatch: `golden/kthread.kmsg:11: [worker] "my_data->i = 1" was printed by "kthread_init_work thread example" (pid 125), but [worker]'s lines come from "kthread_init_work worker example" (pid 126) (kernel line 9)`,
		diff:     "-[kthread_init_work worker example] my_data->i = 1\n+[kthread_init_work thread example] my_data->i = 1\n",
	}, {
		name:     "two labels printed by one thread",
		lines:    attribute(good, 1, kthr),
		mismatch: `golden/kthread.kmsg:4: [thread] "Initializing kthread work" was printed by "kthread_init_work thread example" (pid 125), whose lines are [init]'s: each label is a thread of its own (kernel line 3)`,
	}, {
		name:     "a worker line printed by a third thread",
		lines:    attribute(good, 8, Line{PID: 200, Task: "other"}),
		mismatch: `golden/kthread.kmsg:11: [worker] "my_data->i = 1" was printed by "other" (pid 200), but [worker]'s lines come from "kthread_init_work worker example" (pid 126) (kernel line 9)`,
	}}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			if m := g.Match(good); !m.OK {
				t.Fatalf("the text alone is rejected: %s", m.Mismatch)
			}
			m := g.MatchLines(test.lines)
			if m.OK != (test.mismatch == "") || m.OK != cmp.Equal(m.Want, m.Got) || m.OK != (m.Diff("x") == "") {
				t.Errorf("OK %v, Want == Got %v, Diff:\n%s", m.OK, cmp.Equal(m.Want, m.Got), m.Diff("x"))
			}
			if m.Mismatch != test.mismatch {
				t.Errorf("Mismatch:\n got %s\nwant %s", m.Mismatch, test.mismatch)
			}
			if d := m.Diff("x"); !strings.Contains(d, test.diff) {
				t.Errorf("Diff does not contain %q:\n%s", test.diff, d)
			}
		})
	}
}

// An ordered line may be printed by any thread, and binds none.
func TestMatchLinesBarrierAnyThread(t *testing.T) {
	g := mustParse(t, "x.kmsg", "[a] one\nmiddle\n[a] two\n[b] three\n")
	lines := []Line{
		{Text: "one", PID: 1, Task: "p"},
		{Text: "middle", PID: 3, Task: "r"},
		{Text: "two", PID: 2, Task: "q"}, // a new block: [a] binds afresh
		{Text: "three", PID: 1, Task: "p"},
	}
	if m := g.MatchLines(lines); !m.OK {
		t.Errorf("rejected: %s", m.Mismatch)
	}
}

// Work queued to a workqueue runs on any of the pool's workers, all
// named alike: their lines bind no label, so one label may take the
// lines of two workers, and two labels the lines of one.
func TestMatchLinesWorkqueueWorkers(t *testing.T) {
	g := mustParse(t, "x.kmsg", "[w] one\n[w] two\n[v] three\n[m] main\n")
	lines := []Line{
		{Text: "one", PID: 40, Task: "kworker"},
		{Text: "main", PID: 1, Task: "insmod"},
		{Text: "two", PID: 41, Task: "kworker"},
		{Text: "three", PID: 41, Task: "kworker"},
	}
	if m := g.MatchLines(lines); !m.OK {
		t.Errorf("rejected: %s", m.Mismatch)
	}
}

func BenchmarkMatchLines100k(b *testing.B) {
	for _, n := range []int{10, 50000} {
		g := mustParse(b, "bench.kmsg", benchGolden(n))
		actual := benchLog(n, 100000)
		lines := make([]Line, len(actual))
		for i, msg := range actual {
			lines[i] = threadOf(msg)
			lines[i].Text = msg
		}
		b.Run(fmt.Sprintf("values=%d", n), func(b *testing.B) {
			if m := g.MatchLines(lines); !m.OK {
				b.Fatalf("%d lines rejected: %s", len(actual), m.Mismatch)
			}
			for b.Loop() {
				g.MatchLines(lines)
			}
		})
	}
}
