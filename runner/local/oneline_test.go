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

// TestStepMarker: a marker names the step and its line (on a kernel
// without a printk trace, every step ends with one), and a step's records
// leave it out.
func TestStepMarker(t *testing.T) {
	var log KernelLog
	got := log.stepMarker(3, "rmmod kthread")
	if want := "kmodcheck: step 3 done: rmmod kthread"; got != want {
		t.Errorf("marker %q, want %q", got, want)
	}
	if !isStepMarker(kmsg.Record{Facility: 1, Text: got}) {
		t.Errorf("%q is not taken for a step marker", got)
	}
}
