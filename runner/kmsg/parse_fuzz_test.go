package kmsg

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// maxErrorLen bounds an error about input kmodcheck does not control: a
// garbage read is named, not copied into the report.
const maxErrorLen = 2048

// FuzzParseRecord parses a read from /dev/kmsg: no panic, an error of
// bounded length, and a record that reads back the same when written in
// the kernel's format.
func FuzzParseRecord(f *testing.F) {
	f.Add("6,1234,5989857961,-;Inside kthread_init function")
	f.Add("4,99,12,-,caller=T231;hello: unknown parameter 'world' ignored\n SUBSYSTEM=x\n DEVICE=+y")
	f.Add("14,7,100,c;kmodcheck: step 3 done: insmod ./x.ko")
	f.Add("6,1,2;a\\x0a;b")
	f.Fuzz(func(t *testing.T, read string) {
		rec, err := ParseRecord(read)
		if err != nil {
			if len(err.Error()) > maxErrorLen {
				t.Fatalf("error of %d bytes for a read of %d: %.200q...", len(err.Error()), len(read), err)
			}
			return
		}
		if strings.Contains(rec.Text, "\n") || rec.Level < 0 || rec.Level > 7 || rec.Facility < 0 || rec.Time < 0 {
			t.Fatalf("ParseRecord(%q) = %+v", read, rec)
		}
		again, err := ParseRecord(fmt.Sprintf("%d,%d,%d,-;%s", rec.Facility<<3|rec.Level, rec.Seq, rec.Time.Microseconds(), rec.Text))
		if err != nil || again != rec {
			t.Fatalf("ParseRecord(%q) = %+v; written back and read again: %+v, %v", read, rec, again, err)
		}
	})
}

// faultKinds are the kinds Faults may report.
var faultKinds = []string{"oops", "bug", "warning", "panic", "hung task", "lockup", "rcu stall", "ubsan"}

// FuzzFaults scans console or log lines for fault reports: each report is
// a run of consecutive input lines, in order, that starts with a line
// StartsFault takes, no longer than maxFaultLines, with a known kind and a
// title among its lines; the first report starts at the first such line.
func FuzzFaults(f *testing.F) {
	f.Add("Inside init\nBUG: kernel NULL pointer dereference, address: 0000000000000000\n#PF: supervisor write access in kernel mode\nOops: 0002 [#1] PREEMPT SMP NOPTI\nRIP: 0010:null_init+0x20/0x1000 [null]\nCall Trace:\n <TASK>\n ? do_one_initcall+0x59/0x220\n </TASK>\n---[ end trace 0000000000000000 ]---\nafter")
	f.Add("------------[ cut here ]------------\nkernel BUG at /tmp/x/bug.c:12!\ninvalid opcode: 0000 [#1] PREEMPT SMP NOPTI\n---[ end trace 0000000000000000 ]---")
	f.Add("------------[ cut here ]------------\nWARNING: CPU: 0 PID: 118 at /tmp/w.c:5 w_init+0x5/0x10 [w]\nKernel panic - not syncing: panic_on_warn set ...\n---[ end Kernel panic - not syncing: panic_on_warn set ... ]---")
	f.Add("INFO: task insmod:231 blocked for more than 120 seconds.\nwatchdog: BUG: soft lockup - CPU#0 stuck for 22s! [x:1]\nrcu: INFO: rcu_preempt detected stalls on CPUs/tasks:\nUBSAN: shift-out-of-bounds in x.c:3:5\ngeneral protection fault, probably for non-canonical address")
	f.Fuzz(func(t *testing.T, console string) {
		lines := strings.Split(console, "\n")
		faults := Faults(lines)
		first := slices.IndexFunc(lines, func(l string) bool { _, ok := StartsFault(l); return ok })
		if (first < 0) != (len(faults) == 0) {
			t.Fatalf("%d reports, first line starting one: %d", len(faults), first)
		}
		at := 0 // where the next report may start
		for i, ft := range faults {
			if len(ft.Lines) == 0 || len(ft.Lines) > maxFaultLines {
				t.Fatalf("report %d has %d lines", i, len(ft.Lines))
			}
			if !slices.Contains(faultKinds, ft.Kind) || !slices.Contains(ft.Lines, ft.Title) {
				t.Fatalf("report %d: kind %q, title %q, lines %q", i, ft.Kind, ft.Title, ft.Lines)
			}
			if _, ok := StartsFault(ft.Lines[0]); !ok {
				t.Fatalf("report %d starts with %q, which starts no report", i, ft.Lines[0])
			}
			start := slices.Index(lines[at:], ft.Lines[0])
			if start < 0 || (i == 0 && at+start != first) {
				t.Fatalf("report %d: its first line %q is not where a report starts", i, ft.Lines[0])
			}
			start += at
			if start+len(ft.Lines) > len(lines) || !slices.Equal(lines[start:start+len(ft.Lines)], ft.Lines) {
				t.Fatalf("report %d: %q is not a run of the input's lines", i, ft.Lines)
			}
			at = start + len(ft.Lines)
			if len(ft.Summary()) > len(ft.Lines) {
				t.Fatalf("report %d: summary longer than the report", i)
			}
		}
	})
}
