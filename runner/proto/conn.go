package proto

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"sync"
	"unicode/utf8"
)

// A Conn carries the protocol's messages over a byte stream, one JSON
// object per line, both ways. Send may be called from several goroutines:
// each message goes out in one Write, whole. Receive is for one reader.
type Conn struct {
	mu  sync.Mutex // serialises Send
	w   io.Writer
	dec *json.Decoder
}

// NewConn returns a Conn that reads from and writes to rw.
func NewConn(rw io.ReadWriter) *Conn {
	return &Conn{w: rw, dec: json.NewDecoder(bufio.NewReader(rw))}
}

// Send writes v as one line. JSON carries text as UTF-8 and writes U+FFFD
// for bytes that are not, so a Request whose strings are not valid UTF-8
// (a case's line in Latin-1) would run another command: Send refuses it.
func (c *Conn) Send(v any) error {
	if err := checkRequest(v); err != nil {
		return err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err = c.w.Write(append(b, '\n'))
	return err
}

// Receive reads the next message into v; io.EOF when the other side closed
// the stream between messages.
func (c *Conn) Receive(v any) error {
	return c.dec.Decode(v)
}

// checkRequest reports an error if v is a Request with a string JSON
// would not carry unchanged.
func checkRequest(v any) error {
	var r *Request
	switch x := v.(type) {
	case Request:
		r = &x
	case *Request:
		r = x
	default:
		return nil
	}
	check := func(field, s string) error {
		if utf8.ValidString(s) {
			return nil
		}
		q := strconv.Quote(s)
		if len(s) > 80 {
			q = strconv.Quote(s[:80]) + "..."
		}
		return fmt.Errorf("send %s request: its %s %s is not valid UTF-8, which the protocol (JSON) cannot carry unchanged", r.Op, field, q)
	}
	if err := check("line", r.Line); err != nil {
		return err
	}
	if err := check("directory", r.Dir); err != nil {
		return err
	}
	if err := check("TERM", r.Term); err != nil {
		return err
	}
	for _, e := range r.Env {
		if err := check("environment variable", e); err != nil {
			return err
		}
	}
	return nil
}
