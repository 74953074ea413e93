package guest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"

	"github.com/kmodcheck/kmodcheck/runner/kmsg"
)

// maxRecords bounds the records the agent keeps, so that a module flooding
// the log cannot exhaust the guest's memory. Older records go first; the
// host fetches records after every step, so only a flood within one step
// loses any, and the count lost is reported.
const maxRecords = 200_000

// kmsgReader follows /dev/kmsg and keeps what it read.
type kmsgReader struct {
	mu      sync.Mutex
	changed chan struct{} // closed and replaced whenever records arrive
	recs    []kmsg.Record
	dropped uint64 // records lost: overwritten in the kernel or over maxRecords
	err     error
}

func newKmsgReader() (*kmsgReader, error) {
	f, err := os.Open("/dev/kmsg")
	if err != nil {
		return nil, err
	}
	r := &kmsgReader{changed: make(chan struct{})}
	go r.loop(f)
	return r, nil
}

func (r *kmsgReader) loop(f *os.File) {
	buf := make([]byte, 8192) // one read returns exactly one record
	for {
		n, err := f.Read(buf)
		if errors.Is(err, syscall.EPIPE) {
			// The kernel overwrote records before we read them.
			r.mu.Lock()
			r.dropped++
			r.mu.Unlock()
			continue
		}
		if err != nil {
			r.mu.Lock()
			r.err = fmt.Errorf("read /dev/kmsg: %w", err)
			r.notifyLocked()
			r.mu.Unlock()
			return
		}
		rec, perr := kmsg.ParseRecord(string(bytes.TrimRight(buf[:n], "\n")))
		if perr != nil {
			continue
		}
		r.mu.Lock()
		if len(r.recs) >= maxRecords {
			drop := len(r.recs) - maxRecords + 1
			r.recs = append(r.recs[:0], r.recs[drop:]...)
			r.dropped += uint64(drop)
		}
		r.recs = append(r.recs, rec)
		r.notifyLocked()
		r.mu.Unlock()
	}
}

func (r *kmsgReader) notifyLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// since returns a copy of the records with Seq >= seq.
func (r *kmsgReader) since(seq uint64) ([]kmsg.Record, uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := len(r.recs)
	for i > 0 && r.recs[i-1].Seq >= seq {
		i--
	}
	return append([]kmsg.Record(nil), r.recs[i:]...), r.dropped
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
				r.mu.Unlock()
				return rec.Seq, nil
			}
		}
		ch, rerr := r.changed, r.err
		r.mu.Unlock()
		if rerr != nil {
			return 0, rerr
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return 0, fmt.Errorf("wait for kernel log marker %q: %w", text, ctx.Err())
		}
	}
}
