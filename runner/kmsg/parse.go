package kmsg

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseRecord parses one read from /dev/kmsg:
//
//	PRI,SEQ,USEC,FLAGS[,...];MESSAGE
//	 KEY=VALUE
//
// PRI is facility<<3 | level. Fields after USEC (the flags, and the
// caller id some kernels add) are not needed and are ignored, as are
// the dictionary lines that follow the message, each starting with a
// space. The message is kept exactly as the kernel wrote it, including
// its \xNN escapes of non-printable bytes: golden files are compared
// with what the kernel reports, and unescaping would make a message
// containing a newline impossible to write as one golden line.
func ParseRecord(line string) (Record, error) {
	header, rest, ok := strings.Cut(line, ";")
	if !ok {
		return Record{}, fmt.Errorf("kmsg record %s: no ';' ends the header", quoteInput(line))
	}
	fields := strings.Split(header, ",")
	if len(fields) < 3 {
		return Record{}, fmt.Errorf("kmsg record %s: header has %d fields, want PRI,SEQ,USEC[,FLAGS...]", quoteInput(line), len(fields))
	}
	pri, err := strconv.ParseUint(fields[0], 10, 31)
	if err != nil {
		return Record{}, fmt.Errorf("kmsg record %s: bad priority %s", quoteInput(line), quoteInput(fields[0]))
	}
	seq, err := strconv.ParseUint(fields[1], 10, 64)
	if err != nil {
		return Record{}, fmt.Errorf("kmsg record %s: bad sequence number %s", quoteInput(line), quoteInput(fields[1]))
	}
	usec, err := strconv.ParseUint(fields[2], 10, 64)
	if err != nil || usec > math.MaxInt64/uint64(time.Microsecond) {
		return Record{}, fmt.Errorf("kmsg record %s: bad timestamp %s", quoteInput(line), quoteInput(fields[2]))
	}
	text, dict, _ := strings.Cut(rest, "\n")
	for _, l := range strings.Split(dict, "\n") {
		// A line that does not start with a space would be a second
		// message: the caller joined two reads, which loses records.
		if l != "" && l[0] != ' ' {
			return Record{}, fmt.Errorf("kmsg record %s: line %s after the message is not a dictionary line (they start with a space)", quoteInput(line), quoteInput(l))
		}
	}
	return Record{
		Seq:      seq,
		Level:    int(pri & 7),
		Facility: int(pri >> 3),
		Time:     time.Duration(usec) * time.Microsecond,
		Text:     text,
	}, nil
}

// quoteInput quotes s for an error message, shortened so that a garbage
// read does not flood the report.
func quoteInput(s string) string {
	const max = 120
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}
