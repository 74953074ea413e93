package proto

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// rw is one side of a Conn over buffers: it reads in and writes out.
type rw struct {
	in  io.Reader
	out *bytes.Buffer
}

func (c rw) Read(p []byte) (int, error)  { return c.in.Read(p) }
func (c rw) Write(p []byte) (int, error) { return c.out.Write(p) }

// FuzzConn feeds a stream of bytes to Receive, as a Response and as a
// Request: no panic, and each message it decodes goes through Send and
// Receive unchanged. Then a Request built from the fuzzer's strings (a
// step's line, directory and environment, as a case file gives them) is
// sent and must arrive as it was, or Send must refuse it.
func FuzzConn(f *testing.F) {
	f.Add([]byte(`{"Exit":0,"Stdout":"aGVsbG8K","Records":[{"Seq":5,"Level":6,"Facility":0,"Time":1000,"Text":"Inside init","PID":231,"Task":"insmod"}],"Dropped":0,"Tainted":12288}`+"\n"+`{"Op":"run","Line":"insmod ./kthread.ko","Dir":"/tmp/w","TimeoutMs":60000}`+"\n"), "sh ps -N | grep kthread", "/tmp/kmodcheck-1/work", "X=1")
	f.Add([]byte(`{"Release":"6.1.0-57-amd64","NextSeq":812,"Shell":"/bin/bash"}`+"\n"+`{"Error":"x","State":{}}`), "echo café", "/tmp/w", "LANG=C")
	f.Add([]byte("{\"Line\":\"\\ud800\"}\n[1,2]\n{\"Records\":null}"), "", "", "")
	f.Fuzz(func(t *testing.T, stream []byte, line, dir, env string) {
		for _, v := range []func() any{func() any { return new(Response) }, func() any { return new(Request) }, func() any { return new(Hello) }} {
			c := NewConn(rw{in: bytes.NewReader(stream), out: new(bytes.Buffer)})
			for range 16 {
				msg := v()
				if err := c.Receive(msg); err != nil {
					break
				}
				roundTrip(t, msg, v())
			}
		}
		req := &Request{Op: OpRun, Line: line, Dir: dir, Env: strings.Split(env, "\x00"), TimeoutMs: 1000}
		roundTrip(t, req, new(Request))
	})
}

// roundTrip sends msg and receives it into into, which must then equal
// msg, unless Send refused it.
func roundTrip(t *testing.T, msg, into any) {
	t.Helper()
	var buf bytes.Buffer
	c := NewConn(rw{in: &buf, out: &buf})
	if err := c.Send(msg); err != nil {
		return
	}
	sent := bytes.Clone(buf.Bytes())
	if n := bytes.Count(sent, []byte("\n")); n != 1 {
		t.Fatalf("Send wrote %d lines: %q", n, sent)
	}
	if err := c.Receive(into); err != nil {
		t.Fatalf("%+v: sent %q, received: %v", msg, sent, err)
	}
	if diff := cmp.Diff(msg, into); diff != "" {
		t.Fatalf("sent %q: received another message (-sent +received):\n%s", sent, diff)
	}
}
