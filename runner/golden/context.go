package golden

import (
	"fmt"
	"strings"
)

// The interrupt contexts a line may be printed in (Line.Context), as a
// label names them after its "@": [tasklet@softirq].
const (
	Softirq = "softirq"
	Hardirq = "hardirq"
	NMI     = "nmi"
)

// AnyIRQ is the context of a label that takes lines printed in any
// interrupt context: [handler@irq].
const AnyIRQ = "irq"

// splitContext splits a label's name at its "@": "tasklet@softirq" is the
// name "tasklet" and the context Softirq. A label without "@" is a
// thread's. The name may be empty ("@softirq").
func splitContext(label string) (name, context string, err error) {
	at := strings.IndexByte(label, '@')
	if at < 0 {
		return label, "", nil
	}
	name, context = label[:at], label[at+1:]
	switch context {
	case Softirq, Hardirq, NMI, AnyIRQ:
	default:
		return "", "", fmt.Errorf("unknown context %q in label [%s]: want @softirq, @hardirq, @nmi or @irq", context, label)
	}
	if name != "" && !validLabel(name) {
		return "", "", fmt.Errorf("bad label name %q before @%s", name, context)
	}
	return name, context, nil
}

// contextTakes reports whether a stream of context want ("" for a
// thread's stream) takes a line printed in context got ("" in task
// context).
func contextTakes(want, got string) bool {
	switch {
	case want == "" || got == "":
		return want == got
	case want == AnyIRQ:
		return true
	}
	return want == got
}

// contextMismatch completes head, the start of a mismatch naming a line
// and what printed it, when the line's context is why stream cannot take
// it; else it returns "".
func contextMismatch(head string, st stream, l Line) string {
	if contextTakes(st.context, l.Context) {
		return ""
	}
	if st.context == "" {
		return fmt.Sprintf("%s, not by a thread: a thread's label never takes a line printed in interrupt context, whatever task it interrupted (label it [NAME@%s])",
			head, l.Context)
	}
	if l.Context == "" {
		return fmt.Sprintf("%s, in task context, but [%s] takes lines printed in %s context", head, st.label, st.context)
	}
	return fmt.Sprintf("%s, but [%s] takes lines printed in %s context", head, st.label, st.context)
}

// withWorkers gives the workqueue workers' lines, which threadIDs leaves
// at 0 (they bind no label), a thread number of their own, so that a
// context's stream can tell them from interrupt context: they are task
// context. The number binds nothing (see bindThread).
func withWorkers(lines []Line, ids []int32, threads []Line) ([]int32, []Line) {
	worker := int32(-1)
	for i, l := range lines {
		if !isWorkqueueWorker(l.Task) || l.Context != "" {
			continue
		}
		if worker < 0 {
			worker = int32(len(threads))
			threads = append(threads, Line{Task: l.Task, PID: l.PID, Text: l.Text})
		}
		if ids == nil {
			ids = make([]int32, len(lines))
		}
		ids[i] = worker
	}
	return ids, threads
}
