// Package proto is the wire protocol between kmodcheck's host side
// (runner/qemu, which boots the VM) and its agent inside the VM
// (runner/guest): the names of the virtio-serial ports, the messages on
// them, and what the host tells the initramfs's /init (the case's line,
// with the Reader its steps run as).
//
// The host talks to the agent over a virtio-serial port with one JSON object
// per line (Conn): the agent announces itself with a Hello, then answers each
// Request with one Response, in order.
package proto

import (
	"github.com/kmodcheck/kmodcheck/runner/kmsg"
	"github.com/kmodcheck/kmodcheck/runner/target"
)

// PortName is the virtio-serial port name the agent listens on; on
// LogPortName it writes every kernel record, in dmesg's format, as it reads
// them: the host keeps them as the case's kernel.log.
const (
	PortName    = "kmodcheck.agent"
	LogPortName = "kmodcheck.kmsg"
	// ShellPortName carries an interactive shell's terminal bytes, raw,
	// both ways (OpShell).
	ShellPortName = "kmodcheck.shell"
	// AlivePortName: the agent writes back every byte it reads there, from
	// its own thread, so that the host can tell, while a step runs on after
	// the kernel reported a fault, a guest that still runs from one that
	// locked up.
	AlivePortName = "kmodcheck.alive"
	// TraceInstance is the guest's tracefs instance for the printk trace:
	// /init makes it before the state is saved, the agent enables it.
	TraceInstance = "kmodcheck"
)

// Hello is the agent's first message, sent once it is ready for commands.
type Hello struct {
	Release string // uname -r
	Tainted uint64
	NextSeq uint64 // sequence number the next kernel record will carry
	Error   string // set when the guest could not set itself up
	Shell   string // what runs the steps (target.Info.Shell)
}

// Request operations.
const (
	OpClock    = "clock"    // set the guest clock from Request.UnixNano
	OpRun      = "run"      // run Request.Line
	OpLog      = "log"      // return records from Request.Since on
	OpPoweroff = "poweroff" // sync and power off; no Response follows
	OpSysrq    = "sysrq"    // write Request.Line to /proc/sysrq-trigger
	OpInspect  = "inspect"  // report loaded modules, kernel threads, leaks
	// OpShell starts an interactive shell on a new pty in Request.Dir, its
	// terminal on ShellPortName; the Response comes when the shell exits.
	// Requests sent meanwhile are served, their Responses follow it.
	OpShell  = "shell"
	OpResize = "resize" // set the shell's window size; no Response follows
)

// A Request asks the agent for one thing.
type Request struct {
	Op        string
	Line      string   // OpRun: shell command line; OpSysrq: keys
	Dir       string   // OpRun: working directory
	Env       []string // OpRun: extra environment
	TimeoutMs int64    // OpRun: kill the command after this long (0: never)
	Sync      bool     // OpRun: first take the machine's changes from the build steps (ChangesDir)
	Since     uint64   // OpLog
	UnixNano  int64    // OpClock
	Rows      int      // OpShell, OpResize: window size
	Cols      int      // OpShell, OpResize
	Term      string   // OpShell: TERM
	Piped     bool     // OpShell: the input is no terminal; a ^D in it waits for the shell's prompt
}

// A Response answers one Request.
type Response struct {
	Exit     int
	Stdout   []byte
	Stderr   []byte
	TimedOut bool
	Stuck    bool // the command ignored SIGKILL (uninterruptible sleep)
	Records  []kmsg.Record
	Dropped  uint64 // records the agent could not keep (log flood), since boot
	Tainted  uint64
	State    *target.State // OpInspect
	Error    string        // the agent could not do what was asked
	Written  int64         // OpShell: bytes the shell's terminal sent on ShellPortName
	Pwd      string        // OpRun: the case's shell's working directory after the step
	Shell    string        // OpRun: the shell the next steps run in, when the step changed it (sudo su)
}
