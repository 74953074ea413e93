package local

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/target"
)

// TestInputWait: a step that waits for input at its terminal, which no
// case types, is interrupted as ^C would interrupt it, long before its
// timeout, and says who waited; the session goes on.
func TestInputWait(t *testing.T) {
	dir := t.TempDir()
	sh, err := StartShell(dir, rootEnv, nil)
	if err != nil {
		t.Skip(err)
	}
	defer sh.Close()
	for _, step := range []struct {
		line, stderr string
		exit         int
	}{
		{"read -p 'name? ' name; echo got $name", "name? kmodcheck: the step waits for input at its terminal (bash, pid ", 130},
		{"cat", "kmodcheck: the step waits for input at its terminal (cat, pid ", 130},
		{"echo x | cat; sleep 0.1 | sh -c 'read x; exit 7'", "", 7}, // pipes: no terminal
		{"sleep 2 & wait", "[1] ", 0}, // the shell waits, not for input
	} {
		start := time.Now()
		res := sh.Run(context.Background(), target.Step{Line: step.line, Dir: dir, Timeout: 30 * time.Second})
		if res.Exit != step.exit || res.TimedOut || !strings.HasPrefix(string(res.Stderr), step.stderr) {
			t.Errorf("%s: exit %d (timed out %v), stderr %q; want exit %d, stderr %q...", step.line, res.Exit, res.TimedOut, res.Stderr, step.exit, step.stderr)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%s: ended after %v: waited for its timeout", step.line, d.Round(time.Millisecond))
		}
	}
	if res := sh.Run(context.Background(), target.Step{Line: "echo on", Dir: dir, Timeout: 10 * time.Second}); string(res.Stdout) != "on\n" {
		t.Errorf("after: stdout %q, stderr %q", res.Stdout, res.Stderr)
	}
}

// TestInputWaitNested: in a nested shell, which has no job control, the
// waiting program is killed and the nested shell stays.
func TestInputWaitNested(t *testing.T) {
	dir := t.TempDir()
	sh, err := StartShell(dir, rootEnv, nil)
	if err != nil {
		t.Skip(err)
	}
	defer sh.Close()
	run := func(line string) target.Result {
		return sh.Run(context.Background(), target.Step{Line: line, Dir: dir, Timeout: 30 * time.Second})
	}
	run("bash")
	run("where=nested")
	if res := run("cat"); res.Exit != 137 || res.TimedOut || !strings.Contains(string(res.Stderr), "(cat, pid ") || !strings.Contains(string(res.Stderr), "what the nested shell runs is killed") {
		t.Errorf("cat in a nested shell: exit %d (timed out %v), stderr %q", res.Exit, res.TimedOut, res.Stderr)
	}
	if res := run("echo $where"); string(res.Stdout) != "nested\n" {
		t.Errorf("after: stdout %q, stderr %q: the nested shell did not stay", res.Stdout, res.Stderr)
	}
}

// TestInputWaitPassword: sudo asking a reader whose sudo wants a password
// waits at its prompt, read from /dev/tty, not standard input.
func TestInputWaitPassword(t *testing.T) {
	if _, err := exec.LookPath("sudo"); err != nil {
		t.Skip("no sudo")
	}
	dir, steps := nobodySteps(t)
	start := time.Now()
	res, err := steps.Run(context.Background(), target.Step{Line: "sudo -k true", Dir: dir, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.Exit == 0 || res.TimedOut || !strings.Contains(string(res.Stderr), "the step waits for input at its terminal (sudo, pid ") {
		t.Errorf("sudo -k true as nobody: exit %d (timed out %v), stderr %q", res.Exit, res.TimedOut, res.Stderr)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("ended after %v: waited for its timeout", d.Round(time.Millisecond))
	}
}
