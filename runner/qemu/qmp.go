package qemu

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"
)

// A qmp is a connection to QEMU's machine protocol: JSON objects, one per
// line, each command answered by a "return" or an "error" object, with
// asynchronous "event" objects in between.
type qmp struct {
	conn net.Conn
	dec  *json.Decoder
	// events that arrived while a command waited for its answer, oldest first.
	events []qmpMessage
}

type qmpMessage struct {
	Return json.RawMessage `json:"return"`
	Error  *struct {
		Class string `json:"class"`
		Desc  string `json:"desc"`
	} `json:"error"`
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
	QMP   json.RawMessage `json:"QMP"` // the greeting
}

// dialQMP connects to the QMP socket of vm, reads the greeting and leaves
// capabilities negotiation mode.
func dialQMP(ctx context.Context, vm *VM, sock string) (*qmp, error) {
	conn, err := vm.dial(ctx, sock)
	if err != nil {
		return nil, fmt.Errorf("connect to QMP: %w", err)
	}
	q := &qmp{conn: conn, dec: json.NewDecoder(bufio.NewReader(conn))}
	var greeting qmpMessage
	if err := q.read(ctx, &greeting); err != nil {
		conn.Close()
		return nil, fmt.Errorf("QMP greeting: %w", err)
	}
	if _, err := q.execute(ctx, "qmp_capabilities", nil); err != nil {
		conn.Close()
		return nil, err
	}
	return q, nil
}

func (q *qmp) close() error { return q.conn.Close() }

// read decodes the next message, by ctx's deadline.
func (q *qmp) read(ctx context.Context, m *qmpMessage) error {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(time.Minute)
	}
	q.conn.SetReadDeadline(deadline)
	*m = qmpMessage{}
	return q.dec.Decode(m)
}

// execute runs a command and returns what it returned.
func (q *qmp) execute(ctx context.Context, command string, args any) (json.RawMessage, error) {
	req := map[string]any{"execute": command}
	if args != nil {
		req["arguments"] = args
	}
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	if _, err := q.conn.Write(append(b, '\n')); err != nil {
		return nil, fmt.Errorf("QMP %s: %w", command, err)
	}
	for {
		var m qmpMessage
		if err := q.read(ctx, &m); err != nil {
			return nil, fmt.Errorf("QMP %s: %w", command, err)
		}
		switch {
		case m.Event != "":
			q.events = append(q.events, m)
		case m.Error != nil:
			return nil, fmt.Errorf("QMP %s: %s: %s", command, m.Error.Class, m.Error.Desc)
		default:
			return m.Return, nil
		}
	}
}

// waitEvent returns the data of the first event named name for which done
// says true, by ctx's deadline.
func (q *qmp) waitEvent(ctx context.Context, name string, done func(data json.RawMessage) bool) (json.RawMessage, error) {
	for {
		var m qmpMessage
		if len(q.events) > 0 {
			m, q.events = q.events[0], q.events[1:]
		} else if err := q.read(ctx, &m); err != nil {
			return nil, fmt.Errorf("QMP: wait for event %s: %w", name, err)
		}
		if m.Event == name && done(m.Data) {
			return m.Data, nil
		}
		if m.Event == "" && m.Error != nil {
			return nil, errors.New(m.Error.Desc)
		}
	}
}
