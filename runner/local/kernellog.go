package local

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/kmodcheck/kmodcheck/runner/kmsg"
)

// A KernelLog is this kernel's log as a case's steps see it: /dev/kmsg
// read as it comes, each record given the task that printed it where the
// kernel has a printk trace (Trace), and where each step's records end.
//
// With the trace, a step ends with a barrier in the trace, which never
// reaches the kernel log: the records stored before it are the step's,
// and a message still waiting for its newline, which the kernel's readers
// do not see until a later printk completes it, is taken from the trace.
// Without the trace, a step ends with a marker in the kernel log if
// MarkSteps (the guest's own kernel), else with whatever was read when it
// ended (the host's, whose log a reader's dmesg shows).
type KernelLog struct {
	// MarkSteps, without a trace, ends each step with a marker in the
	// kernel log: it flushes a message still waiting for its newline and
	// proves that everything before it has been read.
	MarkSteps bool

	reader *kmsgReader
	trace  *PrintkTrace // printk:console, or nil: records keep PID 0
	marks  int          // trace barriers seen
	next   uint64       // the first record of the next step
}

// OpenKernelLog starts reading /dev/kmsg. Sink, if not nil, gets every
// record in dmesg's format.
func OpenKernelLog(sink io.Writer) (*KernelLog, error) {
	r, err := newKmsgReader(sink)
	if err != nil {
		return nil, err
	}
	return &KernelLog{reader: r}, nil
}

// Trace attributes records to tasks from a printk trace in an instance of
// the given name. Without it (on a kernel without tracefs or the event, or
// without the right to trace) the log still works, unattributed.
func (l *KernelLog) Trace(instance string) error {
	t, err := NewPrintkTrace(instance)
	if err != nil {
		return err
	}
	l.trace = t
	return nil
}

// Close stops reading and removes the trace instance.
func (l *KernelLog) Close() {
	if l.trace != nil {
		l.trace.Close()
	}
	l.reader.close()
}

// Start sets the first step's start: the records logged so far are not
// the case's. It returns the first step's first sequence number.
func (l *KernelLog) Start(ctx context.Context) (uint64, error) {
	switch {
	case l.trace != nil:
		// The events so far are of printks whose records the sync below
		// reads, none of them a step's: the boot's, and those from before
		// the trace began (the guest's /init enables the event before a
		// state is saved).
		marks, err := l.trace.Mark(ctx, "agent starts")
		if err != nil {
			return 0, err
		}
		l.trace.DropBefore(marks)
		if err := l.reader.sync(ctx); err != nil {
			return 0, err
		}
		l.next = l.reader.last() + 1
		l.reader.attribute(func(string) (PrintkEvent, bool) { return PrintkEvent{}, false }, l.next)
		l.reader.setFirst(l.next)
		l.marks, err = l.trace.Mark(ctx, "agent ready")
		return l.next, err
	case l.MarkSteps:
		seq, err := l.reader.mark(ctx, "kmodcheck: agent ready")
		if err != nil {
			return 0, err
		}
		l.next = seq + 1
		return l.next, nil
	}
	end, err := l.End(ctx)
	l.next = end
	return end, err
}

// End reads the log to its end and returns the sequence number after the
// last record; 0 before any.
func (l *KernelLog) End(ctx context.Context) (uint64, error) {
	err := l.reader.sync(ctx)
	return l.reader.end(), err
}

// Last is the sequence number of the last record read; 0 before any.
func (l *KernelLog) Last() uint64 { return l.reader.last() }

// LastWhere is the last record read that ok accepts.
func (l *KernelLog) LastWhere(ok func(kmsg.Record) bool) (kmsg.Record, bool) {
	return l.reader.lastWhere(ok)
}

// StepEnd ends step n, whose line was line, and returns its records (from
// the end of the step before) and the count of records lost so far to a
// flood. Without the trace and MarkSteps, a message still waiting for its
// newline goes with the next record anyone prints, as the reader's dmesg
// reads it. On an error it returns every record since the step before.
func (l *KernelLog) StepEnd(ctx context.Context, n int, line string) ([]kmsg.Record, uint64, error) {
	var end uint64
	var err error
	switch {
	case l.trace != nil:
		end, err = l.traceEnd(ctx, n)
	case l.MarkSteps:
		if end, err = l.reader.mark(ctx, l.stepMarker(n, line)); end != 0 {
			end++ // the marker is no step's
		}
	default:
		end, err = l.End(ctx)
	}
	var recs []kmsg.Record
	all, dropped := l.reader.since(l.next)
	for _, r := range all {
		if end != 0 && r.Seq >= end {
			break
		}
		if !isStepMarker(r) {
			recs = append(recs, r)
		}
	}
	if end != 0 {
		l.next = end
	}
	return recs, dropped, err
}

// traceEnd finds where the step's records end, with a trace barrier: the
// records the kernel stored before it are the step's. It returns the first
// sequence number after them. A message still waiting for its newline
// shows in the trace but in no record: the step gets it from the trace
// (kmsgReader.provide), and the kernel log is left to complete it when
// the next printk comes, as on the reader's machine.
func (l *KernelLog) traceEnd(ctx context.Context, n int) (uint64, error) {
	marks, err := l.barrier(ctx, fmt.Sprintf("step %d done", n))
	if err != nil {
		return 0, err
	}
	for range 3 {
		evs, ok := l.trace.Waiting(marks)
		if !ok || l.reader.provide(waitingRecord(evs, l.reader.end()), evs[0].Mark) {
			break
		}
		// The log had a record since the barrier, which completed the
		// message: one more barrier pairs it.
		if marks, err = l.barrier(ctx, fmt.Sprintf("step %d done, again", n)); err != nil {
			return 0, err
		}
	}
	l.trace.DropBefore(marks)
	return l.reader.boundary(l.next, marks), nil
}

// waitingRecord is the record the events of a message waiting for its
// newline make: its text, its task or context, the time of its first piece.
func waitingRecord(evs []PrintkEvent, seq uint64) kmsg.Record {
	rec := kmsg.Record{Seq: seq, Time: evs[0].Time}
	for _, ev := range evs {
		rec.Text += ev.Text
	}
	evs[0].Label(&rec)
	return rec
}

// barrier writes a trace marker, reads the kernel log to its end and
// pairs the records with the trace's events. It returns the markers seen.
func (l *KernelLog) barrier(ctx context.Context, text string) (int, error) {
	proven := l.reader.end() // read before the marker: their events precede it
	marks, err := l.trace.Mark(ctx, text)
	if err != nil {
		return 0, err
	}
	l.marks = marks
	if err := l.reader.sync(ctx); err != nil {
		return 0, err
	}
	l.reader.attribute(l.trace.Attribute, proven)
	return marks, nil
}

// Since returns the records from seq on that the kernel has logged so far,
// attributed, and the count of records lost so far to a flood.
func (l *KernelLog) Since(ctx context.Context, seq uint64) ([]kmsg.Record, uint64) {
	if l.trace != nil { // attribute what came since the last step
		_, err := l.barrier(ctx, "log")
		if err == nil && l.reader.pending() { // printed after the barrier: one more proves them
			l.barrier(ctx, "log, again")
		}
	} else {
		l.reader.sync(ctx)
	}
	recs, dropped := l.reader.since(seq)
	markExited(recs)
	return recs, dropped
}

// markExited marks the last record of each task that has exited by now
// (a reader's cat, a kernel thread that returned): it prints no more, and
// a golden -update writes must not let it go on (golden.Run.Before). Its
// earlier records stay unmarked: it printed again after them. One mark
// per task, not per record: a flood of a million lines from a task that
// ended costs one lookup and one field, not a million. A record in
// interrupt context is never marked.
func markExited(recs []kmsg.Record) {
	looked := map[int]bool{}
	last := 0
	for i := len(recs) - 1; i >= 0; i-- {
		pid := recs[i].PID
		if pid == 0 || pid == last || recs[i].Context != "" || looked[pid] {
			continue
		}
		last, looked[pid] = pid, true
		recs[i].Exited = !alive(pid)
	}
}

// stepMarker is the kernel log line that ends step n, line: it names the
// step, so that the console log reads as a transcript.
func (l *KernelLog) stepMarker(n int, line string) string {
	return fmt.Sprintf("kmodcheck: step %d done: %s", n, oneLine(line))
}

// isStepMarker reports whether rec is a step's marker (user facility,
// which no kernel record has).
func isStepMarker(rec kmsg.Record) bool {
	return rec.Facility == 1 && strings.HasPrefix(rec.Text, "kmodcheck: step ")
}

// oneLine is line as a marker can hold it, to be read back as written:
// the kernel logs a byte outside printable ASCII, and a backslash, as
// \xNN.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r >= 127 || r == '\\' {
			return '?'
		}
		return r
	}, s)
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
