// Package host is the target for privileged runners: steps run on the
// machine's own kernel, modules load into it. It is never the default, since
// a faulty module can take the machine down with it.
package host

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kmodcheck/kmodcheck/runner/kmsg"
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
	s.info = target.Info{Target: "host", Release: kernelRelease(), Shell: "/bin/sh -c, one process per step (no " + target.Bash + ")"}
	if _, err := os.Stat(target.Bash); err == nil {
		s.info.Shell = target.Bash + ", one interactive session per case"
	}
	if len(recs) > 0 {
		s.info.LogStart = recs[len(recs)-1].Seq + 1
	}
	s.timeout = t.StepTimeout
	// An instance of its own: the host's tracing, if any, is left alone.
	if s.trace, err = target.NewPrintkTrace(fmt.Sprintf("kmodcheck-%d", os.Getpid())); err != nil {
		s.info.Notes = append(s.info.Notes, fmt.Sprintf("kernel lines are not attributed to threads (PID 0): %v", err))
	}
	return s, nil
}

type session struct {
	mu      sync.Mutex
	info    target.Info
	timeout time.Duration
	before  map[string]bool     // modules loaded before the case
	release func()              // gives the kernel to the next case
	shell   *target.Shell       // the case's bash session, from its first step; nil without bash
	trace   *target.PrintkTrace // names each record's task; nil where tracing is not permitted
}

func (s *session) Describe() target.Info { return s.info }

func (s *session) Run(ctx context.Context, step target.Step) (target.Result, error) {
	if step.Timeout == 0 {
		step.Timeout = s.timeout
	}
	start := s.mark(fmt.Sprintf("kmodcheck: step begin %d", time.Now().UnixNano()))
	res := s.runStep(ctx, step)
	s.mark("kmodcheck: step end")
	recs, _ := readKmsg()
	for _, r := range recs {
		if r.Seq > start && !(r.Facility == 1 && strings.HasPrefix(r.Text, "kmodcheck: step end")) {
			res.Log = append(res.Log, r)
		}
	}
	s.attribute(ctx, res.Log)
	res.Tainted = target.ProcTainted()
	return res, nil
}

// attribute names the task of each of a step's records, from the trace:
// a barrier makes sure the trace has every printk the records came from.
func (s *session) attribute(ctx context.Context, recs []kmsg.Record) {
	if s.trace == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	marks, err := s.trace.Mark(ctx, "step end")
	if err != nil {
		return
	}
	for i := range recs {
		if ev, ok, _ := s.trace.Attribute(recs[i].Text); ok {
			ev.Label(&recs[i])
		}
	}
	s.trace.DropBefore(marks)
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
		env, err := target.WithSudo(target.HostEnv(), filepath.Join(os.TempDir(), "kmodcheck-sudo"))
		if err != nil {
			return target.Result{Step: step, Exit: -1, Stderr: []byte(err.Error())}
		}
		sh, err := target.StartShell(step.Dir, env)
		if err != nil {
			return target.RunLocal(ctx, step, target.HostEnv())
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
	st := target.State{Tainted: target.ProcTainted(), LeakNote: "leaks are looked for on the qemu target only"}
	for m := range loadedModules() {
		st.Modules = append(st.Modules, m)
	}
	sort.Strings(st.Modules)
	st.Kthreads = target.ProcKthreads()
	if s.shell != nil && s.shell.Dead() == "" {
		st.Jobs, _ = s.shell.Jobs()
	}
	return st, nil
}

// BlockedTasks writes SysRq w and returns what the kernel printed.
func (s *session) BlockedTasks(ctx context.Context) ([]kmsg.Record, error) {
	start := s.mark("kmodcheck: blocked tasks")
	// The kernel prints the dump as the write is handled: when it returns,
	// every record of it is in the log.
	if err := os.WriteFile("/proc/sysrq-trigger", []byte("w"), 0); err != nil {
		return nil, err
	}
	return s.Log(ctx, start+1)
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

// mark writes a marker to the kernel log and returns its sequence number.
func (s *session) mark(text string) uint64 {
	if f, err := os.OpenFile("/dev/kmsg", os.O_WRONLY, 0); err == nil {
		f.WriteString("<14>" + text + "\n")
		f.Close()
	}
	recs, _ := readKmsg()
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].Text == text {
			return recs[i].Seq
		}
	}
	return 0
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
	list, _ := target.ProcModules()
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
