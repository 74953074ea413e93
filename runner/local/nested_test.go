package local

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/target"
)

// TestNestedShell types a nested shell's start (bash, sh, and su - where
// this runs as root), steps in it, and its exit into a session: each step
// keeps its own status and output, the shell's variables are its own, and
// exit returns to the session's shell with exit's status.
func TestNestedShell(t *testing.T) {
	dir := t.TempDir()
	sh, err := StartShell(dir, rootEnv, nil)
	if err != nil {
		t.Skip(err)
	}
	defer sh.Close()
	type step struct {
		line           string
		exit           int
		stdout, stderr string
		shell          string // Result.Shell's prefix
	}
	run := func(steps []step) {
		t.Helper()
		for _, s := range steps {
			start := time.Now()
			res := sh.Run(context.Background(), target.Step{Line: s.line, Dir: dir, Timeout: 10 * time.Second})
			if res.Exit != s.exit || string(res.Stdout) != s.stdout || !strings.HasPrefix(string(res.Stderr), s.stderr) || !strings.HasPrefix(res.Shell, s.shell) || (s.shell == "" && res.Shell != "") {
				t.Errorf("%s: exit %d, stdout %q, stderr %q, shell %q; want %d, %q, %q, %q", s.line, res.Exit, res.Stdout, res.Stderr, res.Shell, s.exit, s.stdout, s.stderr, s.shell)
			}
			if res.TimedOut {
				t.Errorf("%s: ran into its timeout after %v: the nested shell was not seen", s.line, time.Since(start))
			}
		}
	}
	run([]step{
		{"X=outer", 0, "", "", ""},
		{"bash", 0, "", "", "root shell: bash, depth 2"},
		{`echo "x=$X"`, 0, "x=\n", "", ""},
		{"echo oops >&2; false", 1, "", "oops\n", ""},
		{"cd /", 0, "", "", ""},
		{"sh", 0, "", "", "root shell: sh, depth 3"},
		{"pwd", 0, "/\n", "", ""},
		{"exit 4", 4, "", "", "root shell: bash, depth 2"},
		{"exit 3", 3, "", "", "root shell: bash, depth 1"},
		{`echo "x=$X"; pwd`, 0, "x=outer\n" + dir + "\n", "", ""},
	})
	if os.Geteuid() != 0 {
		t.Skip("su - needs root")
	}
	if _, err := exec.LookPath("su"); err != nil {
		t.Skip(err)
	}
	run([]step{
		{"su -", 0, "", "", "root shell: bash, depth 2"},
		{"echo $HOME; echo ${X-unset}", 0, "/root\nunset\n", "", ""},
		{"exit", 0, "", "", "root shell: bash, depth 1"},
	})
	// A step in a nested shell that outlives its timeout is killed; the
	// nested shell goes on.
	run([]step{{"bash", 0, "", "", "root shell: bash, depth 2"}})
	res := sh.Run(context.Background(), target.Step{Line: "sleep 100", Dir: dir, Timeout: 300 * time.Millisecond})
	if !res.TimedOut || res.Exit != 137 {
		t.Errorf("sleep 100 with a timeout: timed out %v, exit %d; want true, 137", res.TimedOut, res.Exit)
	}
	run([]step{{"echo $X", 0, "\n", "", ""}, {"exit", 0, "", "", "root shell: bash, depth 1"}})
}

// TestNestedShellRefused: where nested shells are refused (the host
// target), one ends as it starts, and the step says why.
func TestNestedShellRefused(t *testing.T) {
	dir := t.TempDir()
	sh, err := StartShell(dir, rootEnv, nil)
	if err != nil {
		t.Skip(err)
	}
	defer sh.Close()
	sh.Refuse = "nested shells are refused here"
	res := sh.Run(context.Background(), target.Step{Line: "bash", Dir: dir, Timeout: 10 * time.Second})
	if res.Exit == 0 || !strings.Contains(string(res.Stderr), "nested shells are refused here") || res.TimedOut {
		t.Errorf("bash: exit %d, stderr %q, timed out %v", res.Exit, res.Stderr, res.TimedOut)
	}
	if res := sh.Run(context.Background(), target.Step{Line: "echo $$", Dir: dir, Timeout: 10 * time.Second}); res.Exit != 0 || res.Shell != "" {
		t.Errorf("after: exit %d, shell %q", res.Exit, res.Shell)
	}
}

func TestReadsCommands(t *testing.T) {
	for argv, want := range map[string]bool{
		"-bash": true, "bash": true, "/bin/bash": true, "bash --login": true, "bash -l": true, "sh": true,
		"bash --rcfile x -i": true, "bash -s a b": true, "bash -o posix": true,
		"bash -c id": false, "bash -lc id": false, "bash script.sh": false, "sh -e x.sh": false,
	} {
		if got := readsCommands(strings.Fields(argv)); got != want {
			t.Errorf("readsCommands(%q) = %v, want %v", argv, got, want)
		}
	}
}
