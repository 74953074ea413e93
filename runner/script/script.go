// Package script is kmodcheck's case language: testscript, with commands
// that run a tutorial's steps on a target kernel and compare the kernel log
// with golden files.
//
// A case is a .txtar file. Its script runs on the host, where testscript's
// builtins (cp, exists, grep, stdout, cmp, exec...) also run; the tutorial's
// own commands are script commands that run on the target:
//
//	make [args]              build, where building is fast, for the target kernel
//	ls, modinfo, insmod, lsmod, ps, dmesg, rmmod [args]
//	                         the tool of that name, run on the target kernel
//	sh line                  a shell line on the target, e.g. sh lsmod | grep kthread
//	module name              copy modules/name/ into the work directory
//	kmsg [-timeout d] [-keep filter,...] [-more] name
//	                         compare the kernel messages since the last kmsg
//	                         with golden/<case>/<name>.kmsg
//	out [-stderr] [-keep rule,...] name
//	                         compare the last step's output with golden/<case>/<name>.out
//
// The arguments of make, the tools and sh reach the target's shell as the
// case file writes them (see rawLine); the other commands take
// testscript's words.
//
// Each target command's stdout and stderr are what testscript's stdout and
// stderr assertions see; a non-zero exit fails the step unless it is negated.
package script

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/kmodcheck/kmodcheck/runner/golden"
	"github.com/kmodcheck/kmodcheck/runner/kmsg"
	"github.com/kmodcheck/kmodcheck/runner/target"
)

// Config says where cases find their target, modules and goldens.
type Config struct {
	// Context is the run's: when it is done (a stop signal, go test's
	// deadline) every case's VM, step and request ends. Testscript's API
	// carries none, so it travels here; nil: the run is never cancelled.
	Context context.Context
	Target  target.Target
	Golden  string // directory of golden files, one subdirectory per case
	Modules string // directory of module sources, one subdirectory per module
	Update  bool   // rewrite goldens that differ from what the kernel printed
	// UpdateRuns, in an update over several runs of each case (-count),
	// collects every run's lines, so that each golden is generalised over
	// them; nil for one run.
	UpdateRuns *GoldenRuns
	// BuildInGuest runs make in the kernel under test, as a reader would,
	// instead of on the host: slow under TCG, kept to measure what building
	// on the host saves.
	BuildInGuest bool
	// KernelVariants makes -update write a kernel-specific variant instead
	// of rewriting a golden shared by every kernel: kernels were named.
	KernelVariants bool
	StepTimeout    time.Duration // default bound for one step
	CaseTimeout    time.Duration // bound for a whole case; 0: none
	KmsgTimeout    time.Duration // how long kmsg waits for the golden's lines
	// ArtifactDir, if set, keeps per case (in a subdirectory named after
	// it) the kernel console log, boot to power-off.
	ArtifactDir string
	// Observe, if set, is told what each case is doing as it happens, for
	// a live progress display; a case's Record keeps what it did.
	Observe func(Notice)
}

// A Comparison is the outcome of one kmsg command.
type Comparison struct {
	Golden   string
	OK       bool
	Mismatch string
	First    golden.Difference // Mismatch as data: the golden file:line, want, got
	Diff     string
	Filtered map[string]int // lines dropped by each named filter
	Updated  bool
	Waited   time.Duration // for the kernel to print what the golden wants
	Left     int           // lines after the golden's, left for the next kmsg
	// Unattributed counts the lines a labelled golden took whose thread
	// the kernel's trace did not tell: their labels were not checked.
	Unattributed int `json:",omitempty"`
}

// stateKey finds a case's state in testscript's per-script values.
type stateKey struct{}

// caseState is one case's session and position in the kernel log.
type caseState struct {
	// ctx is the case's: the run's, bounded by -case-timeout. Every step,
	// comparison and request of the case runs under it.
	ctx     context.Context
	mu      sync.Mutex
	t       testscript.T // the case's T, to fail it from its end-of-case checks
	work    string
	session target.Session
	up      bool     // the kernel was waited for (kernel): up, or the case failed
	script  []string // the case file's script, read on first use (see rawLine)
	next    uint64   // first kernel record the next kmsg compares
	// leftover is what the last kmsg left for the next; nil when nothing.
	leftover *leftover
	steps    int    // steps and comparisons counted so far (count)
	record   Record // what the case did, for the reports
	// lastLine is the command line of the last step or comparison.
	lastLine string

	taken []golden.Line // what the previous kmsg took, for -update

	start       target.State   // what the kernel had loaded and running at the start
	taint       uint64         // /proc/sys/kernel/tainted after the last step
	lastSeq     uint64         // the kernel record after the last step's
	expect      []*expectation // what the next step is expected to provoke (expect)
	armed       []*expectation // from that step on, until the case ends
	expectLeak  *expectation   // leaks the case expects at its end
	stepTimeout time.Duration  // set by the timeout command
	deadline    time.Time      // the whole case's
	dead        string         // why the kernel can run no more steps
	faulted     bool           // the kernel reported a fault the case expected

	last *target.Result // the last step's, whose output out compares

	broken *knownBreak // the failure this kernel is known to give (broken)
}

// Params returns the testscript parameters that run the case files with
// cfg. Each case reads its own file again, so that target commands get
// their lines as written (see rawLine).
func (cfg *Config) Params(files ...string) testscript.Params {
	cmds := map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"make":    cfg.stepCmd("make", cfg.buildWhere()),
		"sh":      cfg.shCmd,
		"module":  cfg.moduleCmd,
		"kmsg":    cfg.kmsgCmd,
		"expect":  cfg.expectCmd,
		"timeout": cfg.timeoutCmd,
		"out":     cfg.outCmd,
		"broken":  cfg.brokenCmd,
	}
	for _, tool := range TargetTools {
		cmds[tool] = cfg.stepCmd(tool, target.OnKernel)
	}
	return testscript.Params{
		Setup: func(env *testscript.Env) error {
			ctx := cfg.Context
			if ctx == nil {
				ctx = context.Background()
			}
			if ctx.Err() != nil {
				return fmt.Errorf("not started: %w", context.Cause(ctx))
			}
			st := &caseState{ctx: ctx, t: env.T(), work: env.WorkDir}
			if cfg.CaseTimeout > 0 {
				st.deadline = time.Now().Add(cfg.CaseTimeout)
				var cancel context.CancelFunc
				st.ctx, cancel = context.WithDeadline(ctx, st.deadline)
				env.Defer(cancel)
			}
			env.Values[stateKey{}] = st
			env.Setenv("KMODCHECK_TARGET", cfg.Target.Name())
			return nil
		},
		Files:     files,
		Cmds:      cmds,
		Condition: cfg.condition,
	}
}

// buildWhere is where make runs: where it is fast, unless BuildInGuest.
func (cfg *Config) buildWhere() string {
	if cfg.BuildInGuest {
		return target.OnKernel
	}
	return target.OnBuild
}

// TargetTools are the tutorial commands that run on the kernel under test.
var TargetTools = []string{"ls", "modinfo", "insmod", "lsmod", "ps", "dmesg", "rmmod"}

// session returns the case's session, starting its kernel on first use so
// that a case pays for a boot only once it needs one. The kernel may still
// be booting: build steps run meanwhile, and kernel (below) waits for it.
func (cfg *Config) session(ts *testscript.TestScript) *caseState {
	st := ts.Value(stateKey{}).(*caseState)
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.session != nil {
		return st
	}
	c := target.Case{Name: ts.Name(), WorkDir: st.work}
	if cfg.ArtifactDir != "" {
		c.LogDir = filepath.Join(cfg.ArtifactDir, ts.Name())
	}
	st.record.Booting = true
	cfg.observe(Notice{Case: ts.Name(), Kind: Booting})
	s, err := cfg.Target.Start(st.ctx, c)
	if err != nil {
		cfg.notStarted(ts, st, err)
	}
	st.session = s
	ts.Defer(func() {
		if !st.up && !failed(st.t) && st.record.Failure == nil {
			// A case of build steps only: its kernel must still come up.
			if err := cfg.bringUp(ts, st); err != nil {
				cfg.record(ts, st, Failure{Kind: FailSetup, Message: err.Error()})
				ts.Logf("FAIL: %v", err)
				fail(st.t)
			}
		}
		cfg.checkFailed(ts, st)
		if st.up {
			cfg.endOfCase(ts, st)
		}
		cfg.settleBreak(ts, st)
		s.Close(st.ctx) // at once when the case's time is up or the run was stopped
	})
	return st
}

// kernel waits for the case's kernel to be up, the first time a step or
// comparison needs it, and fails the case when it did not start.
func (cfg *Config) kernel(ts *testscript.TestScript, st *caseState) {
	if st.up {
		return
	}
	if err := cfg.bringUp(ts, st); err != nil {
		cfg.fail(ts, st, Failure{Kind: FailSetup, Message: err.Error()})
	}
}

// bringUp waits for the kernel to be up, says what it is, and takes what
// it has loaded and running at the start, for the end-of-case checks.
func (cfg *Config) bringUp(ts *testscript.TestScript, st *caseState) error {
	st.up = true
	cfg.observe(Notice{Case: ts.Name(), Kind: Awaiting})
	info, err := st.session.Ready(st.ctx)
	if err != nil {
		st.record.BootErr = err
		cfg.observe(Notice{Case: ts.Name(), Kind: Booted, BootErr: err})
		return fmt.Errorf("start %s target: %v", cfg.Target.Name(), err)
	}
	ts.Logf("[%s %s, %s: ready in %.1fs]", info.Target, info.Release, accelName(info), info.Boot.Seconds())
	if info.Shell != "" {
		ts.Logf("[steps run in %s]", info.Shell)
	}
	for _, n := range info.Notes {
		ts.Logf("[%s]", n)
	}
	st.next, st.lastSeq = info.LogStart, info.LogStart
	if st.start, err = st.session.Inspect(st.ctx); err != nil {
		return fmt.Errorf("inspect the kernel at the start: %v", err)
	}
	st.taint = st.start.Tainted
	st.record.Boot = &info
	cfg.observe(Notice{Case: ts.Name(), Kind: Booted, Boot: &info})
	return nil
}

// notStarted fails a case whose kernel could not be started at all.
func (cfg *Config) notStarted(ts *testscript.TestScript, st *caseState, err error) {
	st.record.BootErr = err
	cfg.observe(Notice{Case: ts.Name(), Kind: Booted, BootErr: err})
	cfg.fail(ts, st, Failure{Kind: FailSetup, Message: fmt.Sprintf("start %s target: %v", cfg.Target.Name(), err)})
}

func accelName(info target.Info) string {
	if info.Accel == "" {
		return "host kernel"
	}
	return info.Accel
}

func (cfg *Config) observe(n Notice) {
	if cfg.Observe != nil {
		cfg.Observe(n)
	}
}

func (cfg *Config) stepCmd(tool, where string) func(ts *testscript.TestScript, neg bool, args []string) {
	return func(ts *testscript.TestScript, neg bool, args []string) {
		line := tool
		if raw := cfg.rawLine(ts, tool, neg, args); raw != "" {
			line += " " + raw
		}
		cfg.runStep(ts, neg, line, where)
	}
}

// shCmd runs a shell line on the target: everything after sh, as the case
// file writes it, so that a tutorial's line is written as the tutorial
// shows it: sh dmesg -t | grep -v '^x y' | tail -7.
func (cfg *Config) shCmd(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) == 0 {
		ts.Fatalf("usage: sh command-line")
	}
	cfg.runStep(ts, neg, cfg.rawLine(ts, "sh", neg, args), target.OnKernel)
}

func (cfg *Config) runStep(ts *testscript.TestScript, neg bool, line, where string) {
	st := cfg.session(ts)
	onKernel := cfg.reachesKernel(where)
	if onKernel {
		cfg.kernel(ts, st)
	}
	st.count(line)
	if st.dead != "" {
		cfg.fail(ts, st, st.stepFailure(FailStep, line, "the kernel can run no more steps: "+st.dead))
	}
	step := target.Step{Line: line, Dir: ts.MkAbs("."), Where: where, Timeout: st.timeoutFor(cfg)}
	if step.Timeout <= 0 {
		cfg.fail(ts, st, st.stepFailure(FailStep, line, fmt.Sprintf("the case ran out of time (-case-timeout %v)", cfg.CaseTimeout)))
	}
	st.armed, st.expect = append(st.armed, st.expect...), nil
	step.ExpectFault = st.stopsWorkExpected()
	cfg.begin(ts.Name(), st, Command, line, where)
	res, err := st.session.Run(st.ctx, step)
	cfg.ranCommand(ts.Name(), st, &res, err)
	st.last = &res
	ts.Stdout().Write(res.Stdout)
	ts.Stderr().Write(res.Stderr)
	if res.Shell != "" {
		ts.Logf("[%s]", res.Shell)
	}
	logKernel(ts, st, res.Log)
	if res.Dropped > 0 {
		ts.Logf("[kernel] %d records of this step were dropped to bound memory (a log flood); kernel.log has them all", res.Dropped)
	}
	if n := len(res.Log); n > 0 {
		st.lastSeq = res.Log[n-1].Seq + 1
	}
	if err != nil {
		st.dead = firstLine(err.Error())
		cfg.kernelFailed(ts, st, line, err)
		return
	}
	if res.TimedOut {
		cfg.timedOut(ts, st, step)
	}
	if onKernel {
		cfg.checkKernel(ts, st, line, res)
	}
	switch {
	case neg && res.Exit == 0:
		cfg.fail(ts, st, st.stepFailure(FailStep, line, "unexpected success"))
	case !neg && res.Exit != 0:
		cfg.fail(ts, st, st.stepFailure(FailStep, line, fmt.Sprintf("exit status %d", res.Exit)))
	}
}

// reachesKernel says whether a step run where runs on the kernel under
// test: every step on the kernel, and builds where the target builds on
// it (target.BuildsOnKernel).
func (cfg *Config) reachesKernel(where string) bool {
	_, builds := cfg.Target.(target.BuildsOnKernel)
	return where == target.OnKernel || builds
}

// maxLoggedKernelLines bounds the kernel lines a step adds to the
// transcript: a module that floods the log must not flood the report.
const maxLoggedKernelLines = 200

func logKernel(ts *testscript.TestScript, st *caseState, recs []kmsg.Record) {
	norm := kmsg.Normalizer{Work: st.work}
	n := 0
	for _, r := range recs {
		if r.Facility != 0 {
			continue
		}
		if n++; n <= maxLoggedKernelLines {
			if th := r.ThreadLabel(); th != "" {
				ts.Logf("[kernel %s] %s", th, norm.Line(r.Text))
			} else {
				ts.Logf("[kernel] %s", norm.Line(r.Text))
			}
			if r.Waiting {
				ts.Logf("[no newline yet: a reader's dmesg shows the line above once the kernel logs another]")
			}
		}
	}
	if n > maxLoggedKernelLines {
		ts.Logf("[kernel] ... and %d more lines: kernel.log has them all", n-maxLoggedKernelLines)
	}
}

// moduleCmd copies a module's sources from the modules directory into the
// work directory, refusing to overwrite a file the case's archive holds.
// The copies are the work directory's owner's: the reader's, once the
// case's kernel has started (its target gives it the directory).
func (cfg *Config) moduleCmd(ts *testscript.TestScript, neg bool, args []string) {
	src, err := cfg.moduleDir(neg, args)
	if err != nil {
		ts.Fatalf("%v", err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		ts.Fatalf("module %s: %v", args[0], err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		ts.Check(err)
		dst := ts.MkAbs(e.Name())
		if _, err := os.Stat(dst); err == nil {
			ts.Fatalf("module %s: %s is also in the case's archive", args[0], e.Name())
		}
		ts.Check(os.WriteFile(dst, data, 0o644))
		ts.Check(ownLike(dst, ts.Getenv("WORK")))
	}
}

// ownLike gives file the owner of dir, where this process may.
func ownLike(file, dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || os.Geteuid() != 0 {
		return nil
	}
	return os.Chown(file, int(st.Uid), int(st.Gid))
}

// moduleDir returns the directory a module command copies, for the
// command and for Check.
func (cfg *Config) moduleDir(neg bool, args []string) (string, error) {
	if neg || len(args) != 1 {
		return "", fmt.Errorf("usage: module name")
	}
	src := filepath.Join(cfg.Modules, args[0])
	if fi, err := os.Stat(src); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("module %s: no directory %s (modules are the directories of -modules, one per module)", args[0], src)
	}
	return src, nil
}
