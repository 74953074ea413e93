package kmsg

import "strconv"

// The interrupt contexts a record may be printed in (Record.Context).
const (
	Softirq = "softirq"
	Hardirq = "hardirq"
	NMI     = "nmi"
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
