// Package kmsg is the kernel side of a kmsg comparison: the records the
// kernel logged during a step (as /dev/kmsg reports them, with the
// thread or interrupt context that printed each), the noise filters that
// drop records no tutorial shows, the normalisation of their texts
// (addresses, PIDs, the work directory), and the faults and taint the
// log reveals.
//
// The comparison itself, against a golden file, is package golden's:
// [Lines] turns records into its lines.
package kmsg

import "time"

// A Record is one kernel log message, as /dev/kmsg reports it.
type Record struct {
	Seq      uint64        // sequence number, increasing by one per record
	Level    int           // 0 (emerg) .. 7 (debug)
	Facility int           // 0 for the kernel, 1 for user space writes
	Time     time.Duration // since boot
	Text     string        // the message, without the trailing newline
	// PID and Task name the task that printed the record, when the target
	// can tell (on the qemu target, from the printk:console tracepoint);
	// PID 0 and Task "" mean unknown, and matching falls back to treating
	// every line as possibly any thread's. Task is the full name where the
	// kernel keeps it (a kthread's /proc/PID/comm), else the 15-character comm.
	PID  int    `json:",omitempty"`
	Task string `json:",omitempty"`
	// Context is Softirq, Hardirq or NMI for a record printed in
	// interrupt context, with the CPU it ran on; then PID and Task are
	// unset: the task the interrupt happened to interrupt did not print it.
	// "" is task context (or unknown, with PID 0).
	Context string `json:",omitempty"`
	CPU     int    `json:",omitempty"`
	// Exited: this is the last record of its task (PID), which had exited
	// when the records were read back: it prints no more. False on the
	// task's earlier records, while it runs, and in interrupt context.
	Exited bool `json:",omitempty"`
	// Waiting: the message still waited for its newline when its step
	// ended, so no reader of the kernel log had it yet (a reader's dmesg
	// shows it once a later printk completes it). It comes from the printk
	// trace: its Level is unknown, its Time the trace's.
	Waiting bool `json:",omitempty"`
}
