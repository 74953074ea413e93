package local

import (
	"testing"

	"github.com/kmodcheck/kmodcheck/runner/kmsg"
)

// TestOneLine: a step's marker is read back from the kernel log as it was
// written, so it must hold nothing the kernel escapes as \xNN.
func TestOneLine(t *testing.T) {
	tests := map[string]string{
		`printf 'x y\na b\n' | grep -v '^x y'`: `printf 'x y?na b?n' | grep -v '^x y'`,
		"echo \"héllo\"\tx\ny":                 `echo "h?llo"?x?y`,
		"insmod ./kthread.ko":                  "insmod ./kthread.ko",
	}
	for in, want := range tests {
		if got := oneLine(in); got != want {
			t.Errorf("oneLine(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestStepMarker: the guest's markers name the step, the host's only the
// line, as its kernel log has shown them (TestHostTargetInVM counts
// them); a step's records leave out either.
func TestStepMarker(t *testing.T) {
	for _, c := range []struct {
		log  KernelLog
		want string
	}{
		{KernelLog{}, "kmodcheck: step 3 done: rmmod kthread"},
		{KernelLog{Unnumbered: true}, "kmodcheck: step done: rmmod kthread"},
	} {
		got := c.log.stepMarker(3, "rmmod kthread")
		if got != c.want {
			t.Errorf("marker %q, want %q", got, c.want)
		}
		if !isStepMarker(kmsg.Record{Facility: 1, Text: got}) {
			t.Errorf("%q is not taken for a step marker", got)
		}
	}
}
