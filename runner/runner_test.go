package runner

import (
	"errors"
	"testing"
)

// TestOptionsWithoutMain: a test binary whose TestMain does not call Main
// has none of kmodcheck's flags, and Options says what to do rather than
// running cases with flags no one can set.
func TestOptionsWithoutMain(t *testing.T) {
	if _, err := Options(); !errors.Is(err, ErrNoMain) {
		t.Fatalf("Options() = %v, want ErrNoMain", err)
	}
}
