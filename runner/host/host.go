// Package host is the target for privileged runners: steps run on the
// machine's own kernel, modules load into it. It is never the default, since
// a faulty module can take the machine down with it.
package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kmodcheck/kmodcheck/runner/kmsg"
	"github.com/kmodcheck/kmodcheck/runner/local"
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
	s := &session{before: loadedModules(), release: release}
	recs, err := readKmsg()
	if err != nil {
		release()
		return nil, err
	}
	s.info = target.Info{Target: "host", Release: kernelRelease(), Shell: "/bin/sh -c, one process per step (no " + local.Bash + ")"}
	if _, err := os.Stat(local.Bash); err == nil {
		s.info.Shell = local.Bash + ", one interactive session per case"
	}
	s.info.LogStart = nextAfter(recs, 0)
	s.seen = s.info.LogStart
	s.timeout = t.StepTimeout
	// An instance of its own: the host's tracing, if any, is left alone,
	// but what a killed kmodcheck left is removed.
	removeStaleTraces()
	if s.trace, err = local.NewPrintkTrace(fmt.Sprintf("%s%d", tracePrefix, os.Getpid())); err != nil {
		s.info.Notes = append(s.info.Notes, fmt.Sprintf("kernel lines are not attributed to threads (PID 0): %v", err))
	}
	return s, nil
}

type session struct {
	mu      sync.Mutex
	info    target.Info
	timeout time.Duration
	before  map[string]bool    // modules loaded before the case
	release func()             // gives the kernel to the next case
	shell   *local.Shell       // the case's bash session, from its first step; nil without bash
	trace   *local.PrintkTrace // names each record's task; nil where tracing is not permitted
	seen    uint64             // the records before it have been paired with the trace's printks
}

func (s *session) Describe() target.Info { return s.info }

func (s *session) Run(ctx context.Context, step target.Step) (target.Result, error) {
	if step.Timeout == 0 {
		step.Timeout = s.timeout
	}
	start := nextSeq()
	res := s.runStep(ctx, step)
	res.Log = s.stepLog(ctx, start, step.Line)
	res.Tainted = local.ProcTainted()
	return res, nil
}

// stepLog returns the records from start on, each with the task that
// printed it, from the trace: a barrier makes sure the trace has every
// printk the records came from. Records printed between steps are paired
// too (and not returned), so that a printk of the step that is in the
// trace but in no record yet is told apart: a message waiting for its
// newline. That one is completed with a marker in the kernel log, as the
// guest's agent does and a reader's next printk would; the marker itself
// is not the step's.
func (s *session) stepLog(ctx context.Context, start uint64, line string) []kmsg.Record {
	if s.trace == nil {
		recs, _ := s.Log(ctx, start)
		return recs
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	marks, err := s.trace.Mark(ctx, "step end")
	all, _ := s.Log(ctx, s.seen)
	if err != nil {
		return since(all, start)
	}
	s.label(ctx, all)
	s.seen = nextAfter(all, s.seen)
	if s.trace.Pending(marks) {
		marker := "kmodcheck: step done: " + line
		if f, err := os.OpenFile("/dev/kmsg", os.O_WRONLY, 0); err == nil {
			f.WriteString("<14>" + marker + "\n") // <14>: user.info, which the kmodcheck filter knows
			f.Close()
		}
		// A second barrier: the trace has the marker's printk too, so it
		// pairs with its record and is not left pending for the next step.
		if m, err := s.trace.Mark(ctx, "step end, completed"); err == nil {
			marks = m
		}
		more, _ := s.Log(ctx, s.seen)
		s.label(ctx, more)
		s.seen = nextAfter(more, s.seen)
		for _, r := range more {
			if !(r.Facility == 1 && r.Text == marker) {
				all = append(all, r)
			}
		}
	}
	s.trace.DropBefore(marks)
	return since(all, start)
}

// since returns the records of recs from seq on.
func since(recs []kmsg.Record, seq uint64) []kmsg.Record {
	i := 0
	for i < len(recs) && recs[i].Seq < seq {
		i++
	}
	return recs[i:]
}

// label gives each record the task or context that printed it. A record
// read after the barrier may have its event after it too: a second
// barrier brings that in; a record still unpaired then lost its event.
func (s *session) label(ctx context.Context, recs []kmsg.Record) {
	var waiting []int
	for i := range recs {
		if ev, ok := s.trace.Attribute(recs[i].Text); ok {
			ev.Label(&recs[i])
		} else {
			waiting = append(waiting, i)
		}
	}
	if len(waiting) == 0 {
		return
	}
	if _, err := s.trace.Mark(ctx, "late events"); err != nil {
		return
	}
	for _, i := range waiting {
		if ev, ok := s.trace.Attribute(recs[i].Text); ok {
			ev.Label(&recs[i])
		}
	}
}

// nextAfter is the sequence number after the last of recs, or start.
func nextAfter(recs []kmsg.Record, start uint64) uint64 {
	if len(recs) == 0 {
		return start
	}
	return recs[len(recs)-1].Seq + 1
}

func (s *session) Log(ctx context.Context, since uint64) ([]kmsg.Record, error) {
	recs, err := readKmsg()
	if err != nil {
		return nil, err
	}
	var out []kmsg.Record
	for _, r := range recs {
		if r.Seq >= since {
			out = append(out, r)
		}
	}
	return out, nil
}

// runStep types the line into the case's bash session, or runs it with
// /bin/sh -c where there is no bash.
func (s *session) runStep(ctx context.Context, step target.Step) target.Result {
	if s.shell != nil && s.shell.Dead() != "" {
		s.shell.Close()
		s.shell = nil
	}
	if s.shell == nil {
		env, err := local.WithSudo(local.HostEnv(), filepath.Join(os.TempDir(), "kmodcheck-sudo"))
		if err != nil {
			return target.Result{Step: step, Exit: -1, Stderr: []byte(err.Error())}
		}
		sh, err := local.StartShell(step.Dir, env)
		if err != nil {
			return local.RunSh(ctx, step, local.HostEnv())
		}
		// A nested shell (sudo su) would need the host's sudoers changed
		// (use_pty) to read the terminal: refused, not left to hang.
		sh.Refuse = "nested shells (sudo su, sudo -i, sudo -s, su -) are not supported on the host target (they would need this machine's sudo configuration changed: use_pty); run the case on the qemu target"
		s.shell = sh
	}
	return s.shell.Run(ctx, step)
}

// Inspect reports the loaded modules and kernel threads. Leaks are not
// looked for on the host: that needs slub_debug on the kernel command line.
func (s *session) Inspect(ctx context.Context) (target.State, error) {
	st := target.State{Tainted: local.ProcTainted(), LeakNote: "leaks are looked for on the qemu target only"}
	for m := range loadedModules() {
		st.Modules = append(st.Modules, m)
	}
	sort.Strings(st.Modules)
	st.Kthreads = local.ProcKthreads()
	if s.shell != nil && s.shell.Dead() == "" {
		st.Jobs, _ = s.shell.Jobs()
	}
	return st, nil
}

// BlockedTasks writes SysRq w and returns what the kernel printed.
func (s *session) BlockedTasks(ctx context.Context) ([]kmsg.Record, error) {
	start := nextSeq()
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
	var errs []string
	if s.shell != nil {
		s.shell.StopJobs()
		s.shell.Close()
	}
	if s.trace != nil {
		s.trace.Close()
	}
	for m := range loadedModules() {
		if !s.before[m] {
			if err := unix.DeleteModule(m, unix.O_NONBLOCK); err != nil {
				errs = append(errs, fmt.Sprintf("rmmod %s: %v", m, err))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// nextSeq is the sequence number the kernel's next log record will have.
// It writes nothing to the log: a reader's dmesg on this machine shows
// none of kmodcheck's lines. A line still waiting for its newline when a
// step ends (pr_cont) is read with the next record anyone prints, as the
// reader's dmesg reads it.
func nextSeq() uint64 {
	recs, _ := readKmsg()
	return nextAfter(recs, 0)
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
		if err := unix.Kill(pid, 0); errors.Is(err, unix.ESRCH) {
			os.Remove(dir)
		}
	}
}

// readKmsg reads every record the kernel still holds, without blocking.
func readKmsg() ([]kmsg.Record, error) {
	fd, err := unix.Open("/dev/kmsg", unix.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/kmsg: %w", err)
	}
	defer unix.Close(fd)
	var recs []kmsg.Record
	buf := make([]byte, 8192)
	for {
		n, err := unix.Read(fd, buf)
		if err == unix.EPIPE {
			continue
		}
		if err != nil || n <= 0 {
			return recs, nil
		}
		if r, err := kmsg.ParseRecord(strings.TrimRight(string(buf[:n]), "\n")); err == nil {
			recs = append(recs, r)
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
