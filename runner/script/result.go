package script

import "time"

// A Result is how a case ended on one kernel: its status, time and
// transcript, the record of what it did, and the files kept of it. The
// suite makes one per case × kernel; the reports read nothing else.
type Result struct {
	Case     string
	File     string
	Kernel   string
	Status   Status
	Duration time.Duration
	Log      string // testscript's transcript
	// Record is what the case did: its boot, its steps, and its failure
	// (kept unless Status is PASS).
	Record Record
	// SkipReason is what the script's skip said, for a SKIP.
	SkipReason string
	// Dir is the case × kernel's artifact directory (DIR/KERNEL/CASE),
	// when the run keeps artifacts; Files are those written there at its
	// end (console.log and kernel.log, written by the target, are not
	// listed); ArtifactErr is why some could not be written.
	Dir         string
	Files       []string
	ArtifactErr error
}
