// Package kmsg reads, normalises, filters and compares kernel log messages.
//
// It is the comparison stage of kmodcheck: a target hands it the records the
// kernel logged during a step, and kmsg decides, against a golden file, whether
// they are what the tutorial promises. The golden format and its matching
// semantics are described in golden.go and in the project README.
package kmsg

import "time"

// A Record is one kernel log message, as /dev/kmsg reports it.
type Record struct {
	Seq      uint64        // sequence number, increasing by one per record
	Level    int           // 0 (emerg) .. 7 (debug)
	Facility int           // 0 for the kernel, 1 for user space writes
	Time     time.Duration // since boot
	Text     string        // the message, without the trailing newline
}
