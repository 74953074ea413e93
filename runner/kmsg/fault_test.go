package kmsg

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFaults(t *testing.T) {
	tests := []struct {
		name  string
		log   string
		kinds []string
		title string
		lines int
	}{{
		name: "null dereference in init",
		log: `Inside init
BUG: kernel NULL pointer dereference, address: 0000000000000000
#PF: supervisor write access in kernel mode
Oops: 0002 [#1] PREEMPT SMP NOPTI
CPU: 1 PID: 231 Comm: insmod Tainted: G           OE      6.1.0-56-amd64 #1  Debian 6.1.142-1
RIP: 0010:null_init+0x20/0x1000 [null]
Call Trace:
 <TASK>
 do_one_initcall+0x59/0x220
 </TASK>
---[ end trace 0000000000000000 ]---
after`,
		kinds: []string{"oops"},
		title: "BUG: kernel NULL pointer dereference, address: 0000000000000000",
		lines: 10,
	}, {
		name: "BUG()",
		log: `------------[ cut here ]------------
kernel BUG at /tmp/x/bug.c:12!
invalid opcode: 0000 [#1] PREEMPT SMP NOPTI
RIP: 0010:bug_exit+0x5/0x10 [bug]
---[ end trace 0000000000000000 ]---`,
		kinds: []string{"bug"},
		title: "kernel BUG at /tmp/x/bug.c:12!",
		lines: 5,
	}, {
		name: "WARN",
		log: `------------[ cut here ]------------
WARNING: CPU: 0 PID: 118 at /tmp/w/warn.c:9 warn_init+0x15/0x1000 [warn]
Modules linked in: warn(OE+)
---[ end trace 0000000000000000 ]---
normal line`,
		kinds: []string{"warning"},
		title: "WARNING: CPU: 0 PID: 118 at /tmp/w/warn.c:9 warn_init+0x15/0x1000 [warn]",
		lines: 4,
	}, {
		name:  "panic",
		log:   "Kernel panic - not syncing: tutorial asked for it\nCPU: 0 PID: 1\n---[ end Kernel panic - not syncing: tutorial asked for it ]---",
		kinds: []string{"panic"},
		title: "Kernel panic - not syncing: tutorial asked for it",
		lines: 3,
	}, {
		name:  "hung task",
		log:   "INFO: task rmmod:140 blocked for more than 10 seconds.\n      Tainted: G OE",
		kinds: []string{"hung task"},
		title: "INFO: task rmmod:140 blocked for more than 10 seconds.",
		lines: 2,
	}, {
		name: "an ordinary tutorial log",
		log:  "Inside kthread_init function\nthread execution\nBUGS are not here: none\nmy_data->i = 0",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := Faults(strings.Split(tt.log, "\n"))
			var kinds []string
			for _, f := range fs {
				kinds = append(kinds, f.Kind)
			}
			if diff := cmp.Diff(tt.kinds, kinds); diff != "" {
				t.Fatalf("kinds (-want +got):\n%s", diff)
			}
			if len(fs) == 0 {
				return
			}
			if fs[0].Title != tt.title {
				t.Errorf("title %q, want %q", fs[0].Title, tt.title)
			}
			if len(fs[0].Lines) != tt.lines {
				t.Errorf("%d lines, want %d:\n%s", len(fs[0].Lines), tt.lines, strings.Join(fs[0].Lines, "\n"))
			}
		})
	}
}

func TestDescribeTaint(t *testing.T) {
	got := DescribeTaint(TaintBit('W') | TaintBit('D'))
	want := []string{"D (kernel died recently, i.e. there was an OOPS or BUG)", "W (kernel issued warning)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatal(diff)
	}
	if ExpectedTaint() != 4096|8192 {
		t.Fatalf("ExpectedTaint = %d, want O|E = 12288", ExpectedTaint())
	}
}

func TestFaultSummary(t *testing.T) {
	log := `BUG: kernel NULL pointer dereference, address: 0000000000000000
#PF: supervisor write access in kernel mode
Oops: 0002 [#1] PREEMPT SMP NOPTI
CPU: 1 PID: 231 Comm: insmod Tainted: G           OE      6.1.0-56-amd64 #1
Hardware name: QEMU Standard PC (i440FX + PIIX, 1996)
RIP: 0010:null_init+0x20/0x1000 [null]
Code: Unable to access opcode bytes at 0xffffffffc025dfd6.
RSP: 0018:ffffc900003fbac0 EFLAGS: 00000286
RAX: ffffffffc025e000 RBX: ffffffffc0260040 RCX: 0000000000000007
Call Trace:
 <TASK>
 do_one_initcall+0x59/0x220
 ? exit_to_user_mode_prepare+0x23d/0x240
 do_init_module+0x4a/0x1f0
 </TASK>
RIP: 0033:0x7fdfdf6e6b87
---[ end trace 0000000000000000 ]---`
	fs := Faults(strings.Split(log, "\n"))
	if len(fs) != 1 {
		t.Fatalf("%d faults, want 1", len(fs))
	}
	want := []string{
		"BUG: kernel NULL pointer dereference, address: 0000000000000000",
		"#PF: supervisor write access in kernel mode",
		"Oops: 0002 [#1] PREEMPT SMP NOPTI",
		"CPU: 1 PID: 231 Comm: insmod Tainted: G           OE      6.1.0-56-amd64 #1",
		"RIP: 0010:null_init+0x20/0x1000 [null]",
		"Call Trace:",
		" do_one_initcall+0x59/0x220",
		" do_init_module+0x4a/0x1f0",
		"---[ end trace 0000000000000000 ]---",
	}
	if diff := cmp.Diff(want, fs[0].Summary()); diff != "" {
		t.Fatalf("Summary (-want +got):\n%s", diff)
	}
}

// A report made by dump_stack alone (msleep in a timer on 6.1: BUG:
// scheduling while atomic) ends with its stack: the module's next line is
// the kernel going on, not the report; the WARNING that follows is a
// report of its own.
func TestFaultEndsWithItsStack(t *testing.T) {
	data, err := os.ReadFile("testdata/reports/msleep_in_timer_6.1.txt")
	if err != nil {
		t.Fatal(err)
	}
	faults := Faults(strings.Split(strings.TrimSpace(string(data)), "\n"))
	if len(faults) != 2 || faults[0].Kind != "bug" || faults[1].Kind != "warning" {
		t.Fatalf("faults: %+v", faults)
	}
	if last := faults[0].Lines[len(faults[0].Lines)-1]; strings.TrimSpace(last) != "</TASK>" {
		t.Errorf("the BUG's report ends with %q, want its stack's end", last)
	}
	for _, l := range faults[0].Summary() {
		if strings.Contains(l, "callback woke") {
			t.Errorf("the BUG's summary has the module's next line: %q", l)
		}
	}
}
