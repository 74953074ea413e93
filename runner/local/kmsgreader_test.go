package local

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kmodcheck/kmodcheck/runner/kmsg"
)

// A flood fills the reader: what goes is the middle of the step in
// progress, in chunks; its first keepHead records and its latest stay.
func TestDropMiddle(t *testing.T) {
	r := &kmsgReader{}
	for i := uint64(1); i <= maxRecords; i++ {
		r.recs = append(r.recs, kmsg.Record{Seq: i})
	}
	r.protect = 5_000 // the step in progress starts at 5,001
	r.dropMiddle()
	if r.dropped != dropChunk || len(r.recs) != maxRecords-dropChunk {
		t.Fatalf("dropped %d, kept %d; want %d and %d", r.dropped, len(r.recs), dropChunk, maxRecords-dropChunk)
	}
	// Kept: everything before the step, the step's first keepHead, the latest.
	if r.recs[5_000+keepHead-1].Seq != 5_000+keepHead || r.recs[5_000+keepHead].Seq != 5_000+keepHead+dropChunk+1 {
		t.Fatalf("dropped the wrong records: around the cut %d, %d", r.recs[5_000+keepHead-1].Seq, r.recs[5_000+keepHead].Seq)
	}
	if r.recs[len(r.recs)-1].Seq != maxRecords {
		t.Fatal("dropped the latest record")
	}
}

// A step that started late, after many records of earlier steps: the
// oldest go, and the step's own records all stay.
func TestDropMiddleLateStep(t *testing.T) {
	r := &kmsgReader{}
	for i := uint64(1); i <= maxRecords; i++ {
		r.recs = append(r.recs, kmsg.Record{Seq: i})
	}
	r.protect = maxRecords - 2*keepHead
	r.dropMiddle()
	if r.dropped != dropChunk || r.recs[0].Seq != dropChunk+1 || r.recs[len(r.recs)-1].Seq != maxRecords {
		t.Fatalf("dropped %d, kept %d to %d; want the oldest %d dropped", r.dropped, r.recs[0].Seq, r.recs[len(r.recs)-1].Seq, dropChunk)
	}
}

// A reader hands its sink what it has read as soon as it has read it (the
// guest's sink is the host's kernel.log), with no timer of its own, and
// leaves nothing running once closed: the host target opens a reader per
// case, in a process that lives on.
func TestKmsgReaderSinkAndClose(t *testing.T) {
	if _, err := os.Stat("/dev/kmsg"); err != nil {
		t.Skipf("no kernel log to read: %v", err)
	}
	before := runtime.NumGoroutine()
	sink, err := os.Create(filepath.Join(t.TempDir(), "kernel.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	r, err := newKmsgReader(sink)
	if err != nil {
		t.Skipf("cannot read the kernel log here: %v", err)
	}
	defer r.close() // at once, if the test ends early; a second close waits for the first
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := r.sync(ctx); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	var want []byte
	for _, rec := range r.recs {
		want = AppendDmesgLine(want, rec)
	}
	dropped := r.dropped
	r.mu.Unlock()
	if len(want) == 0 || dropped != 0 {
		t.Skipf("the kernel log had %d bytes of records, %d lost: nothing to compare", len(want), dropped)
	}
	// The kernel may log more after the sync: the sink starts with what it had.
	got, err := os.ReadFile(sink.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(got, want) {
		t.Errorf("the sink does not have the records read once the reader has read them:\n%s", cmp.Diff(string(want), string(got)))
	}
	r.close()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines before the reader, %d after it closed:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		runtime.Gosched()
	}
}

func TestAppendDmesgLine(t *testing.T) {
	got := string(AppendDmesgLine(nil, kmsg.Record{Time: 835*time.Second + 288192*time.Microsecond, Text: "Inside kthread_init function"}))
	if want := "[  835.288192] Inside kthread_init function\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// A record read after a step's barrier may have its printk's event still
// on the way: it waits (and starts the next step) instead of going
// unattributed, and the next barrier pairs it. A record read before the
// barrier without an event lost it.
func TestAttributePending(t *testing.T) {
	r := &kmsgReader{recs: []kmsg.Record{{Seq: 10, Text: "lost"}, {Seq: 11, Text: "Queue the work"}, {Seq: 12, Text: "thread execution"}, {Seq: 13, Text: "my_data->i = 0"}}}
	events := map[string]PrintkEvent{
		"Queue the work": {PID: 125, Task: "insmod", Mark: 4},
		"my_data->i = 0": {PID: 127, Task: "kworker", Mark: 5}, // read before the kthread's
	}
	who := func(text string) (PrintkEvent, bool) {
		ev, ok := events[text]
		delete(events, text)
		return ev, ok
	}
	r.attribute(who, 11) // step 4's barrier was written when record 10 had been read
	if !r.pending() {
		t.Fatal("record 12 does not wait for its event")
	}
	if got := r.boundary(10, 5); got != 12 {
		t.Errorf("step 4 ends before record %d, want 12", got)
	}
	events["thread execution"] = PrintkEvent{PID: 126, Task: "kthread example", Mark: 5}
	r.attribute(who, 14)
	if r.pending() {
		t.Error("records still wait after the next barrier")
	}
	var got []string
	for _, rec := range r.recs {
		got = append(got, rec.ThreadLabel())
	}
	if want := []string{"", "insmod[125]", "kthread example[126]", "kworker[127]"}; !cmp.Equal(got, want) {
		t.Errorf("threads %q, want %q", got, want)
	}
}

// BenchmarkKmsgFlood keeps a million records of one step, as a module
// flooding the log makes the agent read them: in batches, with the
// middle dropped once maxRecords are kept.
func BenchmarkKmsgFlood(b *testing.B) {
	batch := make([]kmsg.Record, 4096)
	for b.Loop() {
		r := &kmsgReader{changed: make(chan struct{})}
		for seq := uint64(0); seq < 1_000_000; seq += uint64(len(batch)) {
			for i := range batch {
				batch[i] = kmsg.Record{Seq: seq + uint64(i) + 1, Text: "flood line"}
			}
			r.add(batch, 0)
		}
	}
}

// A message waiting for its newline is its step's record from the trace;
// when a later printk completes it in the log, the log's record is not
// kept a second time (the next step would have it), and it takes the
// log's time and level. The system log's wait skips it until then.
func TestProvideWaiting(t *testing.T) {
	var sink strings.Builder
	r := &kmsgReader{changed: make(chan struct{}), sink: bufio.NewWriter(&sink)}
	r.add([]kmsg.Record{{Seq: 7, Level: 6, Text: "Inside kthread exit function"}}, 0)
	if r.provide(kmsg.Record{Seq: 7, Text: "too early"}, 3) {
		t.Fatal("provide took the sequence number of a record read")
	}
	if !r.provide(kmsg.Record{Seq: 8, Text: "Destroyed kthread and worker", PID: 130, Task: "rmmod"}, 3) {
		t.Fatal("provide refused the waiting message")
	}
	if got, _ := r.lastWhere(func(kmsg.Record) bool { return true }); got.Seq != 7 {
		t.Errorf("lastWhere = record %d: the waiting message is in no reader's log yet", got.Seq)
	}
	if got := r.boundary(8, 4); got != 9 {
		t.Errorf("step 3 ends before record %d, want 9", got)
	}
	r.add([]kmsg.Record{{Seq: 8, Level: 6, Time: 5 * time.Second, Text: "Destroyed kthread and worker"}, {Seq: 9, Level: 6, Text: "next"}}, 0)
	recs, _ := r.since(8)
	if len(recs) != 2 || recs[0].Waiting || recs[0].Time != 5*time.Second || recs[0].Task != "rmmod" || recs[1].Text != "next" {
		t.Errorf("records from 8: %+v", recs)
	}
	if want := "Destroyed kthread and worker"; strings.Count(sink.String(), want) != 1 {
		t.Errorf("kernel log:\n%s\nwant %q once", sink.String(), want)
	}
}

// The first record a case reads, when no printk of the case's made it, is
// the end of a message that waited for its newline before the case (the
// case before's last, on the host target), completed by the case's first
// printk: no step's. A later record without an event lost it, and stays.
func TestLeftoverBeforeCase(t *testing.T) {
	r := &kmsgReader{changed: make(chan struct{})}
	r.add([]kmsg.Record{{Seq: 7, Text: "the case before's"}}, 0)
	r.setFirst(8)
	r.add([]kmsg.Record{{Seq: 8, Text: "Destroyed kthread and worker"}, {Seq: 9, Text: "insmod's"}, {Seq: 10, Text: "lost"}}, 0)
	who := func(text string) (PrintkEvent, bool) { return PrintkEvent{PID: 5, Task: "insmod"}, text == "insmod's" }
	r.attribute(who, 11)
	var got []uint64
	recs, _ := r.since(7)
	for _, rec := range recs {
		got = append(got, rec.Seq)
	}
	if want := []uint64{7, 9, 10}; !cmp.Equal(got, want) {
		t.Errorf("records from 7: %v, want %v", got, want)
	}
}
