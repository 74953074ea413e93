package proto

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestConnRoundTrip: what one side sends the other receives, as sent, and a
// close between messages reads as io.EOF.
func TestConnRoundTrip(t *testing.T) {
	host, agent := net.Pipe()
	h, a := NewConn(host), NewConn(agent)
	want := Request{Op: OpRun, Line: "echo 'a\nb'", Env: []string{"X=1"}, TimeoutMs: 5}
	go func() {
		h.Send(want)
		host.Close()
	}()
	var got Request
	if err := a.Receive(&got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("received (-want +got):\n%s", diff)
	}
	if err := a.Receive(&got); !errors.Is(err, io.EOF) {
		t.Fatalf("after close: %v, want io.EOF", err)
	}
}

// lineWriter records each Write it is given.
type lineWriter struct {
	mu     sync.Mutex
	writes []string
}

func (w *lineWriter) Read([]byte) (int, error) { return 0, io.EOF }
func (w *lineWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = append(w.writes, string(b))
	return len(b), nil
}

// TestConnSendWhole: each message is one line in one Write, even from
// several goroutines at once (the host's Close sends OpPoweroff while a call
// may be under way).
func TestConnSendWhole(t *testing.T) {
	w := &lineWriter{}
	c := NewConn(w)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() { c.Send(Response{Stdout: bytes.Repeat([]byte("x"), 10_000)}) })
	}
	wg.Wait()
	if len(w.writes) != 20 {
		t.Fatalf("%d writes, want 20", len(w.writes))
	}
	for _, s := range w.writes {
		if strings.Count(s, "\n") != 1 || !strings.HasSuffix(s, "\n") {
			t.Fatalf("a write is not one line: %.60q", s)
		}
		var r Response
		if err := json.Unmarshal([]byte(s), &r); err != nil || len(r.Stdout) != 10_000 {
			t.Fatalf("a line does not decode whole: %v", err)
		}
	}
}

// TestSendRefusesInvalidUTF8: a Request whose line is not UTF-8 (Latin-1
// é, found by FuzzConn) would reach the agent with U+FFFD in its place, a
// command other than the case's; Send refuses it and names the field.
func TestSendRefusesInvalidUTF8(t *testing.T) {
	var buf bytes.Buffer
	c := NewConn(&buf)
	for _, req := range []Request{
		{Op: OpRun, Line: "printf 'caf\xe9\\n'"},
		{Op: OpRun, Line: "ls", Dir: "/tmp/w\xff"},
		{Op: OpRun, Line: "ls", Env: []string{"A=1", "B=\xac"}},
	} {
		err := c.Send(req)
		if err == nil {
			var got Request
			rerr := c.Receive(&got)
			t.Errorf("Send(%+v) sent it; received %+v (%v)", req, got, rerr)
			continue
		}
		if !strings.Contains(err.Error(), "not valid UTF-8") {
			t.Errorf("Send(%+v): %v; want an error saying it is not UTF-8", req, err)
		}
	}
	if buf.Len() != 0 {
		t.Errorf("Send wrote %q", buf.Bytes())
	}
	if err := c.Send(Request{Op: OpRun, Line: "printf 'café\\n'"}); err != nil {
		t.Errorf("valid UTF-8: %v", err)
	}
}
