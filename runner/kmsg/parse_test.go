package kmsg

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseRecord(t *testing.T) {
	tests := []struct {
		line string
		want Record
	}{{
		line: "6,1234,835288192,-;kthread: Inside kthread_init function\n",
		want: Record{Seq: 1234, Level: 6, Facility: 0, Time: 835288192 * time.Microsecond, Text: "kthread: Inside kthread_init function"},
	}, {
		// User space write (facility 1, level 5), caller id field, dictionary lines.
		line: "13,7,1000,-,caller=T231;kmodcheck: step 2\n SUBSYSTEM=foo\n DEVICE=+bar\n",
		want: Record{Seq: 7, Level: 5, Facility: 1, Time: time.Millisecond, Text: "kmodcheck: step 2"},
	}, {
		// Escapes and semicolons in the message are kept as they are.
		line: `4,8,0,c;a\x09b; c`,
		want: Record{Seq: 8, Level: 4, Text: `a\x09b; c`},
	}, {
		// Some old kernels have no flags field.
		line: "0,1,2;",
		want: Record{Seq: 1, Time: 2 * time.Microsecond},
	}}
	for _, test := range tests {
		got, err := ParseRecord(test.line)
		if err != nil {
			t.Errorf("ParseRecord(%q): %v", test.line, err)
			continue
		}
		if diff := cmp.Diff(test.want, got); diff != "" {
			t.Errorf("ParseRecord(%q) mismatch (-want +got):\n%s", test.line, diff)
		}
	}
}

func TestParseRecordErrors(t *testing.T) {
	tests := []struct {
		line, want string
	}{
		{"6,1,2,-", `kmsg record "6,1,2,-": no ';' ends the header`},
		{"6,1;x", `kmsg record "6,1;x": header has 2 fields, want PRI,SEQ,USEC[,FLAGS...]`},
		{"x,1,2,-;m", `kmsg record "x,1,2,-;m": bad priority "x"`},
		{"6,-1,2,-;m", `kmsg record "6,-1,2,-;m": bad sequence number "-1"`},
		{"6,1,1e3,-;m", `kmsg record "6,1,1e3,-;m": bad timestamp "1e3"`},
		{"6,1,2,-;m\n7,2,3,-;n", `kmsg record "6,1,2,-;m\n7,2,3,-;n": line "7,2,3,-;n" after the message is not a dictionary line (they start with a space)`},
	}
	for _, test := range tests {
		_, err := ParseRecord(test.line)
		if err == nil {
			t.Errorf("ParseRecord(%q) succeeded, want error %q", test.line, test.want)
			continue
		}
		if err.Error() != test.want {
			t.Errorf("ParseRecord(%q) error:\n got %s\nwant %s", test.line, err, test.want)
		}
	}
}

// TestParseRecordErrorsBounded: a garbage read's error names it in a few
// hundred bytes, whichever field is bad (FuzzParseRecord found a header
// field quoted whole: an error as long as the read).
func TestParseRecordErrorsBounded(t *testing.T) {
	garbage := strings.Repeat("\xf5", 10000)
	for _, read := range []string{
		garbage + ",1,2,-;m",
		"6," + garbage + ",2,-;m",
		"6,1," + garbage + ",-;m",
		"6,1,2,-;m\n" + garbage,
	} {
		_, err := ParseRecord(read)
		if err == nil {
			t.Fatalf("ParseRecord of garbage succeeded")
		}
		if len(err.Error()) > 2048 {
			t.Errorf("error of %d bytes for a read of %d: %.100s...", len(err.Error()), len(read), err)
		}
	}
}
