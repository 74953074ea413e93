package guest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/kmodcheck/kmodcheck/runner/proto"
)

// replies writes Responses in the order of their Requests while some of them
// (OpShell) are answered only later: the host expects one Response per
// Request, in order. Each Response waits for the one before it.
type replies struct {
	wire *proto.Conn
	mu   sync.Mutex
	err  error
	prev chan struct{} // closed once the previous Response is written
}

func newReplies(wire *proto.Conn) *replies {
	done := make(chan struct{})
	close(done)
	return &replies{wire: wire, prev: done}
}

// send queues resp, computed already.
func (r *replies) send(resp proto.Response) error {
	return r.later(func() proto.Response { return resp })
}

// later queues the Response f will compute, running f in its own goroutine,
// and returns the first error writing a Response met so far.
func (r *replies) later(f func() proto.Response) error {
	prev, done := r.prev, make(chan struct{})
	r.prev = done
	go func() {
		resp := f()
		<-prev
		r.mu.Lock()
		if r.err == nil {
			if err := r.wire.Send(resp); err != nil {
				r.err = fmt.Errorf("send response: %w", err)
			}
		}
		r.mu.Unlock()
		close(done)
	}()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// shells is the agent's interactive shell, at most one at a time, and the
// port its terminal travels on.
type shells struct {
	mu      sync.Mutex
	port    *os.File // ShellPortName, opened on first use
	ptmx    *os.File // the running shell's pty; nil when none runs
	running bool
	reading bool // input runs
	piped   bool // the running shell's input is no terminal (Request.Piped)
	pid     int  // the running shell's
	bash    bool // it is bash: it reads commands with readline
	// The user the shell runs as, as a case's steps do: their login's
	// environment (local.LoginEnv), and who they are (nil: root).
	env  []string
	cred *syscall.Credential
}

// shell runs an interactive login shell on a new pty, its terminal copied
// to and from ShellPortName, and answers when it exits. The shell is the
// host's bash, or sh when there is no bash, as the case's reader in
// req.Dir.
func (s *shells) shell(req proto.Request) proto.Response {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return proto.Response{Exit: -1, Error: "a shell is running already"}
	}
	if s.port == nil {
		port, err := openPort(proto.ShellPortName, time.Second)
		if err != nil {
			s.mu.Unlock()
			return proto.Response{Exit: -1, Error: err.Error()}
		}
		s.port = port
	}
	s.running = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.running = false
		s.mu.Unlock()
	}()

	sh := "/bin/bash"
	if _, err := os.Stat(sh); err != nil {
		sh = "/bin/sh"
	}
	term := req.Term
	if term == "" {
		term = "dumb"
	}
	cmd := exec.Command(sh, "-l")
	cmd.Dir = req.Dir
	// A person's terminal: its own TERM, and colour.
	for _, kv := range s.env {
		if !strings.HasPrefix(kv, "TERM=") && !strings.HasPrefix(kv, "NO_COLOR=") && !strings.HasPrefix(kv, "SHELL=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "SHELL="+sh, "TERM="+term, "PWD="+req.Dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	size := &pty.Winsize{Rows: uint16(req.Rows), Cols: uint16(req.Cols)}
	if size.Rows == 0 || size.Cols == 0 {
		size = &pty.Winsize{Rows: 24, Cols: 80}
	}
	// StartWithSize makes the pty the shell's controlling terminal in a
	// session of its own.
	ptmx, err := pty.StartWithSize(cmd, size)
	if err != nil {
		return proto.Response{Exit: -1, Error: fmt.Sprintf("start %s: %v", sh, err)}
	}
	s.mu.Lock()
	s.ptmx, s.piped, s.pid, s.bash = ptmx, req.Piped, cmd.Process.Pid, sh == "/bin/bash"
	if !s.reading { // only now: what was typed ahead waits in the port
		s.reading = true
		go s.input(s.port)
	}
	s.mu.Unlock()

	var written atomic.Int64
	output := make(chan struct{})
	go func() {
		defer close(output)
		buf := make([]byte, 32<<10)
		for {
			n, err := ptmx.Read(buf)
			if n > 0 {
				m, _ := s.port.Write(buf[:n])
				written.Add(int64(m))
			}
			if err != nil { // EIO: every process holding the terminal has gone
				return
			}
		}
	}()
	werr := cmd.Wait()
	select { // what the shell printed last; a job left running keeps the pty open
	case <-output:
	case <-time.After(time.Second):
	}
	s.mu.Lock()
	s.ptmx = nil
	s.mu.Unlock()
	ptmx.Close()
	<-output

	resp := proto.Response{Exit: cmd.ProcessState.ExitCode(), Written: written.Load()}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		resp.Exit = 128 + int(ws.Signal())
	}
	var exitErr *exec.ExitError
	if werr != nil && !errors.As(werr, &exitErr) {
		resp.Error = werr.Error()
	}
	return resp
}

// input copies what the host types to the running shell's terminal; bytes
// that come while no shell runs are dropped.
func (s *shells) input(port *os.File) {
	buf := make([]byte, 32<<10)
	for {
		n, err := port.Read(buf)
		if n > 0 {
			s.mu.Lock()
			ptmx, piped, pid, bash := s.ptmx, s.piped, s.pid, s.bash
			s.mu.Unlock()
			for b := buf[:n]; ptmx != nil && len(b) > 0; {
				i := bytes.IndexByte(b, 4)
				if !piped || i < 0 {
					ptmx.Write(b)
					break
				}
				ptmx.Write(b[:i])
				waitPrompt(ptmx, pid, bash)
				ptmx.Write(b[i : i+1])
				b = b[i+1:]
			}
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return
		}
		if n == 0 {
			time.Sleep(20 * time.Millisecond) // no host connected to the port
		}
	}
}

// resize sets the running shell's window size; the kernel sends SIGWINCH
// to its foreground job.
func (s *shells) resize(req proto.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ptmx != nil && req.Rows > 0 && req.Cols > 0 {
		pty.Setsize(s.ptmx, &pty.Winsize{Rows: uint16(req.Rows), Cols: uint16(req.Cols)})
	}
}

// waitPrompt waits until the shell waits at its prompt for a command: it
// is the terminal's foreground job, it has read all that was typed, and
// if it is bash, readline has taken the terminal out of canonical mode.
//
// That is when a ^D at the end of piped input means the end of the input.
// A ^D typed ahead in canonical mode becomes a NUL once readline turns that
// mode off, and the shell would never see the end of its input; one typed
// while a command runs would go to the command.
func waitPrompt(ptmx *os.File, pid int, bash bool) {
	raw, err := ptmx.SyscallConn()
	if err != nil {
		return
	}
	atPrompt := func() (yes, gone bool) {
		raw.Control(func(fd uintptr) {
			// Asked of the master, these two answer for the terminal side.
			pgrp, err := unix.IoctlGetInt(int(fd), unix.TIOCGPGRP)
			if err != nil {
				gone = true
				return
			}
			t, err := unix.IoctlGetTermios(int(fd), unix.TCGETS)
			if err != nil || pgrp != pid || bash && t.Lflag&unix.ICANON != 0 {
				return
			}
			// TIOCGPTPEER opens the terminal side without a path: its
			// input queue is what the shell has not read yet.
			tty, _, errno := unix.Syscall(unix.SYS_IOCTL, fd, unix.TIOCGPTPEER, unix.O_RDONLY|unix.O_NOCTTY|unix.O_CLOEXEC)
			if errno != 0 {
				gone = true
				return
			}
			n, err := unix.IoctlGetInt(int(tty), unix.TIOCINQ)
			unix.Close(int(tty))
			yes = err == nil && n == 0
		})
		return yes, gone
	}
	// What was written to the master reaches the queue through a work
	// queue: the answer must hold a few times in a row. Nothing signals
	// the prompt, so this polls, backing off while a command runs: a
	// piped script of minutes (TestHostTargetInVM's) polled every 30 ms
	// kept the guest waking 200 times a second.
	for n, wait := 0, promptPoll; n < 3; {
		yes, gone := atPrompt()
		if gone {
			return
		}
		if yes {
			n, wait = n+1, promptPoll
		} else {
			n, wait = 0, min(2*wait, promptPollMax)
		}
		time.Sleep(wait)
	}
}

// promptPoll is how often waitPrompt asks whether the shell is at its
// prompt, once it seems to be, and at first; promptPollMax, while a
// command runs: the most a piped shell's end waits beyond its last
// command.
const (
	promptPoll    = 30 * time.Millisecond
	promptPollMax = 250 * time.Millisecond
)
