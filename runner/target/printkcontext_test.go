package target

import (
	"testing"

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
