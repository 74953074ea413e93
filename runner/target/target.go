// Package target defines what a case runs on: a kernel that can build, load
// and exercise a module, whether booted under QEMU or the machine's own.
//
// Data flows one way: the case language asks a Session to run a Step, the
// Session returns a Result, and comparison and reports read Results.
//
// It is the contract only: how a step runs on a kernel is runner/local's
// (for the guest agent and the host target) and each target's.
package target

import (
	"context"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/kmsg"
)

// A Target starts sessions: one fresh kernel per case.
type Target interface {
	// Name is "qemu" or "host".
	Name() string
	// Release is the uname -r of the kernel its sessions run.
	Release() string
	// Start begins a kernel for one case. It may return before the kernel
	// is up: build steps (OnBuild) then run while it boots, and everything
	// else waits for it (Ready).
	Start(ctx context.Context, c Case) (Session, error)
}

// BuildsOnKernel is implemented by a Target whose build steps run on the
// kernel under test (the host target's): a case takes its kernel's state
// before its first step, build or not, and checks the kernel after each,
// so that what a build does to the kernel (a Makefile that loads its
// module) is the case's. Another target's builds run apart from the
// kernel, while it boots.
type BuildsOnKernel interface {
	BuildsOnKernel()
}

// A Case is what a target needs to know of the case it serves.
type Case struct {
	Name    string
	WorkDir string // the case's files; the session sees them at the same path
	LogDir  string // where to keep the kernel console log; empty: not kept
}

// A Session is one kernel serving one case.
type Session interface {
	// Ready waits until the kernel is up and says what the session runs
	// on, for reports: kernel release, accelerator, boot time; or why the
	// kernel could not start.
	Ready(ctx context.Context) (Info, error)
	// Run runs one step and waits for it, its kernel log included. A step
	// on the kernel waits for it to be up, a build step does not.
	Run(ctx context.Context, step Step) (Result, error)
	// Log returns the kernel records with sequence numbers >= since that the
	// kernel has logged so far, without running anything.
	Log(ctx context.Context, since uint64) ([]kmsg.Record, error)
	// Inspect reports what is loaded and running in the kernel now.
	Inspect(ctx context.Context) (State, error)
	// BlockedTasks asks the kernel to list its blocked tasks (SysRq w) and
	// returns what it printed, for a step that hung.
	BlockedTasks(ctx context.Context) ([]kmsg.Record, error)
	// Close stops the kernel (or, on the host, unloads what the case loaded)
	// and releases everything the session holds.
	Close(ctx context.Context) error
}

// State is what a kernel has loaded and running, for finding what a case
// left behind.
type State struct {
	Modules  []string // loaded modules, by name
	Kthreads []string // kernel threads' names (children of kthreadd)
	Tainted  uint64
	// Leaks are slab objects still allocated from code of modules that are
	// no longer loaded, when the kernel tracks allocation sites.
	Leaks    []Leak
	LeakNote string // what of the leaks could not be looked for, and why
	// Jobs are the case's shell's jobs still running, as `jobs -l` lists
	// them; the session stops them when it closes.
	Jobs []string `json:",omitempty"`
}

// A Leak is a group of slab objects allocated at one site in code of a
// module that has since been unloaded.
type Leak struct {
	Cache  string   // e.g. kmalloc-8
	Count  int      // objects still allocated
	Site   string   // the allocating code, symbolised if the module was seen loaded
	Module string   // the module that allocated them
	Stack  []string // the allocation's call stack, as the kernel printed it
}

// Info describes a running session.
type Info struct {
	Target   string        // "qemu" or "host"
	Release  string        // uname -r of the kernel under test
	Accel    string        // "kvm", "tcg", or "" on the host
	Boot     time.Duration // from start to the first guest command
	Console  string        // path of the kernel console log, if kept
	LogStart uint64        // first kernel record logged after the session started
	Notes    []string      // what the session noticed while starting (probe results)
	// Shell runs the steps: /bin/bash, one interactive session per case,
	// or /bin/sh -c per step where there is no bash.
	Shell string
}

// Where a step runs.
const (
	OnKernel = "kernel" // on the kernel under test
	OnBuild  = "build"  // where building is fast, with uname -r reporting the kernel under test
)

// A Step is one command of a tutorial.
type Step struct {
	Line    string        // a shell command line, run by /bin/sh -c
	Dir     string        // working directory (the case's work directory)
	Env     []string      // extra environment, KEY=VALUE
	Where   string        // OnKernel or OnBuild
	Timeout time.Duration // 0 means the session's default
	// ExpectFault: the case expects the step to make the kernel report a
	// fault. One that leaves the guest running does not end the step: it
	// runs on, as the reader's does.
	ExpectFault bool
}

// MaxLine is the longest line a target types as a step (4094 bytes): a
// terminal in canonical mode passes no longer line whole. The shell
// refuses a longer one; a case's check refuses it before anything boots.
const MaxLine = 4094

// MaxOutput bounds what a step's standard output, and its standard error,
// keep: the first MaxOutput bytes. What the step writes beyond them is read
// and dropped, counted, and a last line says so, so that a step printing
// without end (`yes`, a binary file) costs neither side's memory and still
// fails its `out` visibly.
const MaxOutput = 1 << 20

// A Result is what one Step did.
type Result struct {
	Step     Step
	Exit     int // exit status; -1 when killed
	Stdout   []byte
	Stderr   []byte
	Duration time.Duration
	Log      []kmsg.Record // kernel records logged while the step ran
	Dropped  uint64        // records of the step lost to a log flood (kernel.log has them)
	TimedOut bool
	Tainted  uint64 // /proc/sys/kernel/tainted after the step
	// Shell is the shell the following steps run in, when the step changed
	// it: "root shell: bash, depth 2" after sudo su, depth 1 after its exit.
	Shell string `json:",omitempty"`
}

// A KernelError is why a session could not finish a step or a request
// because of its kernel: the kernel died (a panic) or stopped answering (a
// lock-up), with the reports it printed before, in the order it printed
// them (from its console; the first is the cause, the rest consequences).
type KernelError struct {
	Err    error        // what the session saw: the guest closed its channel, no answer
	Faults []kmsg.Fault // the kernel's reports; none when it printed none
	Text   string       // Err explained: the reports' summaries or the console's last lines
}

func (e *KernelError) Error() string { return e.Text }
func (e *KernelError) Unwrap() error { return e.Err }
