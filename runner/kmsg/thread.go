package kmsg

import (
	"strconv"

	"github.com/kmodcheck/kmodcheck/runner/golden"
)

// The interrupt contexts a record may be printed in (Record.Context):
// those a golden's labels name.
const (
	Softirq = golden.Softirq
	Hardirq = golden.Hardirq
	NMI     = golden.NMI
)

// ThreadLabel names the task that printed the record for transcripts and
// reports, "insmod[124]" or "kthread_init_work thread example[125]", or
// the interrupt context and CPU, "softirq/0"; "" when the target could
// not tell.
func (r Record) ThreadLabel() string {
	if r.Context != "" {
		return r.Context + "/" + strconv.Itoa(r.CPU)
	}
	if r.PID == 0 && r.Task == "" {
		return ""
	}
	return r.Task + "[" + strconv.Itoa(r.PID) + "]"
}

// Lines returns the golden lines of records whose texts, normalised, are
// texts: each with the thread or context that printed it.
func Lines(records []Record, texts []string) []golden.Line {
	lines := make([]golden.Line, len(records))
	for i, r := range records {
		lines[i] = golden.Line{Text: texts[i], PID: r.PID, Task: r.Task, Context: r.Context, CPU: r.CPU, Exited: r.Exited}
	}
	return lines
}
