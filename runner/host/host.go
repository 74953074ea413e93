// Package host is the target for privileged runners: steps run on the
// machine's own kernel (with runner/local, as in the guest), modules load
// into it. It is never the default, since a faulty module can take the
// machine down with it. What is its own: cases take turns on the one
// kernel, each unloads what it loaded, and no step marker goes into the
// machine's kernel log.
package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kmodcheck/kmodcheck/runner/kmsg"
	"github.com/kmodcheck/kmodcheck/runner/local"
	"github.com/kmodcheck/kmodcheck/runner/scratch"
	"github.com/kmodcheck/kmodcheck/runner/target"
)

// Target runs steps on the running kernel.
type Target struct {
	StepTimeout time.Duration

	// turn holds a token while a case runs: every case shares the one
	// kernel, whose modules and log they would otherwise mix up (the seed
	// tutorials all load a module named kthread), so cases take turns
	// whatever the runner's parallelism (-j, go test's parallel subtests).
	once sync.Once
	turn chan struct{}
}

func (t *Target) Name() string { return "host" }

func (t *Target) Release() string { return kernelRelease() }

// Check refuses to run without root or without headers for this kernel.
func (t *Target) Check() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("the host target loads modules into this machine's kernel and needs root")
	}
	rel := kernelRelease()
	if _, err := os.Stat("/lib/modules/" + rel + "/build/Makefile"); err != nil {
		return fmt.Errorf("no headers for the running kernel %s: install linux-headers-%s", rel, rel)
	}
	return nil
}

// BuildsOnKernel says that builds run on the kernel under test: this one.
func (t *Target) BuildsOnKernel() {}

// Start waits for the kernel to be free of other cases, then opens its
// log; it boots nothing.
func (t *Target) Start(ctx context.Context, c target.Case) (target.Session, error) {
	t.once.Do(func() { t.turn = make(chan struct{}, 1) })
	select {
	case t.turn <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for the other cases on this kernel: %w", context.Cause(ctx))
	}
	release := sync.OnceFunc(func() { <-t.turn })
	s, err := t.open(ctx, c.WorkDir)
	if err != nil {
		release()
		return nil, err
	}
	s.release = release
	return s, nil
}

// open starts a session on this kernel: its log, read from now on, and
// the shell its steps will run in, as the reader, in work.
func (t *Target) open(ctx context.Context, work string) (*session, error) {
	s := &session{before: loadedModules(), timeout: t.StepTimeout}
	var err error
	if s.guard, err = startGuard(s.before); err != nil {
		return nil, err
	}
	if s.log, err = local.OpenKernelLog(nil); err != nil {
		s.guard.done()
		return nil, err
	}
	s.info = target.Info{Target: "host", Release: kernelRelease(), Shell: local.ShellName()}
	// An instance of its own: the host's tracing, if any, is left alone,
	// but what a killed kmodcheck left is removed.
	removeStaleTraces()
	instance := fmt.Sprintf("%s%d", tracePrefix, os.Getpid())
	s.guard.tell(guardTrace, filepath.Join(local.TraceRoot, "instances", instance))
	if err := s.log.Trace(instance); err != nil {
		s.info.Notes = append(s.info.Notes, fmt.Sprintf("kernel lines are not attributed to threads (PID 0): %v", err))
	}
	if s.info.LogStart, err = s.log.Start(ctx); err != nil {
		s.log.Close()
		s.guard.done()
		return nil, err
	}
	s.steps = local.Steps{Env: local.HostEnv(), SudoDir: filepath.Join(os.TempDir(), "kmodcheck-sudo"),
		// A nested shell (sudo su) would need the host's sudoers changed
		// (use_pty) to read the terminal: refused, not left to hang.
		Refuse:    "nested shells (sudo su, sudo -i, sudo -s, su -) are not supported on the host target (they would need this machine's sudo configuration changed: use_pty); run the case on the qemu target",
		OnSession: func(sid int) { s.guard.tell(guardSession, strconv.Itoa(sid)) }}
	who, err := s.asReader(ctx, work)
	if err != nil {
		s.log.Close()
		s.guard.done()
		return nil, err
	}
	s.info.Notes = append(s.info.Notes, who)
	return s, nil
}

type session struct {
	mu      sync.Mutex
	info    target.Info
	timeout time.Duration
	before  map[string]bool  // modules loaded before the case
	release func()           // gives the kernel to the next case
	steps   local.Steps      // the case's shell session
	guard   *guard           // undoes the session should kmodcheck die first
	n       int              // steps run so far
	log     *local.KernelLog // this kernel's, without MarkSteps: kmodcheck writes nothing into it
	// handover gives the reader what the case's builtins wrote between
	// steps; it does nothing when the steps run as root.
	handover local.Handover
}

// Ready describes the session: the host's kernel is up already.
func (s *session) Ready(ctx context.Context) (target.Info, error) { return s.info, nil }

// Run runs the step and returns the records logged while it ran: those
// logged between steps are not the step's (Log has them).
func (s *session) Run(ctx context.Context, step target.Step) (target.Result, error) {
	if step.Timeout == 0 {
		step.Timeout = s.timeout
	}
	s.n++
	start, _ := s.log.End(ctx)
	err := s.handover.Before()
	res := target.Result{Step: step, Exit: -1}
	if err == nil {
		res, err = s.steps.Run(ctx, step)
	}
	err = errors.Join(err, s.handover.After())
	if err != nil {
		res.Stderr = []byte(err.Error())
	}
	// The taint before the log's end: the kernel sets it after printing
	// the report, so a report that tainted it is then in the step's records.
	res.Tainted = local.ProcTainted()
	logCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	recs, _, _ := s.log.StepEnd(logCtx, s.n, step.Line)
	res.Log = since(recs, start)
	return res, nil
}

// since returns the records of recs from seq on.
func since(recs []kmsg.Record, seq uint64) []kmsg.Record {
	i := 0
	for i < len(recs) && recs[i].Seq < seq {
		i++
	}
	return recs[i:]
}

func (s *session) Log(ctx context.Context, since uint64) ([]kmsg.Record, error) {
	recs, _ := s.log.Since(ctx, since)
	return recs, nil
}

// Inspect reports the loaded modules and kernel threads. Leaks are not
// looked for on the host: that needs slub_debug on the kernel command line.
func (s *session) Inspect(ctx context.Context) (target.State, error) {
	st, err := s.steps.Inspect()
	st.LeakNote = "leaks are looked for on the qemu target only"
	return st, err
}

// BlockedTasks writes SysRq w and returns what the kernel printed.
func (s *session) BlockedTasks(ctx context.Context) ([]kmsg.Record, error) {
	start, err := s.log.End(ctx)
	if err != nil {
		return nil, err
	}
	// The kernel prints the dump as the write is handled: when it returns,
	// every record of it is in the log.
	if err := os.WriteFile("/proc/sysrq-trigger", []byte("w"), 0); err != nil {
		return nil, err
	}
	return s.Log(ctx, start)
}

// Close unloads the modules the case loaded and left, so that a failed case
// does not leave the machine changed.
func (s *session) Close(ctx context.Context) error {
	defer s.release()
	defer s.guard.done()
	s.steps.Close()
	s.log.Close()
	return errors.Join(unloadSince(s.before)...)
}

// tracePrefix starts the name of each kmodcheck's trace instance, followed
// by its PID.
const tracePrefix = "kmodcheck-"

// removeStaleTraces removes the trace instances of kmodchecks that are no
// longer running (killed with SIGKILL, which leaves no time to remove
// one): an instance left enabled keeps tracing every printk.
func removeStaleTraces() {
	dirs, _ := filepath.Glob(filepath.Join(local.TraceRoot, "instances", tracePrefix+"*"))
	for _, dir := range dirs {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(dir), tracePrefix))
		if err != nil || pid == os.Getpid() {
			continue
		}
		if !scratch.Alive(pid) {
			os.Remove(dir)
		}
	}
}

func loadedModules() map[string]bool {
	mods := map[string]bool{}
	list, _ := local.ProcModules()
	for _, m := range list {
		mods[m.Name] = true
	}
	return mods
}

func kernelRelease() string {
	var u unix.Utsname
	unix.Uname(&u)
	return unix.ByteSliceToString(u.Release[:])
}
