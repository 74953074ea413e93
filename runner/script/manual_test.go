package script

import (
	"os"
	"regexp"
	"testing"
)

// TestCommandsDocumented keeps the case language's command table and its
// manual (docs/cases.md's table of commands) in step.
func TestCommandsDocumented(t *testing.T) {
	manual, err := os.ReadFile("../../docs/cases.md")
	if err != nil {
		t.Fatal(err)
	}
	var cfg Config
	for name := range cfg.Params().Cmds {
		if !regexp.MustCompile("(?m)^\\| .*`" + regexp.QuoteMeta(name) + "[ `]").Match(manual) {
			t.Errorf("the case language's %q is not in docs/cases.md's table of commands", name)
		}
	}
}
