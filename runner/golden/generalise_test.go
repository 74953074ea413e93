package golden

import (
	"strings"
	"testing"
)

// run attributes msgs to threads: each message is written "T: text",
// where T is i (insmod), t (the kthread), w (the worker), r (rmmod), k (a
// workqueue's worker) or c (a reader's cat).
func run(msgs ...string) []Line {
	threads := map[byte]Line{
		'i': insmod, 't': kthr, 'w': worker,
		'r': {PID: 130, Task: "rmmod"},
		'k': {PID: 77, Task: "kworker/0:1"},
		'c': {PID: 140, Task: "cat"},
	}
	lines := make([]Line, len(msgs))
	for i, m := range msgs {
		lines[i] = threads[m[0]]
		lines[i].Text = m[3:]
	}
	return lines
}

// insmodRun is one run of the kthread tutorial's insmod step, interleaved
// as a real run was: insmod's "Created kthread" came after the kthread's
// first line.
var insmodRun = run(
	"i: Inside kthread_init function",
	"t: Initializing kthread work",
	"i: Created kthread",
	"t: Created kthread worker",
	"t: Queue the work to worker",
	"w: Inside work function",
	"w: my_data->i = 0",
	"t: thread execution",
	"w: my_data->i = 1",
	"t: thread execution",
	"t: thread execution",
	"w: my_data->i = 2",
)

func TestNewRunsLabelsThreads(t *testing.T) {
	got := string(NewRuns(runsOf(insmodRun)))
	want := newHeader + `# Each [label] is the thread of that name: its lines keep their order, threads interleave.
Inside kthread_init function
[kthread_init_work thread example] Initializing kthread work
[kthread_init_work thread example] Created kthread worker
[kthread_init_work thread example] Queue the work to worker
[kthread_init_work thread example] thread execution {+}
[insmod] Created kthread
[kthread_init_work worker example] Inside work function
[kthread_init_work worker example] my_data->i = 0
[kthread_init_work worker example] my_data->i = 1
[kthread_init_work worker example] my_data->i = 2
`
	if got != want {
		t.Fatalf("NewRuns:\n%s\nwant:\n%s", got, want)
	}
	g := mustParse(t, "new.kmsg", got)
	// Other interleavings and repeat counts than the run's pass.
	for _, initAt := range []int{0, 3, 8} {
		for _, execs := range [][]int{{0}, {3}, {1, 1, 2, 3, 3}} {
			msgs := kthreadLines(initAt, execs...)
			if m := g.MatchLines(attribute(msgs, -1, Line{})); !m.OK {
				t.Errorf("rejects %q: %s", msgs, m.Mismatch)
			}
		}
	}
	// A missing value, a line by the wrong thread, and an ordered line
	// out of place fail.
	good := kthreadLines(0, 2)
	for _, lines := range [][]Line{
		attribute(replaceLine(good, "my_data->i = 1"), -1, Line{}),
		attribute(good, 8, kthr),
		attribute(append(good[1:len(good):len(good)], good[0]), -1, Line{}),
	} {
		if m := g.MatchLines(lines); m.OK {
			t.Errorf("accepts %v", lines)
		}
	}
}

// The step's own process prints the ordered head and tail; the line next
// to the other threads' may race with them and joins its stream.
func TestNewRunsSpine(t *testing.T) {
	got := string(NewRuns(runsOf(run(
		"t: thread execution",
		"t: thread execution",
		"r: Inside kthread exit function",
		"t: thread execution",
		"r: Cancelled kthread work",
		"r: Destroyed kthread and worker",
	))))
	want := newHeader + `# Each [label] is the thread of that name: its lines keep their order, threads interleave.
[kthread_init_work thread example] thread execution {+}
[rmmod] Inside kthread exit function
[rmmod] Cancelled kthread work
Destroyed kthread and worker
`
	if got != want {
		t.Errorf("NewRuns:\n%s\nwant:\n%s", got, want)
	}
	// A process alone: every line ordered, repeats collapsed.
	got = string(NewRuns(runsOf(run("i: start", "i: line", "i: line", "i: line", "i: done"))))
	if want := newHeader + "start\nline {+}\ndone\n"; got != want {
		t.Errorf("NewRuns:\n%s\nwant:\n%s", got, want)
	}
}

// With several runs, what varies between them is generalised: a thread
// absent from some is optional, a line absent from some may be absent, a
// line repeated in some repeats.
func TestNewRunsGeneralisesRuns(t *testing.T) {
	runs := runsOf(
		run("i: Inside", "t: Queue", "t: tick", "w: Inside work", "w: i = 0", "t: tick", "t: late"),
		run("i: Inside", "t: Queue", "t: tick", "t: tick", "t: tick"),
		run("i: Inside", "t: Queue", "w: Inside work", "t: tick", "w: i = 0", "i: extra"),
	)
	checkNewRuns(t, runs, newHeader+`# Each [label] is the thread of that name: its lines keep their order, threads interleave.
Inside
[kthread_init_work thread example] Queue
[kthread_init_work thread example] tick {+}
[kthread_init_work thread example] late {?}
[kthread_init_work worker example?] Inside work
[kthread_init_work worker example?] i = 0
extra {?}
`)
}

// Without threads, lines are ordered; what varies across runs is still
// generalised.
func TestNewRunsUnknownThreads(t *testing.T) {
	plain := func(msgs ...string) []Line {
		lines := make([]Line, len(msgs))
		for i, m := range msgs {
			lines[i].Text = m
		}
		return lines
	}
	got := string(NewRuns(runsOf(plain("a", "b", "b", "c"), plain("a", "c", "d"))))
	if want := newHeader + "a\nb {*}\nc\nd {?}\n"; got != want {
		t.Errorf("NewRuns:\n%s\nwant:\n%s", got, want)
	}
}

// Workqueue work runs on any worker of the pool: one stream.
func TestNewRunsWorkqueue(t *testing.T) {
	lines := run("i: init", "k: work 1", "i: queued")
	lines = append(lines, Line{Text: "work 2", PID: 78, Task: "kworker/0:1"})
	got := string(NewRuns(runsOf(lines)))
	want := newHeader + `# Each [label] is the thread of that name: its lines keep their order, threads interleave.
init
[kworker/0:1] work 1
[kworker/0:1] work 2
[insmod] queued
`
	if got != want {
		t.Errorf("NewRuns:\n%s\nwant:\n%s", got, want)
	}
}

// UpdateRuns keeps a maintainer's golden that still fits every run,
// labels included, and rewrites one whose labels the threads contradict.
func TestUpdateRuns(t *testing.T) {
	g := mustParse(t, "golden/kthread.kmsg", kthreadGolden)
	runs := runsOf(attribute(kthreadLines(0, 2), -1, Line{}), attribute(kthreadLines(5, 0, 3, 3), -1, Line{}))
	if got := string(g.UpdateRuns(runs)); got != kthreadGolden {
		t.Errorf("UpdateRuns rewrote a golden that fits:\n%s", got)
	}
	// Revised where the new log still fits: a new worker line.
	lines := attribute(append(kthreadLines(0, 2), "my_data->i = 3"), -1, Line{})
	want := kthreadGolden + "[worker] my_data->i = 3\n"
	if got := string(g.UpdateRuns(runsOf(lines))); got != want {
		t.Errorf("UpdateRuns:\n%s\nwant:\n%s", got, want)
	}
	// [init] and [thread] printed by one thread: the labels cannot stay.
	bad := attribute(kthreadLines(0, 2), 1, kthr)
	got := string(g.UpdateRuns(runsOf(bad)))
	ng := mustParse(t, "x.kmsg", got)
	if m := ng.MatchLines(bad); !m.OK {
		t.Errorf("UpdateRuns wrote a golden that rejects its run: %s\n%s", m.Mismatch, got)
	}
	if want := "# kthread tutorial\n# Each [label]"; got[:len(want)] != want {
		t.Errorf("UpdateRuns lost the header:\n%s", got)
	}
}

// runsOf returns the runs of a step that printed each of lines, with
// nothing before.
func runsOf(lines ...[]Line) []Run {
	runs := make([]Run, len(lines))
	for i, l := range lines {
		runs[i].Lines = l
	}
	return runs
}

// A thread that ended the previous kmsg repeating a line may repeat it
// any number of times in this one, from its start, even if this run's
// window shows none.
func TestNewRunsContinuation(t *testing.T) {
	before := run("i: Inside", "t: Queue", "t: thread execution", "w: i = 0", "t: thread execution")
	rmmod := run("r: Inside kthread exit function", "r: Destroyed kthread and worker")
	got := string(NewRuns([]Run{{Before: before, Lines: rmmod}}))
	want := newHeader + `# Each [label] is the thread of that name: its lines keep their order, threads interleave.
[rmmod] Inside kthread exit function
[kthread_init_work thread example] thread execution {*}
Destroyed kthread and worker
`
	if got != want {
		t.Fatalf("NewRuns:\n%s\nwant:\n%s", got, want)
	}
	// A run where the thread printed between them splits the same way,
	// so two runs, one of each, agree on every line (in CI a golden of
	// two such runs had the last line twice, labelled and not, each {?}).
	between := run("r: Inside kthread exit function", "t: thread execution", "r: Destroyed kthread and worker")
	for _, runs := range [][]Run{{{Before: before, Lines: rmmod}, {Before: before, Lines: between}}, {{Before: before, Lines: between}, {Before: before, Lines: rmmod}}} {
		if got := string(NewRuns(runs)); got != want {
			t.Errorf("NewRuns of two runs:\n%s\nwant:\n%s", got, want)
		}
	}
	g := mustParse(t, "new.kmsg", got)
	for _, lines := range [][]Line{
		rmmod,
		run("t: thread execution", "r: Inside kthread exit function", "r: Destroyed kthread and worker"),
		run("t: thread execution", "t: thread execution", "r: Inside kthread exit function", "t: thread execution", "r: Destroyed kthread and worker"),
	} {
		if m := g.MatchLines(lines); !m.OK {
			t.Errorf("rejects %v: %s", lines, m.Mismatch)
		}
	}

	// Once at the end before, and again at the start now: periodic too.
	before = run("i: Inside", "t: Queue", "t: thread execution")
	got = string(NewRuns([]Run{{Before: before, Lines: run(
		"t: thread execution",
		"r: Inside kthread exit function",
		"r: Cancelled",
		"r: Destroyed",
	)}}))
	want = newHeader + `# Each [label] is the thread of that name: its lines keep their order, threads interleave.
[kthread_init_work thread example] thread execution {*}
[rmmod] Inside kthread exit function
Cancelled
Destroyed
`
	if got != want {
		t.Errorf("NewRuns:\n%s\nwant:\n%s", got, want)
	}

	// A thread whose last line came once, and does not come again, has
	// finished: its line is not expected again.
	got = string(NewRuns([]Run{{Before: run("i: Inside", "w: done"), Lines: run("r: bye", "r: gone")}}))
	if want := newHeader + "bye\ngone\n"; got != want {
		t.Errorf("NewRuns:\n%s\nwant:\n%s", got, want)
	}

	// A reader's cat that read a device twice has exited: it prints no
	// more, though it repeated its line; a kernel thread that goes on may.
	cat := run("c: read by cat", "c: read by cat")
	cat[len(cat)-1].Exited = true // the target marks a task's last line
	got = string(NewRuns([]Run{{Before: cat, Lines: run("r: bye", "r: gone")}}))
	if want := newHeader + "bye\ngone\n"; got != want {
		t.Errorf("NewRuns after an exited cat:\n%s\nwant:\n%s", got, want)
	}
	// A workqueue's work is its workers' stream: one that exited does not
	// end it, another worker may go on with the work.
	work := run("k: tick", "k: tick")
	work[len(work)-1].Exited = true
	got = string(NewRuns([]Run{{Before: work, Lines: run("r: bye", "r: gone")}}))
	if want := "[kworker/0:1] tick {*}\n"; !strings.Contains(got, want) {
		t.Errorf("NewRuns after an exited kworker:\n%s\nwant a line %q", got, want)
	}
}

// A line that prints another number in each run, the rest the same,
// gets {N} for it; lines that differ otherwise do not.
func TestNewRunsVaryingNumbers(t *testing.T) {
	runs := runsOf(
		run("i: I was assigned major number 245.", "i: size {3} 10", "i: done"),
		run("i: I was assigned major number 239.", "i: size {3} 12", "i: done"),
		run("i: I was assigned major number 17.", "i: size {3} 12", "i: done"),
	)
	checkNewRuns(t, runs, newHeader+"I was assigned major number {N}.\nsize {3} {N}\ndone\n")
	// A value missing from one run is not a varying value.
	got := string(NewRuns(runsOf(
		run("i: a", "w: i = 1", "w: i = 2", "w: i = 3"),
		run("i: a", "w: i = 1", "w: i = 3"),
	)))
	if !strings.Contains(got, "[kthread_init_work worker example] i = 2 {?}\n") || strings.Contains(got[len(newHeader):], "{N}") {
		t.Errorf("NewRuns:\n%s", got)
	}
}

// checkNewRuns checks the golden NewRuns writes for runs, and that the
// golden accepts every one of them.
func checkNewRuns(t *testing.T, runs []Run, want string) {
	t.Helper()
	got := string(NewRuns(runs))
	if got != want {
		t.Fatalf("NewRuns:\n%s\nwant:\n%s", got, want)
	}
	g := mustParse(t, "new.kmsg", got)
	for i, r := range runs {
		if m := g.MatchLines(r.Lines); !m.OK {
			t.Errorf("rejects run %d: %s", i, m.Mismatch)
		}
	}
}
