package qemu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/proto"
)

// A Shell is an interactive shell in the guest: its terminal is a pty in the
// guest whose bytes travel raw over the virtio-serial port
// guest.ShellPortName; window sizes travel on the agent's channel.
type Shell struct {
	Dir        string // working directory; empty: the work directory
	Term       string // TERM in the guest; empty: dumb
	Rows, Cols int    // initial window size; 0: 24x80
	// Stdin is what is typed. When it ends, the shell is sent ^D, the end of
	// its input, as a terminal would.
	Stdin  io.Reader
	Stdout io.Writer // what the terminal shows
	// Piped says Stdin is no terminal: its ^D (its end) then waits until
	// the shell is back at its prompt, having run all that came before.
	Piped bool
	// Resize carries new window sizes while the shell runs.
	Resize <-chan WindowSize
}

// WindowSize is a terminal's size in characters.
type WindowSize struct{ Rows, Cols int }

func (vm *VM) shellSock() string { return filepath.Join(vm.tmp, "shell.sock") }

// Shell runs an interactive login shell in the guest, as root, and returns
// its exit status once it exits. Nothing else can use the VM meanwhile.
func (vm *VM) Shell(ctx context.Context, sh Shell) (int, error) {
	dialCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := vm.dial(dialCtx, vm.shellSock())
	cancel()
	if err != nil {
		return -1, fmt.Errorf("connect to the guest's shell port: %w", err)
	}
	defer conn.Close()

	// The agent answers OpShell when the shell exits; holding the channel
	// until then keeps every other request out, and OpResize has no answer.
	vm.reqMu.Lock()
	defer vm.reqMu.Unlock()
	if vm.conn == nil {
		return -1, errors.New("no guest agent")
	}
	send := func(req proto.Request) error {
		if err := vm.wire.Send(req); err != nil {
			return fmt.Errorf("send %s: %w", req.Op, err)
		}
		return nil
	}
	dir := sh.Dir
	if dir == "" {
		dir = vm.work
	}
	if err := send(proto.Request{Op: proto.OpShell, Dir: dir, Term: sh.Term, Rows: sh.Rows, Cols: sh.Cols, Piped: sh.Piped}); err != nil {
		return -1, err
	}

	var got atomic.Int64 // bytes of the terminal's output received
	outDone := make(chan struct{})
	go func() {
		defer close(outDone)
		buf := make([]byte, 32<<10)
		for {
			n, err := conn.Read(buf)
			if n > 0 {
				sh.Stdout.Write(buf[:n])
				got.Add(int64(n))
			}
			if err != nil {
				return
			}
		}
	}()
	if sh.Stdin != nil {
		go func() {
			buf := make([]byte, 32<<10)
			for {
				n, err := sh.Stdin.Read(buf)
				if n > 0 {
					if _, werr := conn.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					conn.Write([]byte{4}) // ^D
					return
				}
			}
		}()
	}

	var resp proto.Response
	answered := make(chan error, 1)
	go func() { answered <- vm.receive(ctx, &resp) }()
	for {
		select {
		case ws := <-sh.Resize:
			if err := send(proto.Request{Op: proto.OpResize, Rows: ws.Rows, Cols: ws.Cols}); err != nil {
				<-answered
				return -1, vm.explain(err)
			}
			continue
		case err = <-answered:
		}
		break
	}
	if err != nil {
		return -1, vm.explain(fmt.Errorf("shell: %w", err))
	}
	// The output travels apart from the answer: wait for the last of it.
	deadline := time.After(2 * time.Second)
	for got.Load() < resp.Written {
		select {
		case <-outDone:
		case <-deadline:
		case <-time.After(10 * time.Millisecond):
			continue
		}
		break
	}
	conn.Close()
	<-outDone
	if resp.Error != "" {
		return resp.Exit, fmt.Errorf("guest shell: %s", resp.Error)
	}
	return resp.Exit, nil
}

// HostBuild returns the shell line that runs line on the host as the
// case's build steps run: chrooted into the case's machine, with a uname
// first on PATH that reports the guest's release, so that a tutorial's
// unchanged Makefile builds for it (build.go). It works while the VM runs.
func (s *Session) HostBuild(line string) string { return s.build.hostLine(line) }
