package script

import (
	"testing"

	"github.com/kmodcheck/kmodcheck/runner/golden"
)

// The golden an update generalises from is the file before the first run:
// later runs read what earlier ones wrote, but must not build on it.
func TestGoldenRunsKeepsTheOriginal(t *testing.T) {
	var r GoldenRuns
	if orig, runs := r.previous("g", []byte("v0")); string(orig) != "v0" || runs != nil {
		t.Fatalf("previous before any run = %q, %v", orig, runs)
	}
	r.add("g", []byte("v0"), golden.Run{Lines: []golden.Line{{Text: "a"}}})
	orig, runs := r.add("g", []byte("written by run 1"), golden.Run{Lines: []golden.Line{{Text: "b"}}})
	if string(orig) != "v0" || len(runs) != 2 || runs[1].Lines[0].Text != "b" {
		t.Errorf("add = %q, %v; want the original and both runs", orig, runs)
	}
	if orig, runs := r.previous("g", []byte("written by run 2")); string(orig) != "v0" || len(runs) != 2 {
		t.Errorf("previous = %q, %v", orig, runs)
	}
	var none *GoldenRuns // one run: nothing kept
	if orig, runs := none.add("g", nil, golden.Run{Lines: []golden.Line{{Text: "a"}}}); orig != nil || len(runs) != 1 {
		t.Errorf("nil add = %q, %v", orig, runs)
	}
}
