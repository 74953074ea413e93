package golden

import (
	"fmt"
	"strings"
	"testing"
)

// pastedDmesg is the seed tutorial's first dmesg, as import writes it:
// one interleaving of three threads, cut at my_data->i = 2.
const pastedDmesg = `# sudo dmesg, as init.txt:543 shows it (timestamps stripped).
Inside kthread_init function
Created kthread
Initializing kthread work
Created kthread worker
Queue the work to worker
thread execution
Inside work function
my_data->i = 0
thread execution
my_data->i = 1
thread execution
my_data->i = 2
`

// kthreadRun is one run of the tutorial's insmod step: the worker counts
// to 10; the kthread prints "thread execution" every ticks-th worker line.
func kthreadRun(createdLate bool, ticks int) []Line {
	msgs := []string{"i: Inside kthread_init function", "i: Created kthread", "t: Initializing kthread work"}
	if createdLate {
		msgs[1], msgs[2] = msgs[2], msgs[1]
	}
	msgs = append(msgs, "t: Created kthread worker", "t: Queue the work to worker", "w: Inside work function", "t: thread execution")
	for i := 0; i <= 10; i++ {
		msgs = append(msgs, fmt.Sprintf("w: my_data->i = %d", i))
		if i%ticks == 0 {
			msgs = append(msgs, "t: thread execution")
		}
	}
	return run(msgs...)
}

func TestUpdateRunsLearnsLabels(t *testing.T) {
	g := mustParse(t, "golden/init/dmesg.kmsg", pastedDmesg)
	// Three runs alike, as runs on one machine often are: the golden
	// must not take their interleaving for the only one.
	runs := runsOf(kthreadRun(false, 1), kthreadRun(false, 1), kthreadRun(false, 1))
	out := string(g.UpdateRuns(runs))
	// The maintainer's comment and lines stay, in their order, labelled.
	for _, want := range []string{
		"# sudo dmesg, as init.txt:543 shows it (timestamps stripped).\nInside kthread_init function\n[insmod] Created kthread\n",
		"[kthread_init_work thread example] Queue the work to worker\n[kthread_init_work thread example] thread execution {+}\n[kthread_init_work worker example] Inside work function\n[kthread_init_work worker example] my_data->i = 0\n[kthread_init_work worker example] my_data->i = 1\n[kthread_init_work worker example] my_data->i = 2\n",
		"[kthread_init_work worker example] my_data->i = 10\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("lacks %q:\n%s", want, out)
		}
	}
	lg := mustParse(t, "learnt.kmsg", out)
	// Interleavings and counts no run showed pass.
	for _, other := range [][]Line{kthreadRun(true, 2), kthreadRun(false, 5), kthreadRun(true, 11)} {
		if m := lg.MatchLines(other); !m.OK {
			t.Errorf("rejects another run: %s\n%s", m.Mismatch, out)
		}
	}
	// Every counted line is still required, and a worker's line from the
	// kthread fails.
	missing := kthreadRun(false, 2)
	for i, l := range missing {
		if l.Text == "my_data->i = 5" {
			missing = append(missing[:i:i], missing[i+1:]...)
			break
		}
	}
	if m := lg.MatchLines(missing); m.OK {
		t.Errorf("accepts a run without my_data->i = 5")
	}
	wrong := kthreadRun(false, 2)
	for i, l := range wrong {
		if l.Text == "my_data->i = 10" {
			wrong[i].PID, wrong[i].Task = kthr.PID, kthr.Task
		}
	}
	if m := lg.MatchLines(wrong); m.OK {
		t.Errorf("accepts a worker line printed by the kthread")
	}
}

// A golden with labels, or runs whose threads are unknown, learn nothing.
func TestLearnLabelsOnlyUnlabelled(t *testing.T) {
	runs := runsOf(kthreadRun(false, 1))
	if out := mustParse(t, "g", "[a] Inside kthread_init function\n").learnLabels(runs); out != nil {
		t.Errorf("learnt labels for a labelled golden:\n%s", out)
	}
	unknown := kthreadRun(false, 1)
	for i := range unknown {
		unknown[i].PID, unknown[i].Task = 0, ""
	}
	if out := mustParse(t, "g", pastedDmesg).learnLabels(runsOf(unknown)); out != nil {
		t.Errorf("learnt labels from unknown threads:\n%s", out)
	}
}
