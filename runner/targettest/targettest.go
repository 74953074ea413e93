// Package targettest provides what tests of code above a target need: a
// scripted target that boots nothing (as net/http/httptest serves without
// a network), so that the case language, the suite and the reports are
// tested in milliseconds, and BootsVM, which keeps tests that boot real
// kernels out of go test -short.
package targettest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/kmsg"
	"github.com/kmodcheck/kmodcheck/runner/target"
)

// BootsVM skips tb under go test -short: tb boots virtual machines, which
// under TCG takes minutes. Every test that boots one calls it first.
func BootsVM(tb testing.TB) {
	tb.Helper()
	if testing.Short() {
		tb.Skip("boots a VM: skipped with -short")
	}
}

// A Target is a test double of target.Target: each case gets a Session
// that answers every step with what the test scripted for it (its exit
// status, output and the kernel records a real kernel gave). It is no
// kernel.
type Target struct {
	release  string
	mu       sync.Mutex
	sessions map[string]*Session // by case name
}

// NewTarget returns a fake target whose kernel is release.
func NewTarget(release string) *Target {
	return &Target{release: release, sessions: map[string]*Session{}}
}

func (f *Target) Name() string    { return "fake" }
func (f *Target) Release() string { return f.release }

// Start returns the case's session.
func (f *Target) Start(ctx context.Context, c target.Case) (target.Session, error) {
	return f.Session(c.Name), nil
}

// Session returns the session of the case named name, made on first use,
// so that a test may script it before the case starts.
func (f *Target) Session(name string) *Session {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.sessions[name]
	if s == nil {
		s = &Session{release: f.release}
		f.sessions[name] = s
	}
	return s
}

// A Step is what the next step of a session does.
type Step struct {
	Exit           int
	Stdout, Stderr string
	TimedOut       bool
	// Bash runs the step's line with bash -c in its directory on the host
	// (for lines that only use the shell) and takes its exit status and
	// output instead.
	Bash bool
	// Records are the texts of the kernel records the step logs.
	Records []string
	// Run, when set, runs the step instead, for what the fields cannot
	// say (a step that lasts until the run is stopped); Records are
	// logged unless it fails.
	Run func(ctx context.Context, step target.Step) (target.Result, error)
}

// A Session is one case's fake kernel: a target.Session.
type Session struct {
	release string
	mu      sync.Mutex
	log     []record
	next    *Step
	later   []later
	sent    []string // the lines of the steps run so far
	ready   int      // steps run before the first Ready, plus one; 0: not asked
}

type record struct {
	rec     kmsg.Record
	visible time.Time // when the kernel has logged it
}

type later struct {
	after   time.Duration
	records []string
}

// Next scripts the next step; a step not scripted exits 0 and prints
// nothing.
func (s *Session) Next(st Step) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next = &st
}

// Later has the kernel log records, after the next step, when after has
// passed since it ended: as a thread that goes on printing does.
func (s *Session) Later(after time.Duration, records ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.later = append(s.later, later{after: after, records: records})
}

// Sent returns the lines of the steps run so far, in order.
func (s *Session) Sent() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.sent...)
}

// Ready describes the fake kernel, which is always up.
func (s *Session) Ready(ctx context.Context) (target.Info, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ready == 0 {
		s.ready = len(s.sent) + 1
	}
	return target.Info{Target: "fake", Release: s.release}, nil
}

// ReadyAfter returns how many steps had run when the kernel was first
// asked to be up (Ready), and false when it never was.
func (s *Session) ReadyAfter() (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ready == 0 {
		return 0, false
	}
	return s.ready - 1, true
}

// Run answers step as scripted (Next).
func (s *Session) Run(ctx context.Context, step target.Step) (target.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, step.Line)
	st := s.next
	s.next = nil
	if st == nil {
		st = &Step{}
	}
	res, err := st.result(ctx, step)
	if err != nil {
		return res, err
	}
	now := time.Now()
	for _, text := range st.Records {
		res.Log = append(res.Log, s.add(text, now))
	}
	for _, l := range s.later {
		for _, text := range l.records {
			s.add(text, now.Add(l.after))
		}
	}
	s.later = nil
	return res, nil
}

// result is what st makes of step.
func (st *Step) result(ctx context.Context, step target.Step) (target.Result, error) {
	if st.Run != nil {
		return st.Run(ctx, step)
	}
	res := target.Result{Step: step, Exit: st.Exit, Stdout: []byte(st.Stdout), Stderr: []byte(st.Stderr), TimedOut: st.TimedOut}
	if !st.Bash {
		return res, nil
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", "-c", step.Line)
	cmd.Dir, cmd.Stdout, cmd.Stderr = step.Dir, &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return res, fmt.Errorf("bash: %w", err)
	}
	res.Exit, res.Stdout, res.Stderr = cmd.ProcessState.ExitCode(), stdout.Bytes(), stderr.Bytes()
	return res, nil
}

func (s *Session) add(text string, visible time.Time) kmsg.Record {
	r := kmsg.Record{Seq: uint64(len(s.log)), Level: 6, Text: text}
	s.log = append(s.log, record{rec: r, visible: visible})
	return r
}

// Log returns the records from since on that the kernel has logged by now.
func (s *Session) Log(ctx context.Context, since uint64) ([]kmsg.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []kmsg.Record
	now := time.Now()
	for _, r := range s.log {
		if r.rec.Seq >= since && !r.visible.After(now) {
			out = append(out, r.rec)
		}
	}
	return out, nil
}

func (s *Session) Inspect(ctx context.Context) (target.State, error)       { return target.State{}, nil }
func (s *Session) BlockedTasks(ctx context.Context) ([]kmsg.Record, error) { return nil, nil }
func (s *Session) Close(ctx context.Context) error                         { return nil }
