package local

import (
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/kmsg"
)

// The trace lines are 6.1's, from a module that printed in its init
// function, a tasklet, a timer_list timer and an hrtimer (the agent's
// "exe" was the task the timers interrupted).
func TestTraceContext(t *testing.T) {
	for _, c := range []struct {
		line, task, ctx string
		cpu             int
	}{
		{"          insmod-127     [000] dN...    18.442557: console: ctx: init", "insmod", "", 0},
		{"          insmod-127     [000] dNs..    18.445228: console: ctx: tasklet runs", "insmod", kmsg.Softirq, 0},
		{"             exe-117     [001] d.h1.    18.600850: console: ctx: hrtimer fires", "exe", kmsg.Hardirq, 1},
		{"             exe-117     [000] d.s1.    18.609154: console: ctx: timer fires", "exe", kmsg.Softirq, 0},
		{"          <idle>-0       [001] d.Z1.    19.000000: console: NMI backtrace", "<idle>", kmsg.NMI, 1},
		{"          <idle>-0       [001] dNH2.    19.000000: console: irq in softirq", "<idle>", kmsg.Hardirq, 1},
		{"     ksoftirqd/0-15      [000] b.s..    19.000000: console: ctx: tasklet runs", "ksoftirqd/0", kmsg.Softirq, 0},
	} {
		m := traceLine.FindStringSubmatch(c.line)
		if m == nil {
			t.Fatalf("%q: not a trace line", c.line)
		}
		if m[1] != c.task || m[3] != map[int]string{0: "000", 1: "001"}[c.cpu] {
			t.Errorf("%q: task %q CPU %q, want %q %d", c.line, m[1], m[3], c.task, c.cpu)
		}
		if got := traceContext(m[4]); got != c.ctx {
			t.Errorf("%q: context %q, want %q", c.line, got, c.ctx)
		}
	}
}

// A record printed in interrupt context is not the interrupted task's.
func TestLabelInterrupt(t *testing.T) {
	var rec kmsg.Record
	PrintkEvent{PID: 127, Task: "insmod", CPU: 1, Context: kmsg.Softirq}.Label(&rec)
	if rec.PID != 0 || rec.Task != "" || rec.ThreadLabel() != "softirq/1" {
		t.Errorf("softirq record: %+v, label %q", rec, rec.ThreadLabel())
	}
	rec = kmsg.Record{}
	PrintkEvent{PID: 127, Task: "insmod"}.Label(&rec)
	if rec.ThreadLabel() != "insmod[127]" {
		t.Errorf("task record: label %q", rec.ThreadLabel())
	}
}

// traceOf feeds trace_pipe lines to a PrintkTrace and waits until it has
// read them all.
func traceOf(t *testing.T, lines ...string) *PrintkTrace {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	tr := &PrintkTrace{changed: make(chan struct{})}
	go tr.read(r)
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	w.Close()
	for {
		tr.mu.Lock()
		done, ch := tr.err != nil, tr.changed
		tr.mu.Unlock()
		if done {
			return tr
		}
		<-ch
	}
}

// Two CPUs print at once: the trace has the second record's printk first.
// Pairing the first record must not lose the second's event.
func TestAttributeReordered(t *testing.T) {
	tr := traceOf(t,
		"  kthread example-130 [001] ..... 20.000001: console: thread execution",
		"  kworker/0:1-131     [000] ..... 20.000002: console: my_data->i = 3",
	)
	// The kernel log: the worker reserved its record first.
	for _, want := range []struct{ text, task string }{{"my_data->i = 3", "kworker"}, {"thread execution", "kthread example"}} {
		ev, ok := tr.Attribute(want.text)
		if !ok || ev.Task != want.task {
			t.Errorf("attribute %q: %+v, %v; want task %q", want.text, ev, ok, want.task)
		}
	}
}

// An event whose record the kernel's ring buffer lost is dropped once
// more later records have paired than CPUs could reorder.
func TestAttributeLostRecord(t *testing.T) {
	lines := []string{"  insmod-127 [000] ..... 20.000000: console: overwritten"}
	for i := range reorderWindow + 2 {
		lines = append(lines, fmt.Sprintf("  insmod-127 [000] ..... 20.%06d: console: line %d", i+1, i))
	}
	tr := traceOf(t, lines...)
	for i := range reorderWindow + 2 {
		if _, ok := tr.Attribute(fmt.Sprintf("line %d", i)); !ok {
			t.Fatalf("line %d not paired", i)
		}
	}
	if len(tr.events) != 0 {
		t.Errorf("events left unpaired: %+v", tr.events)
	}
}

// A message holding a newline reaches trace_pipe as several lines; when an
// earlier event pairs between its first line and the next, the next still
// continues it.
func TestTraceContinuationAfterPairing(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	tr := &PrintkTrace{changed: make(chan struct{})}
	go tr.read(r)
	// waitRead waits until the trace holds an event whose text is text.
	waitRead := func(text string) {
		t.Helper()
		for {
			tr.mu.Lock()
			ch, found := tr.changed, slices.ContainsFunc(tr.events, func(e PrintkEvent) bool { return e.Text == text })
			tr.mu.Unlock()
			if found {
				return
			}
			select {
			case <-ch:
			case <-time.After(10 * time.Second):
				t.Fatalf("the trace never held %q", text)
			}
		}
	}
	fmt.Fprintln(w, "  insmod-127 [000] ..... 20.000001: console: loaded")
	fmt.Fprintln(w, "  insmod-127 [000] ..... 20.000002: console: two")
	waitRead("two")
	if _, ok := tr.Attribute("loaded"); !ok {
		t.Fatal("loaded not paired")
	}
	fmt.Fprintln(w, "lines")
	waitRead(`two\x0alines`)
	if ev, ok := tr.Attribute(`two\x0alines`); !ok || ev.PID != 127 {
		t.Errorf("Attribute(two\\x0alines) = %+v, %v; events %+v", ev, ok, tr.events)
	}
}
