// Package course is an example of a course's repository that checks its
// tutorials with kmodcheck from its own go test: cases/ holds the
// tutorials, golden/ what each shows, modules/ their sources.
//
//	CGO_ENABLED=0 go test ./...                 every case on the newest kernel here
//	CGO_ENABLED=0 go test ./... -args -kernel 6.12 -kernel 7.3
//	CGO_ENABLED=0 go test ./... -args -update   rewrite the goldens that differ
package course

import (
	"testing"

	"github.com/kmodcheck/kmodcheck/runner"
)

// TestMain lets the test binary be the agent that runs the steps in the
// guest, and adds kmodcheck's flags.
func TestMain(m *testing.M) { runner.Main(m, nil) }

// TestTutorials runs each case on each kernel:
// TestTutorials/6.12.48+deb13-amd64/hello.
func TestTutorials(t *testing.T) { runner.Run(t, runner.Params{Dir: "cases"}) }
