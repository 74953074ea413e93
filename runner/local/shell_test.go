package local

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/target"
)

// rootEnv is a root login's environment.
var rootEnv = LoginEnv("root", "/root", "C.UTF-8")

// TestShellSession types steps into one bash session, as a reader types
// lines into a terminal: state carries from step to step, each step keeps
// its own status and output.
func TestShellSession(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(dir+"/sub", 0o755)
	sh, err := StartShell(dir, rootEnv, nil)
	if err != nil {
		t.Skip(err)
	}
	defer sh.Close()
	steps := []struct {
		line           string
		exit           int
		stdout, stderr string
	}{
		{"cd sub", 0, "", ""},
		{"pwd", 0, dir + "/sub\n", ""},
		{"export GREETING='hello world'; false", 1, "", ""},
		{`echo "$GREETING"; echo oops >&2`, 0, "hello world\n", "oops\n"},
		{"echo 1 > /proc/self/stat", 1, "", "bash: echo: write error: Invalid argument\n"},
		{"echo $((1+))", 1, "", "bash: 1+: syntax error: operand expected (error token is \"+\")\n"},
		{"sleep 100 &", 0, "", "[1] "},
		{"jobs", 0, "[1]+  Running                 sleep 100 &\n", ""},
		{"kill %1", 0, "", ""},
		{"wait", 0, "", ""}, // "[1]+ Terminated" comes with this step or the last
		{"tty", 0, "/dev/pts/", ""},
		{"ll -d /", 0, "drwxr-xr-x ", ""}, // Ubuntu's ~/.bashrc aliases
		{"type la l", 0, "la is aliased to `ls -A'\nl is aliased to `ls -CF'\n", ""},
	}
	for _, s := range steps {
		res := sh.Run(context.Background(), target.Step{Line: s.line, Dir: dir, Timeout: 10 * time.Second})
		if res.Exit != s.exit || !strings.HasPrefix(string(res.Stdout), s.stdout) || !strings.HasPrefix(string(res.Stderr), s.stderr) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want %d, %q, %q", s.line, res.Exit, res.Stdout, res.Stderr, s.exit, s.stdout, s.stderr)
		}
	}
	// A step that outlives its timeout is killed; the session goes on.
	res := sh.Run(context.Background(), target.Step{Line: "sleep 100", Dir: dir, Timeout: 300 * time.Millisecond})
	if !res.TimedOut || res.Exit != 137 {
		t.Errorf("sleep 100 with a timeout: timed out %v, exit %d; want true, 137", res.TimedOut, res.Exit)
	}
	if res := sh.Run(context.Background(), target.Step{Line: "pwd", Dir: dir, Timeout: 10 * time.Second}); string(res.Stdout) != dir+"/sub\n" {
		t.Errorf("pwd after a timeout: %q (stderr %q)", res.Stdout, res.Stderr)
	}
	// A line left open is interrupted, as ^C at bash's "> " prompt.
	if res := sh.Run(context.Background(), target.Step{Line: "echo 'open", Dir: dir, Timeout: 10 * time.Second}); res.Exit == 0 || !strings.Contains(string(res.Stderr), "incomplete") {
		t.Errorf("an open quote: exit %d, stderr %q", res.Exit, res.Stderr)
	}
	sh.Run(context.Background(), target.Step{Line: "tail -f /dev/null &", Dir: dir, Timeout: 10 * time.Second})
	jobs, err := sh.StopJobs()
	if err != nil || len(jobs) != 1 || !strings.Contains(jobs[0], "tail -f /dev/null") {
		t.Errorf("jobs left: %q, %v", jobs, err)
	}
	if jobs, _ := sh.Jobs(); len(jobs) != 0 {
		t.Errorf("jobs after StopJobs: %q", jobs)
	}
}

// TestSudoStandIn runs the forms tutorials use through the stand-in that
// replaces a missing sudo.
func TestSudoStandIn(t *testing.T) {
	dir := t.TempDir()
	env, err := WithSudo([]string{"PATH=/nonexistent", "HOME=/root", "FOO=kept"}, dir)
	if err != nil {
		t.Fatal(err)
	}
	sh, err := StartShell(dir, env, nil)
	if err != nil {
		t.Skip(err)
	}
	defer sh.Close()
	export := sh.Run(context.Background(), target.Step{Line: "export FOO=kept PATH=" + dir + ":/usr/bin:/bin", Dir: dir, Timeout: 10 * time.Second})
	if export.Exit != 0 {
		t.Fatalf("export: %s", export.Stderr)
	}
	for _, c := range []struct{ line, stdout string }{
		{"sudo id -u", "0\n"},
		{"sudo printenv FOO || echo reset", "reset\n"},
		{"sudo -E printenv FOO", "kept\n"},
		{"sudo -u root sh -c 'echo $USER'", "root\n"},
		{"echo 1 | sudo tee /dev/null", "1\n"},
		{"sudo -u nobody id 2>&1", "sudo: kmodcheck's stand-in runs commands as root only, not nobody\n"},
	} {
		res := sh.Run(context.Background(), target.Step{Line: c.line, Dir: dir, Timeout: 10 * time.Second})
		if string(res.Stdout) != c.stdout {
			t.Errorf("%s: stdout %q, stderr %q; want %q", c.line, res.Stdout, res.Stderr, c.stdout)
		}
	}
}

// TestShellPwd: the shell's directory after each line, for what runs
// beside it (the qemu target's builds on the host).
func TestShellPwd(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(dir+"/drv", 0o755)
	sh, err := StartShell(dir, rootEnv, nil)
	if err != nil {
		t.Skip(err)
	}
	defer sh.Close()
	if sh.Pwd() != dir {
		t.Errorf("Pwd at the start: %q, want %q", sh.Pwd(), dir)
	}
	sh.Run(context.Background(), target.Step{Line: "cd drv", Dir: dir, Timeout: 10 * time.Second})
	if sh.Pwd() != dir+"/drv" {
		t.Errorf("Pwd after cd drv: %q, want %q", sh.Pwd(), dir+"/drv")
	}
}

// A make that started kmodcheck (make test, make bench) must not reach the
// tutorial's make: it would print "make[1]: Entering directory" lines a
// reader's terminal does not show, and the step-output goldens would differ.
func TestHostEnvDropsParentMake(t *testing.T) {
	t.Setenv("MAKELEVEL", "1")
	t.Setenv("MAKEFLAGS", "w -- GO=go")
	t.Setenv("MFLAGS", "-w")
	t.Setenv("KMODCHECK_KEPT", "yes")
	env := strings.Join(HostEnv(), "\n")
	for _, name := range []string{"MAKELEVEL", "MAKEFLAGS", "MFLAGS"} {
		if strings.Contains("\n"+env, "\n"+name+"=") {
			t.Errorf("HostEnv keeps %s", name)
		}
	}
	if !strings.Contains(env, "KMODCHECK_KEPT=yes") {
		t.Errorf("HostEnv dropped an ordinary variable")
	}
	res := RunSh(context.Background(), target.Step{Line: "make -s -f /dev/null -p 2>/dev/null | grep -c '^MAKELEVEL := 0$' || true", Dir: t.TempDir()}, HostEnv())
	if got := strings.TrimSpace(string(res.Stdout)); got != "1" {
		t.Errorf("make under HostEnv: MAKELEVEL is not 0 (%q, stderr %q)", got, res.Stderr)
	}
}

// TestStepsCloseEndsSession: what a reader's steps left running when the
// case ends goes, though it left the shell's descendants: a subshell's
// background job, reparented when the subshell exited, and a nohup job;
// the sessions are told to OnSession as they start.
func TestStepsCloseEndsSession(t *testing.T) {
	dir := t.TempDir()
	var told []int
	steps := Steps{Env: rootEnv, OnSession: func(sid int) { told = append(told, sid) }}
	for _, line := range []string{
		"(sleep 600 & echo $! > orphan.pid)",
		"nohup sleep 601 >/dev/null 2>&1 & echo $! > nohup.pid",
	} {
		if res, err := steps.Run(context.Background(), target.Step{Line: line, Dir: dir, Timeout: 10 * time.Second}); err != nil || res.Exit != 0 {
			t.Fatalf("%s: exit %d, %v, stderr %q", line, res.Exit, err, res.Stderr)
		}
	}
	var pids []int
	for _, f := range []string{"orphan.pid", "nohup.pid"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || !alive(pid) {
			t.Fatalf("%s: %q is not a running process", f, b)
		}
		pids = append(pids, pid)
	}
	if len(told) != 1 {
		t.Errorf("OnSession was told %v, want the one session", told)
	}
	steps.Close()
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("process %d still runs after Close", pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// TestShellAsAnotherUser runs the session as another user, as the guest
// runs a case's steps as its reader: the steps are that user's, their
// statuses still come back (the shell writes the status FIFO), and the
// terminal is theirs, as login makes it.
func TestShellAsAnotherUser(t *testing.T) {
	dir, steps := nobodySteps(t)
	for _, step := range []struct {
		line, stdout string
		exit         int
	}{
		{"id -u; id -G", "65534\n65534\n", 0},
		{"stat -c %u \"$(tty)\"", "65534\n", 0},
		{"touch mine && stat -c %u mine", "65534\n", 0},
		{"echo x > /etc/kmodcheck-test-not-root", "", 1},
		{"echo $USER $HOME", "nobody /nonexistent\n", 0},
	} {
		res, err := steps.Run(context.Background(), target.Step{Line: step.line, Dir: dir, Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if res.Exit != step.exit || string(res.Stdout) != step.stdout {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit %d, stdout %q", step.line, res.Exit, res.Stdout, res.Stderr, step.exit, step.stdout)
		}
	}
}

// nobodySteps returns a directory of nobody's, which the test removes,
// and steps that run as nobody in a login's environment; it skips the
// test unless it runs as root.
func nobodySteps(t *testing.T) (string, *Steps) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	dir, err := os.MkdirTemp("", "kmodcheck-user-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	const nobody = 65534
	if err := errors.Join(os.Chmod(dir, 0o755), os.Chown(dir, nobody, nobody)); err != nil {
		t.Fatal(err)
	}
	steps := &Steps{Env: LoginEnv("nobody", "/nonexistent", "C.UTF-8"), Cred: &syscall.Credential{Uid: nobody, Gid: nobody}}
	t.Cleanup(steps.Close)
	return dir, steps
}
