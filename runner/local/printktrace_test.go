package local

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

// TestPrintkTrace writes a record to this machine's kernel log and finds
// its task in the trace. It needs root and tracefs (the host target's
// case); elsewhere it is skipped, as the host target then attributes
// nothing.
func TestPrintkTrace(t *testing.T) {
	name := fmt.Sprintf("kmodcheck-test-%d", os.Getpid())
	tr, err := NewPrintkTrace(name)
	if err != nil {
		t.Skipf("no printk trace here: %v", err)
	}
	defer func() { // the host's tracing is left as it was
		tr.Close()
		if _, err := os.Stat(TraceRoot + "/instances/" + name); err == nil {
			t.Errorf("trace instance %s left behind", name)
		}
	}()
	text := fmt.Sprintf("kmodcheck: printk trace test %d", time.Now().UnixNano())
	if err := os.WriteFile("/dev/kmsg", []byte("<14>"+text+"\n"), 0); err != nil {
		t.Skipf("write /dev/kmsg: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := tr.Mark(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	comm, _ := os.ReadFile("/proc/self/comm")
	ev, ok := tr.Attribute(text)
	// The trace's PID is the writing thread's: one of this process's.
	if _, err := os.Stat(fmt.Sprintf("/proc/self/task/%d", ev.PID)); !ok || err != nil || ev.Task+"\n" != string(comm) {
		t.Fatalf("attribute %q: %+v, %v; want a thread of this process, %q", text, ev, ok, comm)
	}
}

func TestNormalizeTask(t *testing.T) {
	for in, want := range map[string]string{"kworker/0:1": "kworker", "kworker/u4:2-events_unbound": "kworker", "kthread example": "kthread example"} {
		if got := NormalizeTask(in); got != want {
			t.Errorf("NormalizeTask(%q) = %q, want %q", in, got, want)
		}
	}
}

// 5.10 traces a record when the console prints it, with the console's
// timestamp, in whichever task flushes the console: such an event names
// no printer and pairs with no record, so it is not kept; kept, it would
// stay pending and put a marker into the reader's log after the step.
// An event of a later kernel is kept, and pairs.
func TestPrintkTraceConsoleTime(t *testing.T) {
	tr := readTrace(t,
		"          insmod-120     [000] d...    10.108797: console: [   10.042583] hello: loading out-of-tree module taints kernel.",
		"          insmod-121     [001] .....    11.2: console: hello: loaded")
	if len(tr.events) != 1 {
		t.Errorf("events %+v: want only the later kernel's", tr.events)
	}
	if ev, ok := tr.Attribute("hello: loaded"); !ok || ev.PID != 121 {
		t.Errorf("Attribute(hello: loaded) = %+v, %v", ev, ok)
	}
	if evs, ok := tr.Waiting(1); ok {
		t.Errorf("a message waits for its newline: %+v", evs)
	}
}

// On 5.10 the guest's /init adds StoreProbe, a return probe on
// vprintk_store that reads the static buffer printk formatted the
// message into: level prefix and newline included, quoted, a line of the
// trace per line of the message. Its events pair as later kernels'
// printk:console events do; one without its record is a message waiting
// for its newline. (The lines are 5.10's, as a guest traced them.)
func TestPrintkTraceStoreProbe(t *testing.T) {
	tr := readTrace(t,
		`          insmod-120     [000] d...    14.891: printk_store: (vprintk_emit+0xf2/0x270 <- vprintk_store) msg="`+"\x01"+`6twothreads: starting`,
		`"`,
		`          insmod-120     [000] d...    14.893: console: [   14.891779] twothreads: starting`,
		`          <idle>-0       [001] d.s.    14.894: printk_store: (vprintk_emit+0xf2/0x270 <- vprintk_store) msg="`+"\x01"+`4timer: "fired"`,
		`"`,
		`          insmod-120     [000] d...    14.895: printk_store: (vprintk_emit+0xf2/0x270 <- vprintk_store) msg="`+"\x01"+`6two`,
		`lines`,
		`"`,
		`          insmod-120     [000] d...    14.896: printk_store: (vprintk_emit+0xf2/0x270 <- vprintk_store) msg="`+"\x01"+`6twothreads: both spoke"`,
		`            bash-112     [000] d...    14.897: tracing_mark_write: `+markerPrefix+`step 1 done`,
	)
	for _, want := range []struct {
		text    string
		pid     int
		context string
	}{
		{"twothreads: starting", 120, ""},
		{`timer: "fired"`, 0, "softirq"},
		{`two\x0alines`, 120, ""},
	} {
		if ev, ok := tr.Attribute(want.text); !ok || ev.PID != want.pid || ev.Context != want.context {
			t.Errorf("Attribute(%q) = %+v, %v; want PID %d, context %q", want.text, ev, ok, want.pid, want.context)
		}
	}
	if evs, ok := tr.Waiting(1); !ok || len(evs) != 1 || evs[0].Text != "twothreads: both spoke" || evs[0].PID != 120 {
		t.Errorf("Waiting(1) = %+v, %v; want the message without its newline (events %+v)", evs, ok, tr.events)
	}
}

// The message waiting for its newline at a marker is the newest printk
// before it that no record took, with the same task's continuations it
// ends; an older unpaired event lost its record, and a message completed
// by a later printk waits no more.
func TestPrintkTraceWaiting(t *testing.T) {
	const barrier = `            bash-9     [000] .....    20.0: tracing_mark_write: ` + markerPrefix + `step done`
	tr := readTrace(t,
		`          insmod-120     [000] .....    14.1: console: lost to a flood`,
		`          insmod-120     [000] .....    14.2: console: kept`,
		`           rmmod-130     [001] .....    15.1: console: Destroyed kthread`,
		`           rmmod-130     [001] .....    15.2: console:  and worker`,
		barrier,
		`           rmmod-130     [001] .....    21.0: console: after the barrier`,
	)
	if _, ok := tr.Attribute("kept"); !ok {
		t.Fatal("no event for kept")
	}
	evs, ok := tr.Waiting(1)
	if !ok || len(evs) != 2 || evs[0].Text+evs[1].Text != "Destroyed kthread and worker" || evs[0].Time != 15100*time.Millisecond {
		t.Errorf("Waiting(1) = %+v, %v; want the two pieces of rmmod's message", evs, ok)
	}
	tr = readTrace(t,
		`          insmod-120     [000] .....    14.1: console: no newline`,
		`          insmod-120     [000] .....    14.2: console: completed it`,
		barrier,
	)
	if _, ok := tr.Attribute("completed it"); !ok {
		t.Fatal("no event for completed it")
	}
	if evs, ok := tr.Waiting(1); ok {
		t.Errorf("Waiting(1) = %+v: the newest printk has its record", evs)
	}
}

// A kernel whose printk:console fires at store time needs no probe: had it
// one too, each printk would have two events, and the probe's, unpaired,
// would stay pending.
func TestPrintkTraceStoreProbeTwin(t *testing.T) {
	tr := readTrace(t,
		`          insmod-121     [001] .....    11.2: console: hello: loaded`,
		`          insmod-121     [001] d....    11.3: printk_store: (vprintk_emit+0xf2/0x270 <- vprintk_store) msg="`+"\x01"+`6hello: loaded`,
		`"`)
	if _, ok := tr.Attribute("hello: loaded"); !ok || len(tr.events) != 0 {
		t.Errorf("events left %+v: want the console event alone, paired", tr.events)
	}
}

// TestKernelLogStaleTrace: an instance enabled before the trace starts (as
// the guest's /init leaves it in a saved state) holds events of printks
// from before; they pair with no step's record, and the first step ends
// without a marker in the reader's kernel log, which a pending event
// would write.
func TestKernelLogStaleTrace(t *testing.T) {
	name := fmt.Sprintf("kmodcheck-test-stale-%d", os.Getpid())
	dir := TraceRoot + "/instances/" + name
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("no printk trace here: %v", err)
	}
	if err := os.WriteFile(dir+"/events/printk/console/enable", []byte("1"), 0); err != nil {
		os.Remove(dir)
		t.Skipf("no printk trace here: %v", err)
	}
	stale := fmt.Sprintf("kmodcheck: printk trace test, before the trace %d", time.Now().UnixNano())
	if err := os.WriteFile("/dev/kmsg", []byte("<14>"+stale+"\n"), 0); err != nil {
		os.Remove(dir)
		t.Skipf("write /dev/kmsg: %v", err)
	}
	l, err := OpenKernelLog(io.Discard)
	if err != nil {
		os.Remove(dir)
		t.Skipf("no kernel log here: %v", err)
	}
	defer l.Close()
	if err := l.Trace(name); err != nil {
		os.Remove(dir)
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start, err := l.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	line := fmt.Sprintf("stale trace test %d", time.Now().UnixNano())
	if _, _, err := l.StepEnd(ctx, 1, line); err != nil {
		t.Fatal(err)
	}
	recs, _ := l.Since(ctx, start)
	for _, r := range recs {
		if strings.Contains(r.Text, line) {
			t.Fatalf("the step's end wrote a marker into the kernel log: %q", r.Text)
		}
	}
}

// BenchmarkAttributeBacklog pairs records with events that a flood left
// queued (the trace read ahead of the kernel log): pairing must not cost
// the queue's length per record.
func BenchmarkAttributeBacklog(b *testing.B) {
	const n = 100_000
	for b.Loop() {
		tr := &PrintkTrace{events: make([]PrintkEvent, n)}
		for i := range tr.events {
			tr.events[i] = PrintkEvent{PID: 1, Task: "insmod", Text: "flood line"}
		}
		for range n {
			if _, ok := tr.Attribute("flood line"); !ok {
				b.Fatal("not paired")
			}
		}
	}
}

// readTrace is a PrintkTrace that has read lines, as trace_pipe gives them.
func readTrace(t *testing.T, lines ...string) *PrintkTrace {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for _, line := range lines {
			fmt.Fprintln(w, line)
		}
		w.Close()
	}()
	tr := &PrintkTrace{changed: make(chan struct{})}
	tr.read(r)
	return tr
}
