package report

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/golden"
	"github.com/kmodcheck/kmodcheck/runner/script"
)

// A Record is one line of the -json report, a JSON object per line (JSON
// Lines): a "step" record for each step and kmsg comparison of a case on a
// kernel, in the order they ran, then one "case" record when that case
// ends. docs/reports.md ("JSON records") documents the fields.
type Record struct {
	Type   string `json:"type"`             // "step" or "case"
	Case   string `json:"case,omitempty"`   // every record but the run's
	Kernel string `json:"kernel,omitempty"` // the kernel's release
	File   string `json:"file,omitempty"`   // the case file

	// Step records.
	Step      int                `json:"step,omitempty"`    // 1, 2, ... in the order the case ran them
	Kind      script.StepKind    `json:"kind,omitempty"`    // "command" (a tutorial command) or "kmsg" (a golden comparison)
	Command   string             `json:"command,omitempty"` // the command line, e.g. "insmod ./kthread.ko", "kmsg insmod"
	Where     string             `json:"where,omitempty"`   // command: "kernel" (the kernel under test) or "build" (the build host)
	Exit      *int               `json:"exit,omitempty"`    // command: exit status; -1 when killed
	TimedOut  bool               `json:"timed_out,omitempty"`
	Error     string             `json:"error,omitempty"` // command: why it could not run (the kernel died)
	Stdout    string             `json:"stdout,omitempty"`
	Stderr    string             `json:"stderr,omitempty"`
	Tasks     []string           `json:"tasks,omitempty"`
	KernelLog []string           `json:"kernel_log,omitempty"` // command: the kernel's messages while it ran
	Golden    string             `json:"golden,omitempty"`     // kmsg: the golden file compared with
	Mismatch  string             `json:"mismatch,omitempty"`   // kmsg: the golden line and kernel message at fault
	Diff      string             `json:"diff,omitempty"`       // kmsg: unified diff, golden to kernel
	First     *golden.Difference `json:"first,omitempty"`      // kmsg: the mismatch as data: golden, line, want, got
	Filtered  map[string]int     `json:"filtered,omitempty"`   // kmsg: lines each named filter dropped
	Updated   bool               `json:"updated,omitempty"`    // kmsg: -update rewrote the golden
	// Outcome of a step: "pass", or "fail" for the step at which the case
	// failed (a non-zero exit not expected, a fault, a timeout, a failed
	// check of its output) and a kmsg comparison that did not match.
	Outcome string `json:"outcome,omitempty"`

	// Case records.
	Status  script.Status `json:"status,omitempty"`  // "PASS", "FAIL", "SKIP", "BROKEN" (a known break) or "INTERRUPTED"
	Accel   string        `json:"accel,omitempty"`   // "kvm", "tcg", "" on the host
	Boot    float64       `json:"boot,omitempty"`    // seconds from start to the first command
	Failure string        `json:"failure,omitempty"` // the FAIL line: file:line: step: what went wrong
	Dir     string        `json:"dir,omitempty"`     // the case × kernel's artifact directory
	// A failure's reason, kind (script.FailStep, ...), case file line
	// (0 at the end of the case) and what follows its FAIL line.
	Reason      *Reason            `json:"reason,omitempty"`
	FailureKind script.FailureKind `json:"failure_kind,omitempty"`
	Line        int                `json:"line,omitempty"`
	Detail      string             `json:"detail,omitempty"`
	KnownBreak  string             `json:"known_break,omitempty"` // a BROKEN case's broken line
	Skip        string             `json:"skip,omitempty"`        // a SKIP's reason
	Interrupted string             `json:"interrupted,omitempty"` // an INTERRUPTED case's last stage: "during kmsg insmod"
	Transcript  string             `json:"transcript,omitempty"`  // testscript's transcript

	// Run records: the first record a run writes, which the reports of
	// merged shards check (see Merge).
	Run     string   `json:"run,omitempty"`     // the run's id, e.g. CI's run number; may be empty
	Plan    string   `json:"plan,omitempty"`    // digest of the case files and kernels planned
	Cases   []string `json:"cases,omitempty"`   // every case planned, sharded or not
	Kernels []string `json:"kernels,omitempty"` // every kernel planned
	Shard   string   `json:"shard,omitempty"`   // "I/N", or "all"
	Started string   `json:"started,omitempty"` // RFC 3339

	// Both: seconds the step, or the whole case, took.
	Duration float64 `json:"duration"`
}

// Records are the -json records of one case on one kernel: its steps, then
// the case.
func Records(r script.Result) []Record {
	var out []Record
	for _, s := range r.Record.Ran() {
		rec := Record{Type: "step", Case: r.Case, Kernel: r.Kernel, File: r.File, Step: s.N, Kind: s.Kind, Command: s.Line, Outcome: "pass"}
		if s.Kind == script.Command {
			commandRecord(&rec, s, r.Status)
		} else {
			compareRecord(&rec, s.Compare)
		}
		out = append(out, rec)
	}
	return append(out, caseRecord(r, out))
}

// commandRecord fills in a command's step record.
func commandRecord(rec *Record, s script.Step, status script.Status) {
	res := s.Result
	exit := res.Exit
	rec.Command, rec.Where, rec.Exit = res.Step.Line, res.Step.Where, &exit
	rec.TimedOut, rec.Stdout, rec.Stderr = res.TimedOut, string(res.Stdout), string(res.Stderr)
	rec.Duration = seconds(res.Duration)
	for _, k := range res.Log {
		if k.Facility == 0 {
			rec.KernelLog = append(rec.KernelLog, k.Text)
			rec.Tasks = append(rec.Tasks, k.ThreadLabel())
		}
	}
	if s.Err != nil {
		// The kernel died: the case fails here, unless it said it would
		// panic.
		rec.Error = s.Err.Error()
		if status == script.Fail {
			rec.Outcome = "fail"
		}
	}
	if res.TimedOut {
		rec.Outcome = "fail"
	}
}

// compareRecord fills in a comparison's step record.
func compareRecord(rec *Record, c *script.Comparison) {
	rec.Golden = c.Golden
	rec.Mismatch, rec.Diff, rec.Updated = c.Mismatch, c.Diff, c.Updated
	if c.First.Golden != "" {
		first := c.First
		rec.First = &first
	}
	rec.Duration = seconds(c.Waited)
	if len(c.Filtered) > 0 {
		rec.Filtered = c.Filtered
	}
	if !c.OK {
		rec.Outcome = "fail"
	}
}

// caseRecord is a result's case record; steps are its step records, of
// which it marks the failing one.
func caseRecord(r script.Result, steps []Record) Record {
	c := Record{Type: "case", Case: r.Case, Kernel: r.Kernel, File: r.File, Status: r.Status,
		Duration: seconds(r.Duration), Dir: r.Dir, Transcript: r.Log}
	if b := r.Record.Boot; b != nil {
		c.Accel, c.Boot = b.Accel, seconds(b.Boot)
	}
	switch r.Status {
	case script.Fail, script.Broken:
		// A BROKEN case failed as its broken line declares: its failure
		// and reason are kept, with the line.
		f := failureOf(r)
		c.Failure, c.FailureKind, c.Line, c.Detail = f.Summary(), f.Kind, f.Line, f.Detail
		c.KnownBreak = f.KnownBreak
		// The step the case failed at, as the case recorded it.
		if f.Kind != script.FailEndOfCase && f.Step > 0 && f.Step <= len(steps) {
			steps[f.Step-1].Outcome = "fail"
		}
		c.Reason = reasonOf(f, steps)
	case script.Skip:
		c.Skip = r.SkipReason
	case script.Interrupted:
		c.Interrupted = interruptedWhere(r)
	}
	return c
}

func seconds(d time.Duration) float64 {
	return float64(d.Round(time.Millisecond)) / float64(time.Second)
}

// WriteJSON writes a result's records, one JSON object per line.
func WriteJSON(w io.Writer, r script.Result) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, rec := range Records(r) {
		if err := enc.Encode(rec); err != nil {
			return fmt.Errorf("json report: %w", err)
		}
	}
	return nil
}

// ReadJSON reads records that WriteJSON wrote.
func ReadJSON(rd io.Reader) ([]Record, error) {
	dec := json.NewDecoder(rd)
	dec.DisallowUnknownFields()
	var out []Record
	for dec.More() {
		var rec Record
		if err := dec.Decode(&rec); err != nil {
			return out, err
		}
		out = append(out, rec)
	}
	return out, nil
}
