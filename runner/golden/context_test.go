package golden

import (
	"strings"
	"testing"
)

// The tasklet tutorial's insmod step: the init function schedules a
// tasklet, which runs in the softirq that interrupts insmod itself (or
// another task, or on another CPU), and then a timer fires in softirq
// context while the agent runs, and an hrtimer in hardirq context.
var (
	softirq0 = Line{Context: Softirq, CPU: 0}
	softirq1 = Line{Context: Softirq, CPU: 1}
	hardirq1 = Line{Context: Hardirq, CPU: 1}
)

func ctxRun(msgs ...string) []Line {
	who := map[byte]Line{'i': insmod, 's': softirq0, 'S': softirq1, 'h': hardirq1, 't': kthr}
	lines := make([]Line, len(msgs))
	for i, m := range msgs {
		lines[i] = who[m[0]]
		lines[i].Text = m[3:]
	}
	return lines
}

const taskletGolden = `tasklet example init
[init] Example tasklet init continues...
[tasklet@softirq] Example tasklet starts
[tasklet@softirq] Example tasklet ends
`

func TestContextLabels(t *testing.T) {
	g := mustParse(t, "golden/tasklet.kmsg", taskletGolden)
	tests := []struct {
		name     string
		lines    []Line
		mismatch string // "" if it must match
	}{{
		name:  "the tasklet interrupts insmod",
		lines: ctxRun("i: tasklet example init", "s: Example tasklet starts", "s: Example tasklet ends", "i: Example tasklet init continues..."),
	}, {
		name:  "the tasklet runs on the other CPU, after init",
		lines: ctxRun("i: tasklet example init", "i: Example tasklet init continues...", "S: Example tasklet starts", "S: Example tasklet ends"),
	}, {
		name:     "a tasklet line printed by insmod itself",
		lines:    ctxRun("i: tasklet example init", "s: Example tasklet starts", "i: Example tasklet ends", "i: Example tasklet init continues..."),
		mismatch: `golden/tasklet.kmsg:4: [tasklet@softirq] "Example tasklet ends" was printed by "insmod" (pid 124), in task context, but [tasklet@softirq] takes lines printed in softirq context (kernel line 3)`,
	}, {
		name:     "a tasklet line in hardirq context",
		lines:    ctxRun("i: tasklet example init", "s: Example tasklet starts", "h: Example tasklet ends", "i: Example tasklet init continues..."),
		mismatch: `golden/tasklet.kmsg:4: [tasklet@softirq] "Example tasklet ends" was printed in hardirq context (CPU 1), but [tasklet@softirq] takes lines printed in softirq context (kernel line 3)`,
	}, {
		name:     "init's line in softirq context",
		lines:    ctxRun("i: tasklet example init", "s: Example tasklet starts", "s: Example tasklet ends", "s: Example tasklet init continues..."),
		mismatch: `golden/tasklet.kmsg:2: [init] "Example tasklet init continues..." was printed in softirq context (CPU 0), not by a thread: a thread's label never takes a line printed in interrupt context, whatever task it interrupted (label it [NAME@softirq]) (kernel line 4)`,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := g.MatchLines(tc.lines)
			if m.OK != (tc.mismatch == "") || m.Mismatch != tc.mismatch {
				t.Fatalf("OK %v, mismatch:\n%s\nwant:\n%s\n%s", m.OK, m.Mismatch, tc.mismatch, m.Diff(g.Path))
			}
			if !m.OK && !strings.Contains(m.Diff(g.Path), "[@") {
				t.Errorf("the diff does not show contexts:\n%s", m.Diff(g.Path))
			}
		})
	}
}

// Lines printed in interrupt context are not the interrupted task's: a
// thread label that took insmod's line refuses them, even from insmod.
func TestThreadLabelRefusesInterrupt(t *testing.T) {
	g := mustParse(t, "golden/tasklet.kmsg", "tasklet example init\n[init] Example tasklet init continues...\n[tasklet] Example tasklet starts\n")
	m := g.MatchLines(ctxRun("i: tasklet example init", "s: Example tasklet starts", "i: Example tasklet init continues..."))
	if m.OK || !strings.Contains(m.Mismatch, "[tasklet] \"Example tasklet starts\" was printed in softirq context (CPU 0), not by a thread") {
		t.Fatalf("OK %v: %s", m.OK, m.Mismatch)
	}
}

func TestContextLabelSyntax(t *testing.T) {
	for _, ok := range []string{"[@softirq] x", "[timer@softirq?] x", "[h@hardirq] x", "[n@nmi] x", "[any@irq] x", "[kthread_init_work worker example] x"} {
		if _, err := Parse("g", []byte(ok+"\n")); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"[x@task] x", "[@] x", "[ x@softirq] x", "[a@softirq@nmi] x"} {
		if _, err := Parse("g", []byte(bad+"\n")); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// Two streams of one context are told apart by their text alone.
func TestTwoStreamsOfOneContext(t *testing.T) {
	g := mustParse(t, "g", "[tasklet@softirq] tasklet\n[timer@softirq] timer fires {+}\n[@hardirq] hrtimer fires\n")
	for _, lines := range [][]Line{
		ctxRun("s: timer fires", "s: tasklet", "h: hrtimer fires", "S: timer fires"),
		ctxRun("h: hrtimer fires", "S: timer fires", "s: tasklet"),
	} {
		if m := g.MatchLines(lines); !m.OK {
			t.Errorf("%s", m.Mismatch)
		}
	}
}

func TestNewRunsLabelsContexts(t *testing.T) {
	runs := runsOf(
		ctxRun("i: tasklet example init", "s: Example tasklet starts", "s: Example tasklet ends", "i: Example tasklet init continues...", "h: hrtimer fires"),
		ctxRun("i: tasklet example init", "i: Example tasklet init continues...", "S: Example tasklet starts", "h: hrtimer fires", "S: Example tasklet ends"),
	)
	want := newHeader + `# Each [label] is the thread of that name: its lines keep their order, threads interleave.
` + contextHeader + `tasklet example init
[@softirq] Example tasklet starts
[@softirq] Example tasklet ends
[insmod] Example tasklet init continues...
[@hardirq] hrtimer fires
`
	checkNewRuns(t, runs, want)
	g := mustParse(t, "new.kmsg", want)
	// The tasklet's line from insmod itself fails.
	if m := g.MatchLines(ctxRun("i: tasklet example init", "s: Example tasklet starts", "i: Example tasklet ends", "i: Example tasklet init continues...", "h: hrtimer fires")); m.OK {
		t.Errorf("accepts a softirq line printed in task context")
	}
}

// A workqueue worker's line is task context: a context's label refuses
// it, while a thread's label takes any worker's, binding none.
func TestWorkerIsTaskContext(t *testing.T) {
	k1, k2 := Line{PID: 40, Task: "kworker"}, Line{PID: 41, Task: "kworker"}
	at := func(l Line, text string) Line { l.Text = text; return l }
	g := mustParse(t, "golden/wq.kmsg", "[timer@softirq] wq: timer queues the work\n[work] wq: work starts\n[work] wq: work ends\n")
	if m := g.MatchLines([]Line{at(softirq0, "wq: timer queues the work"), at(k1, "wq: work starts"), at(k2, "wq: work ends")}); !m.OK {
		t.Errorf("two workers' lines for one label: %s", m.Mismatch)
	}
	m := g.MatchLines([]Line{at(k1, "wq: timer queues the work"), at(k1, "wq: work starts"), at(k2, "wq: work ends")})
	want := `golden/wq.kmsg:1: [timer@softirq] "wq: timer queues the work" was printed by "kworker" (pid 40), in task context, but [timer@softirq] takes lines printed in softirq context (kernel line 1)`
	if m.OK || m.Mismatch != want {
		t.Errorf("the timer's line from a worker: OK %v\n%s\nwant\n%s", m.OK, m.Mismatch, want)
	}
}
