package scriptcase

import (
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestEnds: Skip and FailNow end the case there, as testing.T's do, and
// the T keeps what it logged and how it ended.
func TestEnds(t *testing.T) {
	reached := false
	skip := Run("skip", false, func(c testscript.T) {
		c.Log("booted")
		c.Skip("needs 7.0")
		reached = true
	})
	if skipped, why := skip.Skipped(); !skipped || why != "needs 7.0" || skip.Failed() || skip.Transcript() != "booted\nneeds 7.0\n" {
		t.Errorf("skip: skipped %v %q, failed %v, transcript %q", skipped, why, skip.Failed(), skip.Transcript())
	}
	fail := Run("fail", true, func(c testscript.T) {
		c.Fatal("FAIL: insmod")
		reached = true
	})
	if skipped, _ := fail.Skipped(); skipped || !fail.Failed() || fail.Transcript() != "FAIL: insmod\n" || !fail.Verbose() {
		t.Errorf("fail: skipped %v, failed %v, transcript %q", skipped, fail.Failed(), fail.Transcript())
	}
	if reached {
		t.Error("the case went on after Skip or Fatal")
	}
}
