package local

import "testing"

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
