package local

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kmodcheck/kmodcheck/runner/kmsg"
)

func TestDropMiddle(t *testing.T) {
	r := &kmsgReader{}
	for i := uint64(1); i <= 30_000; i++ {
		r.recs = append(r.recs, kmsg.Record{Seq: i})
	}
	r.protect = 5_000 // the step in progress starts at 5,001
	r.dropMiddle()
	if r.dropped != 1000 || len(r.recs) != 29_000 {
		t.Fatalf("dropped %d, kept %d; want 1000 and 29000", r.dropped, len(r.recs))
	}
	// Kept: everything before the step, the step's first keepHead, the latest.
	if r.recs[5_000+keepHead-1].Seq != 5_000+keepHead || r.recs[5_000+keepHead].Seq != 5_000+keepHead+1001 {
		t.Fatalf("dropped the wrong records: around the cut %d, %d", r.recs[5_000+keepHead-1].Seq, r.recs[5_000+keepHead].Seq)
	}
	if r.recs[len(r.recs)-1].Seq != 30_000 {
		t.Fatal("dropped the latest record")
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
