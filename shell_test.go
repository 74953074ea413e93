package main

import (
	"bufio"
	"bytes"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/kmodcheck/kmodcheck/runner/qemu"
	"github.com/kmodcheck/kmodcheck/runner/setup"
	"github.com/kmodcheck/kmodcheck/runner/targettest"
)

// shellAccel is the accelerator the shell tests ask for: the package's
// -accel flag.
func shellAccel() string {
	if f := flag.Lookup("accel"); f != nil {
		return f.Value.String()
	}
	return "auto"
}

// shellKernel is the release `kmodcheck shell` boots without -kernel.
func shellKernel(t *testing.T) string {
	tg, err := setup.Options{Target: "qemu", Accel: shellAccel()}.NewTarget()
	if err != nil {
		t.Fatal(err)
	}
	return tg.(*qemu.Target).Kernel.Release
}

// kmodcheckCmd runs this test binary as the kmodcheck command (TestMain
// dispatches on the program name); it is also the guest's agent.
func kmodcheckCmd(t *testing.T, args ...string) *exec.Cmd {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return &exec.Cmd{Path: self, Args: append([]string{"kmodcheck"}, args...)}
}

// lockedBuffer collects what a process writes while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// terminalControls are what a shell writes to a terminal besides text:
// CSI sequences (bracketed paste on and off, colours) and OSC titles.
var terminalControls = regexp.MustCompile("\x1b\\[[0-9;?]*[ -/]*[@-~]|\x1b\\][^\a\x1b]*(\a|\x1b\\\\)|\x1b[=>]")

// screen is the terminal side of a pty: what the program printed, and a
// reading position for expect.
type screen struct {
	t    *testing.T
	out  *lockedBuffer
	errs *lockedBuffer
	pos  int // in the output with terminal controls removed
}

func (s *screen) text() string { return terminalControls.ReplaceAllString(s.out.String(), "") }

// expect waits until re matches the output after the last match and
// returns the submatches.
func (s *screen) expect(re string, timeout time.Duration) []string {
	s.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(timeout)
	for {
		text := s.text()
		if loc := rx.FindStringSubmatchIndex(text[s.pos:]); loc != nil {
			m := make([]string, len(loc)/2)
			for i := range m {
				if loc[2*i] >= 0 {
					m[i] = text[s.pos+loc[2*i] : s.pos+loc[2*i+1]]
				}
			}
			s.pos += loc[1]
			return m
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("no %q within %v; the terminal shows, since the last match:\n%q\nstderr:\n%s", re, timeout, text[s.pos:], s.errs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// prompt matches a shell prompt waiting for input: root@kmodcheck:/dir# or $.
const prompt = `[#$] $`

// outputLine matches the start of a command's output: the end of the line
// typed, and the carriage return that comes with bracketed paste's end.
// A line typed before readline had the terminal is echoed twice, the
// second time redrawn after the prompt and ended by a carriage return
// alone ("stty size\r\n\r\r# stty size\r37 123\r\n", seen in CI).
const outputLine = `[\r\n]\r*`

// TestShell drives `kmodcheck shell CASE` through a pseudo-terminal as a
// person would: it waits for the prompt, checks the kernel, the case's
// files and the window size as the guest sees them, passes a window-size
// change through, and exits with a status of its own.
func TestShell(t *testing.T) {
	targettest.BootsVM(t)
	release := shellKernel(t)
	dir := t.TempDir()
	caseFile := filepath.Join(dir, "shell_case.txtar")
	err := os.WriteFile(caseFile, []byte("module kthread_init_work\nmake\n-- note.txt --\nhello from the case\n"), 0o644)
	if err != nil {
		t.Fatal(err)
	}

	cmd := kmodcheckCmd(t, "shell", "-accel", shellAccel(), caseFile)
	cmd.Env = append(os.Environ(), "TERM=xterm")
	errs := &lockedBuffer{}
	cmd.Stderr = errs
	start := time.Now()
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 30, Cols: 90})
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	var workDir string
	t.Cleanup(func() { // if the test failed: kmodcheck and QEMU, and what kmodcheck would remove
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		if workDir != "" {
			os.RemoveAll(workDir)
		}
	})
	out := &lockedBuffer{}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			out.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	s := &screen{t: t, out: out, errs: errs}
	typeLine := func(line string) {
		t.Helper()
		if _, err := ptmx.Write([]byte(line + "\r")); err != nil { // Enter is a carriage return
			t.Fatal(err)
		}
	}

	s.expect(prompt, 3*time.Minute)
	t.Logf("prompt after %.1fs (%s)", time.Since(start).Seconds(), strings.TrimSpace(regexp.MustCompile(`\S+: ready in \S+`).FindString(errs.String())))
	work := regexp.MustCompile(`work directory (/\S+)`).FindStringSubmatch(errs.String())
	if work == nil {
		t.Fatalf("kmodcheck did not name its work directory; stderr:\n%s", errs.String())
	}
	workDir = work[1]
	if processUsing(work[1]) == "" {
		t.Errorf("no QEMU process shares %s while the shell runs", work[1])
	}
	if !strings.Contains(errs.String(), `"module kthread_init_work" is not run`) {
		t.Errorf("no note that the case's module line is not run; stderr:\n%s", errs.String())
	}

	typeLine("uname -r")
	s.expect(outputLine+regexp.QuoteMeta(release)+`\r\n`, time.Minute)
	s.expect(prompt, time.Minute)

	typeLine("pwd; cat note.txt")
	s.expect(outputLine+regexp.QuoteMeta(work[1])+`\r\nhello from the case\r\n`, time.Minute)
	s.expect(prompt, time.Minute)

	typeLine("stty size")
	if got := s.expect(outputLine+`(\d+ \d+)\r\n`, time.Minute)[1]; got != "30 90" {
		t.Errorf("stty size in the guest at the start: %s, want 30 90", got)
	}
	s.expect(prompt, time.Minute)

	// The new size travels on the agent's channel, what is typed on the
	// terminal's: the first stty may still see the old size.
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 37, Cols: 123}); err != nil {
		t.Fatal(err)
	}
	var size string
	try := 0
	for ; try < 10 && size != "37 123"; try++ {
		typeLine("stty size")
		// The resize may reach bash as it reads the line: readline then
		// redraws prompt and line after their newline, and the output
		// follows the redrawn line ("$ stty size37 123").
		size = s.expect(`(?:`+outputLine+`|stty size)(\d+ \d+)\r\n`, time.Minute)[1]
		s.expect(prompt, time.Minute)
		if size != "37 123" {
			time.Sleep(200 * time.Millisecond)
		}
	}
	if size != "37 123" {
		t.Errorf("stty size in the guest after the terminal was resized to 37x123: %s", size)
	}
	t.Logf("new size seen by stty on try %d", try)

	typeLine("exit 3")
	select {
	case err = <-exited:
	case <-time.After(2 * time.Minute):
		t.Fatalf("kmodcheck shell did not exit after the shell did; the terminal shows:\n%s\nstderr:\n%s", s.text()[s.pos:], errs.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 3 {
		t.Errorf("kmodcheck shell exited with %d (%v), want the shell's 3; stderr:\n%s", code, err, errs.String())
	}
	t.Logf("exit after %.1fs in all", time.Since(start).Seconds())
	if p := processUsing(work[1]); p != "" {
		t.Errorf("the VM outlived kmodcheck shell: %s", p)
	}
	if _, err := os.Stat(work[1]); !os.IsNotExist(err) {
		t.Errorf("work directory %s left behind (%v)", work[1], err)
	}
}

// TestShellPipe runs `kmodcheck shell` with commands on a pipe rather than a
// terminal: no raw mode and no window size, the same shell. The end of the
// input ends it once it is back at its prompt, after a command that runs a
// while, and the shell's status, the last command's, is kmodcheck's.
func TestShellPipe(t *testing.T) {
	targettest.BootsVM(t)
	release := shellKernel(t)
	cmd, out, errs := shellPiped(t, 3*time.Minute, func(string) string { return "uname -r\nsleep 1; (exit 4)\n" })
	if code := cmd.ProcessState.ExitCode(); code != 4 {
		t.Errorf("kmodcheck shell exited with %d, want the shell's 4; stderr:\n%s", code, errs.String())
	}
	if !regexp.MustCompile(outputLine + regexp.QuoteMeta(release) + `\r\n`).MatchString(out.String()) {
		t.Errorf("no %s in the output:\n%q", release, out.String())
	}
}

// shellPiped runs kmodcheck shell with a pipe as its standard input and
// waits for it to exit, at most limit; it is killed, with its process
// group, when the test ends. What the pipe carries is input(work), written
// once the shell has said its work directory, which the guest sees at the
// same path: a test can put files there first.
func shellPiped(t *testing.T, limit time.Duration, input func(work string) string) (cmd *exec.Cmd, out, errs *lockedBuffer) {
	t.Helper()
	cmd = kmodcheckCmd(t, "shell", "-accel", shellAccel())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, errs = &lockedBuffer{}, &lockedBuffer{}
	cmd.Stdout = out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	work := make(chan string, 1)
	copied := make(chan struct{})
	go func() { // stderr to errs, its work directory line to work
		defer close(copied)
		workLine := regexp.MustCompile(`^kmodcheck: work directory (\S+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			errs.Write(append(sc.Bytes(), '\n'))
			if m := workLine.FindStringSubmatch(sc.Text()); m != nil {
				work <- m[1]
			}
		}
	}()
	exited := make(chan error, 1)
	go func() { <-copied; exited <- cmd.Wait() }()
	deadline := time.After(limit)
	select {
	case w := <-work:
		io.WriteString(stdin, input(w))
		stdin.Close()
	case <-exited:
		t.Fatalf("kmodcheck shell exited before it named its work directory; stderr:\n%s", errs.String())
	case <-deadline:
		t.Fatalf("kmodcheck shell did not name its work directory within %v; stderr:\n%s", limit, errs.String())
	}
	select {
	case <-exited:
	case <-deadline:
		t.Fatalf("kmodcheck shell did not exit at the end of its input within %v; stdout:\n%q\nstderr:\n%s", limit, out.String(), errs.String())
	}
	return cmd, out, errs
}

// processUsing names a process whose command line mentions path, if any.
func processUsing(path string) string {
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range cmdlines {
		b, err := os.ReadFile(f)
		if err == nil && bytes.Contains(b, []byte(path)) {
			return filepath.Base(filepath.Dir(f)) + ": " + strings.Join(strings.Split(strings.TrimRight(string(b), "\x00"), "\x00"), " ")
		}
	}
	return ""
}
