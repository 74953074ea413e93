package host

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kmodcheck/kmodcheck/runner/local"
)

// envGuardedParent makes the test binary a kmodcheck that opened a guard
// for a session (its value: the session's SID, then the trace directory),
// says "ready GUARD-PID", and waits to be killed, or to be told on its
// input to close the session itself.
const envGuardedParent = "KMODCHECK_TEST_GUARDED_PARENT"

func TestMain(m *testing.M) {
	if IsGuard() {
		GuardMain() // the session's guard: startGuard runs this binary
	}
	if v := os.Getenv(envGuardedParent); v != "" {
		guardedParent(v)
	}
	os.Exit(m.Run())
}

func guardedParent(v string) {
	sid, trace, _ := strings.Cut(v, " ")
	g, err := startGuard(loadedModules())
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	g.tell(guardSession, sid)
	g.tell(guardTrace, trace)
	fmt.Printf("ready %d\n", g.cmd.Process.Pid)
	bufio.NewReader(os.Stdin).ReadString('\n') // "close", or killed before
	g.done()
	os.Exit(0)
}

// TestGuardUndoesAKilledSession: when the kmodcheck that opened a host
// session dies with SIGKILL, its guard kills every process of the steps'
// session (one that left its shell's descendants too) and removes the
// trace instance; when it closes the session itself, the guard leaves
// everything as it is.
func TestGuardUndoesAKilledSession(t *testing.T) {
	for _, killed := range []bool{true, false} {
		t.Run(map[bool]string{true: "killed", false: "closed"}[killed], func(t *testing.T) {
			// A step's session: the shell, and a job that left it.
			step, trace, self := guardFixture(t, "(sleep 600 &); exec sleep 601")
			parent := exec.Command(self)
			parent.Env = append(os.Environ(), fmt.Sprintf("%s=%d %s", envGuardedParent, step.Process.Pid, trace))
			in, _ := parent.StdinPipe()
			out, _ := parent.StdoutPipe()
			if err := parent.Start(); err != nil {
				t.Fatal(err)
			}
			line, err := bufio.NewReader(out).ReadString('\n')
			guardPID, _ := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(line), "ready "))
			if err != nil || guardPID == 0 {
				parent.Process.Kill()
				parent.Wait()
				t.Fatalf("the parent said %q, %v", line, err)
			}
			guard, err := unix.PidfdOpen(guardPID, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(guard)
			if killed {
				parent.Process.Signal(syscall.SIGKILL)
			} else {
				fmt.Fprintln(in, "close")
			}
			parent.Wait()
			if err := waitExit(guard, 10*time.Second); err != nil {
				t.Fatalf("the guard did not exit: %v", err)
			}

			members := len(local.SessionMembers(step.Process.Pid))
			_, statErr := os.Stat(trace)
			if killed && (members != 0 || statErr == nil) {
				t.Errorf("after kmodcheck was killed: %d processes of the steps' session left, trace directory there: %v", members, statErr == nil)
			}
			if !killed && (members < 2 || statErr != nil) {
				t.Errorf("after kmodcheck closed the session: %d processes of the steps' session (want both sleeps, untouched), trace directory: %v", members, statErr)
			}
		})
	}
}

// TestGuardUnarmed: a guard that was never told which modules to keep
// (started by the variable alone, or by a kmodcheck that died before it
// had said) undoes nothing when its input ends: it would unload every
// module of the machine.
func TestGuardUnarmed(t *testing.T) {
	step, trace, self := guardFixture(t, "exec sleep 600")
	g := exec.Command(self)
	g.Env = append(os.Environ(), EnvGuard+"=1")
	g.Stdin = strings.NewReader(fmt.Sprintf("%s %d\n%s %s\n", guardSession, step.Process.Pid, guardTrace, trace))
	if out, err := g.CombinedOutput(); err != nil {
		t.Fatalf("guard: %v\n%s", err, out)
	}
	if _, err := os.Stat(trace); err != nil || len(local.SessionMembers(step.Process.Pid)) != 1 {
		t.Errorf("an unarmed guard undid the session: trace directory %v, %d processes left of 1", err, len(local.SessionMembers(step.Process.Pid)))
	}
}

// guardFixture starts a step's session running script (killed when the
// test ends), makes a directory that stands for the trace instance, and
// returns them with this test binary's path, which a guard runs.
func guardFixture(t *testing.T, script string) (step *exec.Cmd, trace, self string) {
	t.Helper()
	step = exec.Command("sh", "-c", script)
	step.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := step.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		local.KillSession(step.Process.Pid, 5*time.Second)
		step.Wait()
	})
	trace = filepath.Join(t.TempDir(), "kmodcheck-trace")
	if err := os.Mkdir(trace, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return step, trace, self
}

// waitExit waits until the process of pidfd exits, or wait has passed.
// The Go runtime's own signals interrupt poll (EINTR): it is called again.
func waitExit(pidfd int, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		ms := int(time.Until(deadline).Milliseconds())
		if ms <= 0 {
			return fmt.Errorf("not within %v", wait)
		}
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}, ms)
		switch {
		case n == 1:
			return nil
		case err != nil && !errors.Is(err, unix.EINTR):
			return err
		}
	}
}
