package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"testing"
)

// TestExitCode checks the one place where a command's error becomes a
// message and an exit status.
func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		code int
		says string
	}{
		{"success", nil, 0, ""},
		{"failure", errors.New("boom"), 1, "kmodcheck: boom\n"},
		{"usage", errUsage("Usage: x\n"), 2, "Usage: x\n"},
		{"help", errHelp("Usage: x\n"), 0, "Usage: x\n"},
		{"flag parse, already printed", flagError(errors.New("flag provided but not defined: -x")), 2, ""},
		{"set-up, wrapped", fmt.Errorf("prepare: %w", setupError(errors.New("no cache"))), 2, "kmodcheck: prepare: no cache\n"},
		{"named command", failed("report", 2, errors.New("a"), errors.New("b")), 2, "kmodcheck report: a\nkmodcheck report: b\n"},
		{"run's own", failed("", 2, errors.New("open r.xml")), 2, "kmodcheck: open r.xml\n"},
		{"a status of its own", statusError(3), 3, ""},
	} {
		var stderr bytes.Buffer
		if code := exitCode(tc.err, &stderr); code != tc.code || stderr.String() != tc.says {
			t.Errorf("%s: exit %d, stderr %q; want %d, %q", tc.name, code, stderr.String(), tc.code, tc.says)
		}
	}
}

// TestRunFlagsDocumented keeps kmodcheck run's flags and its manual
// (docs/running.md's table of flags) in step.
func TestRunFlagsDocumented(t *testing.T) {
	manual, err := os.ReadFile("docs/running.md")
	if err != nil {
		t.Fatal(err)
	}
	fs, _ := runFlags(io.Discard)
	fs.VisitAll(func(f *flag.Flag) {
		if !regexp.MustCompile("(?m)^\\| .*`-" + regexp.QuoteMeta(f.Name) + "[ `]").Match(manual) {
			t.Errorf("kmodcheck run -%s is not in docs/running.md's table of flags", f.Name)
		}
	})
}
