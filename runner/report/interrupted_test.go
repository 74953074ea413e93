package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/script"
	"github.com/kmodcheck/kmodcheck/runner/target"
)

// TestInterrupted: cases a stop signal ended are marked in every report:
// the summary says how far each got, JUnit has an "interrupted" error,
// JSON the status, markdown the count.
func TestInterrupted(t *testing.T) {
	rs := []script.Result{
		{Case: "done", Kernel: k61, Status: "PASS", Duration: time.Second},
		{Case: "running", Kernel: k61, Status: "INTERRUPTED", Duration: 3 * time.Second,
			Record: record(boot(k61), started("sleep 600", target.OnKernel))},
		{Case: "waiting", Kernel: k61, Status: "INTERRUPTED"},
	}
	var b bytes.Buffer
	Summary(&b, rs, 4*time.Second)
	for _, want := range []string{
		"interrupted: running [" + k61 + "] (during sleep 600)\n",
		"interrupted: waiting [" + k61 + "] (not started)\n",
		"INTERRUPTED: 1 passed, 0 failed, 0 skipped, 2 interrupted\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
	doc := JUnit(rs, 4*time.Second, time.Time{})
	if doc.Errors != 2 || doc.Failures != 0 {
		t.Errorf("JUnit: %d errors, %d failures; want 2, 0", doc.Errors, doc.Failures)
	}
	for _, c := range doc.Suites[0].Cases[1:] {
		if c.Error == nil || c.Error.Message != "interrupted" {
			t.Errorf("JUnit %s: %+v", c.Name, c.Error)
		}
	}
	var js bytes.Buffer
	for _, r := range rs {
		if err := WriteJSON(&js, r); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(js.String(), `"status":"INTERRUPTED"`); n != 2 {
		t.Errorf("JSON: %d INTERRUPTED cases, want 2:\n%s", n, js.String())
	}
	if md := Markdown(rs, time.Second, "kmodcheck"); !strings.Contains(md, "### kmodcheck: INTERRUPTED\n") || !strings.Contains(md, ", 2 interrupted in") {
		t.Errorf("markdown:\n%s", md)
	}
}
