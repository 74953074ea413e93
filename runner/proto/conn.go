package proto

import (
	"bufio"
	"encoding/json"
	"io"
	"sync"
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

// Send writes v as one line.
func (c *Conn) Send(v any) error {
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
