package script

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/kmodcheck/kmodcheck/runner/kmsg"
	"github.com/kmodcheck/kmodcheck/runner/target"
)

// fakeTarget is a test double for the case language: its sessions answer
// each step with what the case scripts for it (the exit status, the output,
// the kernel records a real kernel gave), so that the language's commands
// can be tested in milliseconds. It is no kernel and is not reachable from
// the command.
//
// A case scripts the fake with these commands, each about the next step:
//
//	next [-exit N] [-stdout TEXT] [-stderr TEXT] [-timedout] [-bash] [RECORD...]
//	    the next step's result, and the kernel records it logs; -bash runs
//	    the step's line with bash -c in the work directory on the host (for
//	    lines that only use the shell) and takes its exit status and output
//	later DURATION RECORD...
//	    records the kernel logs DURATION after the next step ends, as a
//	    thread that goes on printing does
//	sent LINE
//	    the line the last step gave the target was exactly LINE
type fakeTarget struct {
	release string
	mu      sync.Mutex
	kernels map[string]*fakeKernel // by case name
}

func newFakeTarget(release string) *fakeTarget {
	return &fakeTarget{release: release, kernels: map[string]*fakeKernel{}}
}

func (f *fakeTarget) Name() string    { return "fake" }
func (f *fakeTarget) Release() string { return f.release }

func (f *fakeTarget) Start(ctx context.Context, c target.Case) (target.Session, error) {
	return f.kernel(c.Name), nil
}

// kernel returns the fake kernel of a case, which its scripting commands
// may reach before its first step starts it.
func (f *fakeTarget) kernel(name string) *fakeKernel {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := f.kernels[name]
	if k == nil {
		k = &fakeKernel{release: f.release}
		f.kernels[name] = k
	}
	return k
}

// fakeKernel is one case's session.
type fakeKernel struct {
	release string
	mu      sync.Mutex
	log     []fakeRecord
	next    *fakeStep
	later   []fakeLater
	sent    []string // the lines of the steps run so far
}

type fakeRecord struct {
	rec     kmsg.Record
	visible time.Time // when the kernel has logged it
}

type fakeStep struct {
	exit           int
	stdout, stderr string
	timedOut, bash bool
	records        []string
}

type fakeLater struct {
	after   time.Duration
	records []string
}

func (k *fakeKernel) Describe() target.Info {
	return target.Info{Target: "fake", Release: k.release}
}

func (k *fakeKernel) Run(ctx context.Context, step target.Step) (target.Result, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.sent = append(k.sent, step.Line)
	st := k.next
	k.next = nil
	if st == nil {
		st = &fakeStep{}
	}
	res := target.Result{Step: step, Exit: st.exit, Stdout: []byte(st.stdout), Stderr: []byte(st.stderr), TimedOut: st.timedOut}
	if st.bash {
		var stdout, stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, "bash", "-c", step.Line)
		cmd.Dir, cmd.Stdout, cmd.Stderr = step.Dir, &stdout, &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			return res, fmt.Errorf("bash: %w", err)
		}
		res.Exit, res.Stdout, res.Stderr = cmd.ProcessState.ExitCode(), stdout.Bytes(), stderr.Bytes()
	}
	now := time.Now()
	for _, text := range st.records {
		res.Log = append(res.Log, k.add(text, now))
	}
	for _, l := range k.later {
		for _, text := range l.records {
			k.add(text, now.Add(l.after))
		}
	}
	k.later = nil
	return res, nil
}

func (k *fakeKernel) add(text string, visible time.Time) kmsg.Record {
	r := kmsg.Record{Seq: uint64(len(k.log)), Level: 6, Text: text}
	k.log = append(k.log, fakeRecord{rec: r, visible: visible})
	return r
}

func (k *fakeKernel) Log(ctx context.Context, since uint64) ([]kmsg.Record, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []kmsg.Record
	now := time.Now()
	for _, r := range k.log {
		if r.rec.Seq >= since && !r.visible.After(now) {
			out = append(out, r.rec)
		}
	}
	return out, nil
}

func (k *fakeKernel) Inspect(ctx context.Context) (target.State, error) { return target.State{}, nil }
func (k *fakeKernel) BlockedTasks(ctx context.Context) ([]kmsg.Record, error) {
	return nil, nil
}
func (k *fakeKernel) Close(ctx context.Context) error { return nil }

// fakeCmds are the commands that script a case's fake kernel.
func (f *fakeTarget) fakeCmds() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	return map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"next": func(ts *testscript.TestScript, neg bool, args []string) {
			fs := flag.NewFlagSet("next", flag.ContinueOnError)
			st := &fakeStep{}
			fs.IntVar(&st.exit, "exit", 0, "")
			fs.StringVar(&st.stdout, "stdout", "", "")
			fs.StringVar(&st.stderr, "stderr", "", "")
			fs.BoolVar(&st.timedOut, "timedout", false, "")
			fs.BoolVar(&st.bash, "bash", false, "")
			if err := fs.Parse(args); err != nil {
				ts.Fatalf("next: %v", err)
			}
			st.records = fs.Args()
			k := f.kernel(ts.Name())
			k.mu.Lock()
			k.next = st
			k.mu.Unlock()
		},
		"later": func(ts *testscript.TestScript, neg bool, args []string) {
			if len(args) < 2 {
				ts.Fatalf("usage: later duration record...")
			}
			d, err := time.ParseDuration(args[0])
			ts.Check(err)
			k := f.kernel(ts.Name())
			k.mu.Lock()
			k.later = append(k.later, fakeLater{after: d, records: args[1:]})
			k.mu.Unlock()
		},
		"sent": func(ts *testscript.TestScript, neg bool, args []string) {
			if len(args) != 1 {
				ts.Fatalf("usage: sent line")
			}
			k := f.kernel(ts.Name())
			k.mu.Lock()
			defer k.mu.Unlock()
			if len(k.sent) == 0 {
				ts.Fatalf("sent: no step has run")
			}
			if got := k.sent[len(k.sent)-1]; got != args[0] {
				ts.Fatalf("the target was sent %q, want %q", got, args[0])
			}
		},
	}
}

// langRunner is the testscript.T above the cases of a language test; it
// keeps each case's transcript and outcome, as kmodcheck's runner does.
type langRunner struct {
	mu    sync.Mutex
	cases map[string]*caseT
}

func (r *langRunner) Run(name string, f func(testscript.T)) {
	c := &caseT{}
	r.mu.Lock()
	r.cases[name] = c
	r.mu.Unlock()
	c.Run(name, f)
}
func (r *langRunner) Skip(args ...any)  { panic("Skip at top level") }
func (r *langRunner) Fatal(args ...any) { panic(fmt.Sprint(args...)) }
func (r *langRunner) Parallel()         {}
func (r *langRunner) Log(args ...any)   {}
func (r *langRunner) FailNow()          { panic("FailNow at top level") }
func (r *langRunner) Verbose() bool     { return true }

// caseT is the testscript.T of one case.
type caseT struct {
	mu      sync.Mutex
	log     strings.Builder
	failed  bool
	skipped bool
}

func (c *caseT) Skip(args ...any) {
	c.Log(args...)
	c.mu.Lock()
	c.skipped = true
	c.mu.Unlock()
	runtime.Goexit()
}
func (c *caseT) Fatal(args ...any) { c.Log(args...); c.FailNow() }
func (c *caseT) Parallel()         {}
func (c *caseT) Log(args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintln(&c.log, args...)
}
func (c *caseT) FailNow()      { c.Fail(); runtime.Goexit() }
func (c *caseT) Fail()         { c.mu.Lock(); c.failed = true; c.mu.Unlock() }
func (c *caseT) Failed() bool  { c.mu.Lock(); defer c.mu.Unlock(); return c.failed }
func (c *caseT) Verbose() bool { return true }

// Run runs a case on a goroutine of its own, as FailNow ends it.
func (c *caseT) Run(name string, f func(testscript.T)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(c)
	}()
	<-done
}
