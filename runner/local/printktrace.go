package local

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kmodcheck/kmodcheck/runner/golden"
	"github.com/kmodcheck/kmodcheck/runner/kmsg"
)

// A PrintkTrace follows the kernel's printk:console tracepoint in a trace
// instance of its own. It sees every printk when the kernel stores it,
// with the printing task's PID and comm (a message still waiting for its
// newline included), and it carries kmodcheck's step boundaries as
// trace_marker writes: barriers in the same stream that never reach the
// kernel log, so that the reader's dmesg shows none of kmodcheck's lines.
//
// Where printk:console fires only when the console prints (5.10), the
// guest's /init adds StoreProbe, which sees each printk when it is stored
// as later kernels' printk:console does.
type PrintkTrace struct {
	dir    string // the instance's directory
	marker *os.File
	pipe   *os.File // trace_pipe, read by read

	mu      sync.Mutex
	events  []PrintkEvent  // console events not yet paired with a record, oldest first
	added   uint64         // events read so far: the next one's seq
	marks   int            // markers seen
	addedAt map[int]uint64 // events read when each marker was: the newest before it
	changed chan struct{}
	err     error
}

// A PrintkEvent is one printk as the tracepoint saw it.
type PrintkEvent struct {
	PID  int
	Task string // the full name where /proc/PID/comm has it
	Text string // escaped as /dev/kmsg escapes it
	Mark int    // markers seen before it: the step that printed it
	CPU  int
	Time time.Duration // the trace's clock, printk's: since boot
	// Context is kmsg.Softirq, kmsg.Hardirq or kmsg.NMI when the printk ran
	// in interrupt context (then PID and Task are the task it
	// interrupted), "" in task context.
	Context string
	passed  int    // later records paired while this one waited for its own
	seq     uint64 // its place in the trace: events[len-1] is the newest, if still unpaired
	probed  string // a StoreProbe event's text as traced so far, quotes and all
}

// Label gives rec the task or interrupt context that printed it. A record
// printed in interrupt context is not the interrupted task's: it gets the
// context and CPU, and no PID.
func (ev PrintkEvent) Label(rec *kmsg.Record) {
	rec.CPU = ev.CPU
	if ev.Context != "" {
		rec.Context = ev.Context
		return
	}
	rec.PID, rec.Task = ev.PID, ev.Task
}

// TraceRoot is where tracefs is mounted.
const TraceRoot = "/sys/kernel/tracing"

// NewPrintkTrace mounts tracefs if needed, makes kmodcheck's instance and
// enables printk:console in it. It fails on a kernel without tracefs or
// without the event, or without the right to trace.
func NewPrintkTrace(instance string) (*PrintkTrace, error) {
	if _, err := os.Stat(filepath.Join(TraceRoot, "instances")); err != nil {
		if err := unix.Mount("nodev", TraceRoot, "tracefs", 0, ""); err != nil {
			return nil, fmt.Errorf("mount tracefs on %s: %w", TraceRoot, err)
		}
	}
	dir := filepath.Join(TraceRoot, "instances", instance)
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("trace instance: %w", err)
	}
	t := &PrintkTrace{dir: dir, changed: make(chan struct{})}
	if err := os.WriteFile(filepath.Join(dir, "events/printk/console/enable"), []byte("1"), 0); err != nil {
		t.Close()
		return nil, fmt.Errorf("enable printk:console: %w", err)
	}
	// Non-blocking, so that Go's poller waits for it and Close interrupts
	// a read in progress: the instance cannot be removed while it is open.
	var err error
	if t.pipe, err = os.OpenFile(filepath.Join(dir, "trace_pipe"), os.O_RDONLY|unix.O_NONBLOCK, 0); err != nil {
		t.Close()
		return nil, err
	}
	if t.marker, err = os.OpenFile(filepath.Join(dir, "trace_marker"), os.O_WRONLY, 0); err != nil {
		t.Close()
		return nil, err
	}
	go t.read(t.pipe)
	return t, nil
}

// Close removes the instance (on the host, where it outlives us).
func (t *PrintkTrace) Close() {
	os.WriteFile(filepath.Join(t.dir, "events/printk/console/enable"), []byte("0"), 0)
	if t.marker != nil {
		t.marker.Close()
	}
	if t.pipe != nil {
		t.pipe.Close()
	}
	os.Remove(t.dir)
}

// traceLine is one event of trace_pipe: "insmod-124 [000] d.... 7.59:
// console: init": task, PID, CPU, the irq-info flags, the time, the event
// and its text.
var traceLine = regexp.MustCompile(`^\s*(.*)-(\d+)\s+\[(\d+)\]\s+(\S+)\s+([\d.]+): (console|tracing_mark_write|` + StoreProbe + `): (.*)$`)

// StoreProbe is the name of the return probe on vprintk_store that the
// guest's /init adds where printk formats each message into a static
// buffer (textbuf, 5.10) and printk:console fires only when the console
// prints: the probe's event carries that buffer's text, as the message's
// printk stored it, in the printing task and its context.
const StoreProbe = "printk_store"

// probedText is a StoreProbe event's message: the text between msg=" and
// the closing quote, without printk's level prefixes ("\x016", KERN_CONT's
// "\x01c") and its newline, which the kernel keeps out of the record.
func probedText(traced string) string {
	_, s, _ := strings.Cut(traced, `msg="`)
	s = strings.TrimSuffix(strings.TrimSuffix(s, `"`), "\n")
	for len(s) >= 2 && s[0] == '\x01' {
		s = s[2:]
	}
	return escapeKmsg(s)
}

// consoleTime reports whether an event's text is the console's line, its
// timestamp first: a kernel that traces printk at console time.
func consoleTime(text string) bool {
	_, ok := golden.CutTimestamp(text)
	return ok
}

// traceContext reads the context of an event from its flags, the
// irqs-off/need-resched/hardirq-softirq/... column ("d.s1."): the third
// character is 'z' or 'Z' in an NMI, 'h' or 'H' in a hard interrupt, 's'
// while a softirq is served (Documentation/trace/ftrace.rst), the same on
// 6.1 and 6.12. Anything else is task context.
func traceContext(flags string) string {
	if len(flags) < 3 {
		return ""
	}
	switch flags[2] {
	case 'z', 'Z':
		return kmsg.NMI
	case 'h', 'H':
		return kmsg.Hardirq
	case 's':
		return kmsg.Softirq
	}
	return ""
}

// maxEvents bounds the events kept unpaired, as maxRecords bounds records.
const maxEvents = 100_000

// traceStall is how long Mark waits for the trace to move at all.
const traceStall = 15 * time.Second

// markerPrefix starts every marker kmodcheck writes.
const markerPrefix = "kmodcheck barrier "

func (t *PrintkTrace) read(pipe *os.File) {
	sc := bufio.NewScanner(pipe)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	type thread struct {
		pid  int
		comm string
	}
	names := map[thread]string{} // full names: one read of /proc per thread, not per printk
	continued := false           // a line without a header continues the newest event
	storeTime := false           // printk:console fired at store time: StoreProbe's events are its twins
	for sc.Scan() {
		m := traceLine.FindStringSubmatch(sc.Text())
		t.mu.Lock()
		n := len(t.events)
		switch {
		case m == nil && continued && n > 0 && t.events[n-1].seq == t.added:
			// A message holding a newline spans lines of the trace.
			if ev := &t.events[n-1]; ev.probed != "" {
				ev.probed += "\n" + sc.Text()
				ev.Text = probedText(ev.probed)
			} else {
				ev.Text += escapeKmsg("\n" + sc.Text())
			}
		case m == nil:
		case m[6] == "tracing_mark_write":
			if strings.HasPrefix(m[7], markerPrefix) {
				t.marks++
				if t.addedAt == nil {
					t.addedAt = map[int]uint64{}
				}
				t.addedAt[t.marks] = t.added
			}
			continued = false
		case m[6] == "console" && consoleTime(m[7]):
			// 5.10 and older trace a record when the console prints it,
			// its timestamp in the text: in the task that flushes the
			// console, and only at a level the console shows. Such an
			// event names no printer, and pairs with no record.
			continued = false
		case m[6] == StoreProbe && storeTime:
			continued = false
		default:
			storeTime = storeTime || m[6] == "console"
			pid, _ := strconv.Atoi(m[2])
			task, ok := names[thread{pid, m[1]}]
			if !ok {
				task = fullTaskName(pid, m[1])
				names[thread{pid, m[1]}] = task
			}
			if n >= maxEvents { // a flood: its oldest go unattributed
				t.events = t.events[maxEvents/10:]
			}
			cpu, _ := strconv.Atoi(m[3])
			sec, _ := strconv.ParseFloat(m[5], 64)
			t.added++
			ev := PrintkEvent{PID: pid, Task: task, Text: escapeKmsg(m[7]), Mark: t.marks,
				CPU: cpu, Time: time.Duration(sec * float64(time.Second)), Context: traceContext(m[4]), seq: t.added}
			if m[6] == StoreProbe {
				ev.probed = m[7]
				ev.Text = probedText(ev.probed)
			}
			t.events = append(t.events, ev)
			continued = true
		}
		close(t.changed)
		t.changed = make(chan struct{})
		t.mu.Unlock()
	}
	t.mu.Lock()
	t.err = fmt.Errorf("read trace_pipe: %v", sc.Err())
	close(t.changed)
	t.changed = make(chan struct{})
	t.mu.Unlock()
}

// fullTaskName is the name of the task that printed: the trace's comm is
// cut to 15 characters (or "<...>" when the trace forgot it), while a
// kthread's /proc/PID/comm holds its full name as long as it lives.
// kworkers are one name whatever their number and workqueue: which worker
// runs a work item is the kernel's choice, not the module's.
func fullTaskName(pid int, comm string) string {
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil {
		if name := strings.TrimSuffix(string(b), "\n"); strings.HasPrefix(name, strings.TrimSuffix(comm, "<...>")) || comm == "<...>" {
			comm = name
		}
	}
	return NormalizeTask(comm)
}

// NormalizeTask maps every kworker's name ("kworker/0:1", "kworker/u4:2-events")
// to "kworker".
func NormalizeTask(name string) string {
	if strings.HasPrefix(name, "kworker/") {
		return "kworker"
	}
	return name
}

// escapeKmsg escapes text as /dev/kmsg does: control bytes, bytes from
// 127 on, and the backslash as \xNN.
func escapeKmsg(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c >= 127 || c == '\\' {
			fmt.Fprintf(&b, "\\x%02x", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Mark writes a barrier into the trace and waits until the reader has
// seen it: every printk stored before it has then been read. It returns
// the number of markers seen, the step whose events precede it.
func (t *PrintkTrace) Mark(ctx context.Context, text string) (int, error) {
	t.mu.Lock()
	want := t.marks + 1
	t.mu.Unlock()
	if _, err := t.marker.WriteString(markerPrefix + text); err != nil {
		return 0, fmt.Errorf("write trace marker: %w", err)
	}
	for {
		t.mu.Lock()
		marks, ch, err := t.marks, t.changed, t.err
		t.mu.Unlock()
		if marks >= want {
			return marks, nil
		}
		if err != nil {
			return 0, err
		}
		if err := awaitProgress(ctx, ch, traceStall, fmt.Sprintf("trace marker %q", text)); err != nil {
			return 0, err
		}
	}
}

// Attribute pairs a record with the events that made it: one printk, or
// several joined as continuations of one line. It returns the first
// event's task and step, and false when no event fits yet: the event may
// still be on its way (the record was read after the last barrier) or be
// lost, which only the caller can tell. Events may come in another order
// than their records (printks on two CPUs, an interrupt's printk inside
// another), so a fit is looked for among the first few events, and an
// event passed over by many fits is dropped: its record was lost to the
// kernel's ring buffer.
func (t *PrintkTrace) Attribute(text string) (PrintkEvent, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := 0; i < len(t.events) && i < 2*reorderWindow; i++ {
		j, ok := t.fit(i, text)
		if !ok {
			continue
		}
		ev := t.events[i]
		// The events before i stay, but for those passed over too often
		// (their records were lost), moved up to just before j+1: a flood
		// leaves a long queue behind, and copying it for every record
		// paired made reading a million records take minutes.
		w := j + 1
		for k := i - 1; k >= 0; k-- {
			if e := t.events[k]; e.passed < reorderWindow {
				e.passed++
				w--
				t.events[w] = e
			}
		}
		t.events = t.events[w:]
		return ev, true
	}
	return PrintkEvent{}, false
}

// reorderWindow is how many later records may pair before an event's own
// record comes: more than the CPUs printing at once, or interrupts nested.
const reorderWindow = 32

// fit returns the last of the events from i on whose texts, joined as one
// task's continuations, make text.
func (t *PrintkTrace) fit(i int, text string) (int, bool) {
	if !strings.HasPrefix(text, t.events[i].Text) {
		return 0, false
	}
	acc, j := t.events[i].Text, i
	for acc != text && j+1 < len(t.events) && strings.HasPrefix(text, acc+t.events[j+1].Text) && t.events[j+1].PID == t.events[i].PID {
		j++
		acc += t.events[j].Text
	}
	return j, acc == text
}

// DropBefore forgets the unpaired events printed before step: no record
// will take them now (their records were lost, or the trace garbled them).
func (t *PrintkTrace) DropBefore(step int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	i := 0
	for i < len(t.events) && t.events[i].Mark < step {
		i++
	}
	t.events = t.events[i:]
	for m := range t.addedAt {
		if m < step {
			delete(t.addedAt, m)
		}
	}
}

// Waiting returns the pieces of the message that waits for its newline at
// marker step: the newest printk before the marker, when no record took
// it, with the continuations of the same task that it ends (pr_info("a"),
// pr_cont("b")). The kernel's readers see such a message only once a
// later printk completes it; an unpaired event that is not the newest
// lost its record instead.
func (t *PrintkTrace) Waiting(step int) ([]PrintkEvent, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	newest, ok := t.addedAt[step]
	i := len(t.events) - 1
	for i >= 0 && t.events[i].Mark >= step {
		i--
	}
	if !ok || i < 0 || t.events[i].seq != newest {
		return nil, false
	}
	j := i
	for j > 0 && t.events[j-1].seq == t.events[j].seq-1 && t.events[j-1].PID == t.events[i].PID && t.events[j-1].Context == t.events[i].Context {
		j--
	}
	return append([]PrintkEvent(nil), t.events[j:i+1]...), true
}
