package guest

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
)

// A printkTrace follows the kernel's printk:console tracepoint in a trace
// instance of its own. It sees every printk when the kernel stores it,
// with the printing task's PID and comm (a message still waiting for its
// newline included), and it carries kmodcheck's step boundaries as
// trace_marker writes: barriers in the same stream that never reach the
// kernel log, so that the reader's dmesg shows none of kmodcheck's lines.
type printkTrace struct {
	dir    string // the instance's directory
	marker *os.File

	mu      sync.Mutex
	events  []printkEvent // console events not yet paired with a record
	marks   int           // markers seen
	changed chan struct{}
	err     error
}

// A printkEvent is one printk as the tracepoint saw it.
type printkEvent struct {
	pid  int
	task string // the full name where /proc/PID/comm has it
	text string // escaped as /dev/kmsg escapes it
	step int    // markers seen before it: the step that printed it
}

// TraceRoot is where tracefs is mounted; instanceName is kmodcheck's
// instance in it.
const (
	TraceRoot    = "/sys/kernel/tracing"
	instanceName = "kmodcheck"
)

// newPrintkTrace mounts tracefs if needed, makes kmodcheck's instance and
// enables printk:console in it. It fails on a kernel without tracefs or
// without the event; the agent then falls back to kernel-log markers.
func newPrintkTrace(instance string) (*printkTrace, error) {
	if _, err := os.Stat(filepath.Join(TraceRoot, "instances")); err != nil {
		if err := unix.Mount("nodev", TraceRoot, "tracefs", 0, ""); err != nil {
			return nil, fmt.Errorf("mount tracefs on %s: %w", TraceRoot, err)
		}
	}
	dir := filepath.Join(TraceRoot, "instances", instance)
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("trace instance: %w", err)
	}
	t := &printkTrace{dir: dir, changed: make(chan struct{})}
	if err := os.WriteFile(filepath.Join(dir, "events/printk/console/enable"), []byte("1"), 0); err != nil {
		t.Close()
		return nil, fmt.Errorf("enable printk:console: %w", err)
	}
	pipe, err := os.Open(filepath.Join(dir, "trace_pipe"))
	if err != nil {
		t.Close()
		return nil, err
	}
	if t.marker, err = os.OpenFile(filepath.Join(dir, "trace_marker"), os.O_WRONLY, 0); err != nil {
		pipe.Close()
		t.Close()
		return nil, err
	}
	go t.read(pipe)
	return t, nil
}

// Close removes the instance (on the host, where it outlives us).
func (t *printkTrace) Close() {
	os.WriteFile(filepath.Join(t.dir, "events/printk/console/enable"), []byte("0"), 0)
	if t.marker != nil {
		t.marker.Close()
	}
	os.Remove(t.dir)
}

// traceLine is one event of trace_pipe: "insmod-124 [000] d.... 7.59: console: init".
var traceLine = regexp.MustCompile(`^\s*(.*)-(\d+)\s+\[\d+\]\s+\S+\s+[\d.]+: (console|tracing_mark_write): (.*)$`)

// maxEvents bounds the events kept unpaired, as maxRecords the records.
const maxEvents = 100_000

// markerPrefix starts every marker kmodcheck writes.
const markerPrefix = "kmodcheck barrier "

func (t *printkTrace) read(pipe *os.File) {
	defer pipe.Close()
	sc := bufio.NewScanner(pipe)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	comms := map[int]string{} // full names, read once per PID
	last := -1                // the event a line without a header continues
	for sc.Scan() {
		m := traceLine.FindStringSubmatch(sc.Text())
		t.mu.Lock()
		switch {
		case m == nil && last >= 0 && last < len(t.events):
			// A message holding a newline spans lines of the trace.
			t.events[last].text += escapeKmsg("\n" + sc.Text())
		case m == nil:
		case m[3] == "tracing_mark_write":
			if strings.HasPrefix(m[4], markerPrefix) {
				t.marks++
			}
			last = -1
		default:
			pid, _ := strconv.Atoi(m[2])
			task, ok := comms[pid]
			if !ok {
				task = fullTaskName(pid, m[1])
				comms[pid] = task
			}
			if len(t.events) >= maxEvents { // a flood: its oldest go unattributed
				t.events = append(t.events[:0], t.events[maxEvents/10:]...)
			}
			t.events = append(t.events, printkEvent{pid: pid, task: task, text: escapeKmsg(m[4]), step: t.marks})
			last = len(t.events) - 1
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

// mark writes a barrier into the trace and waits until the reader has
// seen it: every printk stored before it has then been read. It returns
// the number of markers seen, the step whose events precede it.
func (t *printkTrace) mark(ctx context.Context, text string) (int, error) {
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
		select {
		case <-ch: // progress: a flood may take long, a stall may not
		case <-time.After(markStall):
			return 0, fmt.Errorf("trace marker %q not read back within %v", text, markStall)
		case <-ctx.Done():
			return 0, fmt.Errorf("wait for trace marker %q: %w", text, ctx.Err())
		}
	}
}

// attribute pairs a record with the events that made it: one printk, or
// several joined as continuations of one line. It returns the first
// event's task and step, and false when no event within a window fits (the
// trace lost it); events before a fit are dropped (their records were
// lost to the kernel's ring buffer). With no event unpaired, the trace
// may not have caught up yet: later is true, to try again.
func (t *printkTrace) attribute(text string) (ev printkEvent, ok, later bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.events) == 0 {
		return printkEvent{}, false, true
	}
	const window = 32
	for i := 0; i < len(t.events) && i < window; i++ {
		if !strings.HasPrefix(text, t.events[i].text) {
			continue
		}
		acc, j := t.events[i].text, i
		for acc != text && j+1 < len(t.events) && strings.HasPrefix(text, acc+t.events[j+1].text) && t.events[j+1].pid == t.events[i].pid {
			j++
			acc += t.events[j].text
		}
		if acc != text {
			continue
		}
		ev = t.events[i]
		t.events = append(t.events[:0], t.events[j+1:]...)
		return ev, true, false
	}
	return printkEvent{}, false, false
}

// dropBefore forgets the unpaired events printed before step: no record
// will take them now (their records were lost, or the trace garbled them).
func (t *printkTrace) dropBefore(step int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	i := 0
	for i < len(t.events) && t.events[i].step < step {
		i++
	}
	t.events = append(t.events[:0], t.events[i:]...)
}

// pending reports whether an event printed before step is still unpaired:
// a message waiting for its newline, which no record shows yet.
func (t *printkTrace) pending(step int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.events) > 0 && t.events[0].step < step
}
