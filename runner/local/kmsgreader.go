package local

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kmodcheck/kmodcheck/runner/kmsg"
)

// maxRecords bounds the records a reader keeps, so that a module flooding
// the log cannot exhaust the machine's memory. When it is reached, records go
// from the middle of the step in progress: its first keepHead records (what
// started it) and its latest (how it ended, a fault) stay. The count lost is
// reported, and every record still reaches the sink (the guest's goes to the
// host's kernel.log).
const (
	maxRecords = 200_000
	keepHead   = 20_000
)

// kmsgReader follows /dev/kmsg and keeps what it read.
type kmsgReader struct {
	mu       sync.Mutex
	sink     *bufio.Writer // every record, in dmesg's format (the guest's: for the host's kernel.log)
	protect  uint64        // the last marker's sequence number: the step in progress starts after it
	changed  chan struct{} // closed and replaced whenever records arrive
	recs     []kmsg.Record
	dropped  uint64 // records lost: overwritten in the kernel or over maxRecords
	err      error
	tried    uint64       // attribute has tried the records before this one
	waiting  *kmsg.Record // the last record, from the trace, until the log has it (provide)
	first    uint64       // the first record the case may own (setFirst)
	hasFirst bool
	leftover bool            // the record at first is a message that waited for its newline before the case
	stepOf   map[uint64]int  // the step that printed a record, by sequence number
	wake     int             // a write makes the loop read /dev/kmsg to its end
	synced   []chan struct{} // closed once the loop has read to the end
	closing  bool            // the loop ends at its next wake
	stopped  chan struct{}   // closed when the loop has ended
}

func newKmsgReader(sink io.Writer) (*kmsgReader, error) {
	fd, err := unix.Open("/dev/kmsg", unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/kmsg: %w", err)
	}
	var wake [2]int // raw: an *os.File's finalizer would close it under the loop
	if err := unix.Pipe2(wake[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return nil, fmt.Errorf("wake pipe: %w", err)
	}
	r := &kmsgReader{changed: make(chan struct{}), wake: wake[1], stopped: make(chan struct{})}
	if sink != nil {
		r.sink = bufio.NewWriterSize(sink, 256<<10)
	}
	go r.loop(fd, wake[0])
	return r, nil
}

// sync waits until the reader has read every record the kernel had
// finalized when it was called.
func (r *kmsgReader) sync(ctx context.Context) error {
	done := make(chan struct{})
	r.mu.Lock()
	r.synced = append(r.synced, done)
	r.mu.Unlock()
	if _, err := unix.Write(r.wake, []byte{0}); err != nil && err != unix.EAGAIN {
		return fmt.Errorf("wake the kernel log reader: %w", err)
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("read the kernel log to its end: %w", ctx.Err())
	}
}

// close stops the loop and closes its files: the host target opens a
// reader per case, in a process that lives on.
func (r *kmsgReader) close() {
	r.mu.Lock()
	again := r.closing
	r.closing = true
	r.mu.Unlock()
	if again {
		<-r.stopped
		return
	}
	unix.Write(r.wake, []byte{0})
	<-r.stopped
	unix.Close(r.wake)
}

// loop reads records as they come, in batches: one read returns one record,
// and a flooding module writes them faster than a lock per record allows.
func (r *kmsgReader) loop(fd, wake int) {
	defer close(r.stopped)
	defer unix.Close(fd)
	defer unix.Close(wake)
	buf := make([]byte, 8192)
	var batch []kmsg.Record
	var lost uint64
	for {
		n, err := unix.Read(fd, buf)
		switch {
		case err == unix.EPIPE:
			lost++ // the kernel overwrote records before we read them
			continue
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			r.add(batch, lost)
			batch, lost = batch[:0], 0
			r.mu.Lock()
			for _, ch := range r.synced { // read to the end, as they asked
				close(ch)
			}
			r.synced = nil
			closing := r.closing
			r.mu.Unlock()
			if closing {
				return
			}
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(wake), Events: unix.POLLIN}}
			unix.Poll(fds, -1)
			if fds[1].Revents != 0 {
				unix.Read(wake, buf[:64])
			}
			continue
		case err != nil:
			r.add(batch, lost)
			r.mu.Lock()
			r.err = fmt.Errorf("read /dev/kmsg: %w", err)
			r.notifyLocked()
			r.mu.Unlock()
			return
		}
		rec, perr := kmsg.ParseRecord(string(bytes.TrimRight(buf[:n], "\n")))
		if perr == nil {
			batch = append(batch, rec)
		}
		if len(batch) >= 4096 {
			r.add(batch, lost)
			batch, lost = batch[:0], 0
		}
	}
}

// add keeps a batch of records, passes them on to the sink and wakes
// whoever waits for them. The loop adds a batch whenever it has read to
// the end of the log, and every 4096 records of a flood: the sink gets
// each record at once, and an idle guest has no timer of kmodcheck's
// waking it (a ticker here cost the idle VM 150 wake-ups a second).
func (r *kmsgReader) add(batch []kmsg.Record, lost uint64) {
	if len(batch) == 0 && lost == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dropped += lost
	var line []byte
	for _, rec := range batch {
		if r.sink != nil {
			line = AppendDmesgLine(line[:0], rec)
			r.sink.Write(line)
		}
		if r.completes(rec) {
			continue
		}
		if len(r.recs) >= maxRecords {
			r.dropMiddle()
		}
		r.recs = append(r.recs, rec)
	}
	if r.sink != nil {
		r.sink.Flush()
	}
	r.notifyLocked()
}

// provide adds rec, a message waiting for its newline that the trace
// showed (kmsg.Record.Waiting), as the record step printed: the kernel's
// readers get it only once a later printk completes it, and kmodcheck
// writes nothing into the log to hurry that, so that the reader's dmesg
// shows what theirs would. rec's Seq is the record's to be. It reports
// false when a record came since the log was read to its end: rec may be
// it, and the log's record will be paired instead.
func (r *kmsgReader) provide(rec kmsg.Record, step int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := len(r.recs); n > 0 && r.recs[n-1].Seq >= rec.Seq {
		return false
	}
	rec.Waiting = true
	r.recs = append(r.recs, rec)
	r.waiting = &rec
	if r.stepOf == nil {
		r.stepOf = map[uint64]int{}
	}
	r.stepOf[rec.Seq] = step
	return true
}

// completes reports whether rec, read from the log, is the waiting
// record provide added: then that record takes rec's time and level (and
// a continuation's text) and rec is not kept again, as its step had it.
// The first record read after provide is the waiting one's or follows it.
func (r *kmsgReader) completes(rec kmsg.Record) bool {
	w := r.waiting
	if w == nil {
		return false
	}
	r.waiting = nil
	if !strings.HasPrefix(rec.Text, w.Text) {
		return false // its record was lost, or was never one
	}
	if i := len(r.recs) - 1; i >= 0 && r.recs[i].Seq == w.Seq && r.recs[i].Waiting {
		r.recs[i].Level, r.recs[i].Facility, r.recs[i].Time, r.recs[i].Text = rec.Level, rec.Facility, rec.Time, rec.Text
		r.recs[i].Waiting = false
	}
	return true
}

// AppendDmesgLine appends a record formatted as dmesg does: [    5.123456] text.
func AppendDmesgLine(b []byte, rec kmsg.Record) []byte {
	sec := int64(rec.Time / time.Second)
	usec := int64(rec.Time % time.Second / time.Microsecond)
	b = append(b, '[')
	for w := len(strconv.FormatInt(sec, 10)); w < 5; w++ {
		b = append(b, ' ')
	}
	b = strconv.AppendInt(b, sec, 10)
	b = append(b, '.')
	u := strconv.FormatInt(usec, 10)
	for w := len(u); w < 6; w++ {
		b = append(b, '0')
	}
	b = append(b, u...)
	b = append(b, "] "...)
	b = append(b, rec.Text...)
	return append(b, '\n')
}

// markStall is how long mark waits for the kernel log to move at all.
const markStall = 15 * time.Second

// dropMiddle makes room for records: dropChunk of them, from the middle
// of the step in progress if that leaves its first keepHead and at least
// keepHead latest, else the oldest.
func (r *kmsgReader) dropMiddle() {
	start := sort.Search(len(r.recs), func(i int) bool { return r.recs[i].Seq > r.protect })
	at := start + keepHead
	if len(r.recs)-at-dropChunk < keepHead {
		at = 0
	}
	n := min(dropChunk, len(r.recs)-at-1)
	r.recs = append(r.recs[:at], r.recs[at+n:]...)
	r.dropped += uint64(n)
}

// dropChunk is how many records dropMiddle drops at once: copying the
// records after the cut for every few dropped was most of what reading a
// million-line flood cost the agent under TCG.
const dropChunk = maxRecords / 4

func (r *kmsgReader) notifyLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// last is the sequence number of the last record read; 0 before any.
func (r *kmsgReader) last() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.recs) == 0 {
		return 0
	}
	return r.recs[len(r.recs)-1].Seq
}

// end is the sequence number after the last record read; 0 before any.
func (r *kmsgReader) end() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.recs) == 0 {
		return 0
	}
	return r.recs[len(r.recs)-1].Seq + 1
}

// lastWhere is the last record read that ok accepts.
func (r *kmsgReader) lastWhere(ok func(kmsg.Record) bool) (kmsg.Record, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.recs) - 1; i >= 0; i-- {
		if !r.recs[i].Waiting && ok(r.recs[i]) {
			return r.recs[i], true
		}
	}
	return kmsg.Record{}, false
}

// lostEvent is the step of a record whose printk the trace lost.
const lostEvent = -1

// attribute names the task of every record not paired before, with
// who(text), and keeps the step who says printed it. A record who has no
// event for is lost if it was read before the last barrier was written
// (proven: its printk would be in the trace), else pending: its event may
// follow the barrier, and the next call tries it again.
func (r *kmsgReader) attribute(who func(text string) (PrintkEvent, bool), proven uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stepOf == nil {
		r.stepOf = map[uint64]int{}
	}
	i := sort.Search(len(r.recs), func(i int) bool { return r.recs[i].Seq >= r.tried })
	settled := true // every record so far is paired or lost
	for ; i < len(r.recs); i++ {
		rec := &r.recs[i]
		if _, done := r.stepOf[rec.Seq]; !done {
			if ev, ok := who(rec.Text); ok {
				ev.Label(rec)
				r.stepOf[rec.Seq] = ev.Mark
			} else if rec.Seq < proven {
				r.stepOf[rec.Seq] = lostEvent
				r.leftover = r.leftover || r.hasFirst && rec.Seq == r.first
			} else {
				settled = false
			}
		}
		if settled {
			r.tried = rec.Seq + 1
		}
	}
}

// setFirst says where the case's records start: the record after the
// last the kernel had finalized. If that record then pairs with no
// event, its printk came before the case: a message that waited for its
// newline (the case before's last, on the host), which the case's first
// printk completed. It is no step's: since leaves it out.
func (r *kmsgReader) setFirst(seq uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.first, r.hasFirst, r.leftover = seq, true, false
}

// pending reports whether a record read waits for its printk's event.
func (r *kmsgReader) pending() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.recs) > 0 && r.tried <= r.recs[len(r.recs)-1].Seq
}

// boundary is the first record from seq on that a step from step on
// printed, as attribute found, or that waits for its event (it followed
// the barrier); without one, the record after the last read. Records
// whose event was lost go with the earlier step.
func (r *kmsgReader) boundary(seq uint64, step int) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	for s := range r.stepOf {
		if s < seq {
			delete(r.stepOf, s)
		}
	}
	i := sort.Search(len(r.recs), func(i int) bool { return r.recs[i].Seq >= seq })
	for ; i < len(r.recs); i++ {
		if st, ok := r.stepOf[r.recs[i].Seq]; !ok || st >= step {
			return r.recs[i].Seq
		}
	}
	if len(r.recs) == 0 {
		return seq
	}
	return max(seq, r.recs[len(r.recs)-1].Seq+1)
}

// since returns a copy of the records with Seq >= seq, but for one
// printed before the case (setFirst).
func (r *kmsgReader) since(seq uint64) ([]kmsg.Record, uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := len(r.recs)
	for i > 0 && r.recs[i-1].Seq >= seq {
		i--
	}
	recs := make([]kmsg.Record, 0, len(r.recs)-i)
	for _, rec := range r.recs[i:] {
		if !r.leftover || rec.Seq != r.first {
			recs = append(recs, rec)
		}
	}
	return recs, r.dropped
}

// mark writes a marker record and waits until the reader has seen it. Every
// record the kernel logged before the marker has then been read, and a
// message still waiting for its newline is flushed by the marker.
func (r *kmsgReader) mark(ctx context.Context, text string) (uint64, error) {
	r.mu.Lock()
	var before uint64
	if len(r.recs) > 0 {
		before = r.recs[len(r.recs)-1].Seq
	}
	r.mu.Unlock()
	f, err := os.OpenFile("/dev/kmsg", os.O_WRONLY, 0)
	if err != nil {
		return 0, err
	}
	// <14> is user.info: user facility, so filters can tell it from the kernel.
	_, err = f.WriteString("<14>" + text + "\n")
	f.Close()
	if err != nil {
		return 0, fmt.Errorf("write marker: %w", err)
	}
	for {
		r.mu.Lock()
		for i := len(r.recs) - 1; i >= 0 && r.recs[i].Seq > before; i-- {
			if rec := r.recs[i]; rec.Facility == 1 && rec.Text == text {
				r.protect = rec.Seq
				r.mu.Unlock()
				return rec.Seq, nil
			}
		}
		ch, rerr := r.changed, r.err
		r.mu.Unlock()
		if rerr != nil {
			return 0, rerr
		}
		if err := awaitProgress(ctx, ch, markStall, fmt.Sprintf("kernel log marker %q", text)); err != nil {
			return 0, err
		}
	}
}

// awaitProgress waits for changed, closed when a reader makes progress
// towards what (a marker read back): a flood may take long, a stall may
// not.
func awaitProgress(ctx context.Context, changed <-chan struct{}, stall time.Duration, what string) error {
	select {
	case <-changed:
		return nil
	case <-time.After(stall):
		return fmt.Errorf("%s not read back within %v", what, stall)
	case <-ctx.Done():
		return fmt.Errorf("wait for %s: %w", what, ctx.Err())
	}
}
