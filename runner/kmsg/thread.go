package kmsg

import "strconv"

// ThreadLabel names the task that printed the record for transcripts and
// reports, "insmod[124]" or "kthread_init_work thread example[125]"; ""
// when the target could not tell.
func (r Record) ThreadLabel() string {
	if r.PID == 0 && r.Task == "" {
		return ""
	}
	return r.Task + "[" + strconv.Itoa(r.PID) + "]"
}
