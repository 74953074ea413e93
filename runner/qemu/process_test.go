package qemu

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/proctest"
)

// helperEnv names the file a re-run of this test binary writes the fake
// QEMU's PID to, as kmodcheck's stand-in.
const helperEnv = "KMODCHECK_TEST_DYING_PIDFILE"

// TestQEMUDiesWithKmodcheck SIGKILLs a process that is calibrating a
// kernel's delay loop and running the accelerator probe, each with a fake
// QEMU that would sleep ten minutes: both QEMUs must get SIGKILL with it.
func TestQEMUDiesWithKmodcheck(t *testing.T) {
	for _, which := range []string{"calibrate", "probe"} {
		t.Run(which, func(t *testing.T) {
			if pidFile := os.Getenv(helperEnv); pidFile != "" {
				if os.Getenv("KMODCHECK_TEST_DYING") == which {
					dyingHelper(which, pidFile)
				}
				return
			}
			dir := t.TempDir()
			pidFile := filepath.Join(dir, "pid")
			cmd := exec.Command(os.Args[0], "-test.run=^TestQEMUDiesWithKmodcheck$/^"+which+"$")
			cmd.Env = append(os.Environ(), helperEnv+"="+pidFile, "KMODCHECK_TEST_DYING="+which)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			pid := waitPID(t, pidFile)
			t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) }) // never left running
			cmd.Process.Kill()
			cmd.Wait()
			killed := time.Now()
			for !proctest.Dying(pid) {
				if time.Since(killed) > 2*time.Second {
					t.Fatalf("the fake QEMU %d still runs 2s after its parent was killed", pid)
				}
				time.Sleep(10 * time.Millisecond) // polling /proc: there is no signal for another's death
			}
		})
	}
}

// dyingHelper is the killed process: it starts which with a fake QEMU
// that writes its PID to pidFile and sleeps.
func dyingHelper(which, pidFile string) {
	fake := pidFile + ".qemu"
	script := "#!/bin/sh\necho $$ > " + pidFile + ".tmp && mv " + pidFile + ".tmp " + pidFile + "\nexec sleep 600\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		os.Exit(1)
	}
	tg := &Target{QEMU: fake}
	if which == "calibrate" {
		tg.calibrate(context.Background(), "/nonexistent", "tcg")
	} else {
		tg.probeKVM(context.Background(), "/nonexistent")
	}
	os.Exit(1)
}

// waitPID waits for a fake QEMU to write its PID to file, a line per
// start, and returns the first.
func waitPID(t *testing.T, file string) int {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(file)
		if first, _, ok := strings.Cut(string(b), "\n"); ok { // written whole
			pid, err := strconv.Atoi(first)
			if err != nil {
				t.Fatal(err)
			}
			return pid
		}
		time.Sleep(10 * time.Millisecond) // polling: the fake QEMU has no other way to say it started
	}
	t.Fatal("the fake QEMU did not start within a minute")
	return 0
}
