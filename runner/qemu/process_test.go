package qemu

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/local"
	"github.com/kmodcheck/kmodcheck/runner/proctest"
	"github.com/kmodcheck/kmodcheck/runner/proto"
)

// helperEnv names the file a re-run of this test binary writes the fake
// QEMU's PID to, as kmodcheck's stand-in.
const helperEnv = "KMODCHECK_TEST_DYING_PIDFILE"

// TestQEMUDiesWithKmodcheck SIGKILLs a process that is calibrating a
// kernel's delay loop, running the accelerator probe, or running VMs in
// the guest's view of the host's root, each with a fake QEMU that would
// sleep ten minutes: every QEMU must get SIGKILL with it.
func TestQEMUDiesWithKmodcheck(t *testing.T) {
	for _, which := range []string{"calibrate", "probe", "view"} {
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
			defer local.DieWithKmodcheck(cmd)() // nor the helper a test binary killed mid-test
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			pids := waitPIDs(t, pidFile)
			t.Cleanup(func() { // never left running
				for _, pid := range pids {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			})
			cmd.Process.Kill()
			cmd.Wait()
			killed := time.Now()
			running := slices.Clone(pids)
			for len(running) > 0 && time.Since(killed) < 2*time.Second {
				time.Sleep(10 * time.Millisecond) // polling /proc: there is no signal for another's death
				running = slices.DeleteFunc(running, proctest.Dying)
			}
			if len(running) > 0 {
				t.Fatalf("%d of %d fake QEMUs still run 2s after their parent was killed; the first:\n%s", len(running), len(pids), proctest.Describe(running[0]))
			}
		})
	}
}

// dyingHelper is the killed process: it starts which with a fake QEMU
// that writes its PID to pidFile and sleeps.
func dyingHelper(which, pidFile string) {
	if which == "view" {
		viewHelper(pidFile)
	}
	fake := pidFile + ".qemu"
	script := "#!/bin/sh\necho $$ > " + pidFile + ".tmp && mv " + pidFile + ".tmp " + pidFile + "\nexec sleep 600\n"
	if err := local.WriteProgram(fake, []byte(script)); err != nil {
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

// viewVMs is how many VMs viewHelper starts, and viewPadding how many
// mounts each view is given that it leaves out (their targets do not
// exist). A view's process loses QEMU's parent-death signal only when the
// Go scheduler moves its main goroutine to another thread before the
// exec; a view that takes long to read makes that likely: before the view
// kept to its main thread, 1 to 7 views in 100 lost it as the VM's view is,
// and 55 in 100 with the padding.
const (
	viewVMs     = 10
	viewPadding = 20000
)

// viewHelper starts viewVMs VMs at once, each a sleep 600 in a view of
// the host's root that mounts nothing (its own mount namespace all the same),
// then writes their PIDs to pidFile, a line each, once every view has
// exec'd the sleep: a view killed before its exec dies by the fork's own
// parent-death signal, which is not what the test checks.
func viewHelper(pidFile string) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		os.Exit(1)
	}
	var view proto.View
	for i := range viewPadding {
		view.Mounts = append(view.Mounts, proto.Mount{Source: "none", Target: "/nonexistent/" + strconv.Itoa(i), Hides: true})
	}
	pids := make([]string, viewVMs)
	var wg sync.WaitGroup
	for i := range viewVMs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			vm := &VM{t: &Target{Agent: os.Args[0]}, qemu: sleep, tmp: filepath.Join(filepath.Dir(pidFile), strconv.Itoa(i))}
			con, err := newConsole(filepath.Join(filepath.Dir(pidFile), strconv.Itoa(i)+".log"))
			if err != nil || os.Mkdir(vm.tmp, 0o755) != nil {
				os.Exit(1)
			}
			vm.console = con
			if vm.start(context.Background(), &view, []string{"600"}, nil) != nil {
				os.Exit(1)
			}
			pids[i] = strconv.Itoa(vm.cmd.Process.Pid)
		}()
	}
	wg.Wait()
	for _, pid := range pids {
		for exe, _ := os.Readlink("/proc/" + pid + "/exe"); exe != sleep; exe, _ = os.Readlink("/proc/" + pid + "/exe") {
			time.Sleep(time.Millisecond) // polling: nothing says when another process has exec'd
		}
	}
	if os.WriteFile(pidFile+".tmp", []byte(strings.Join(pids, "\n")+"\n"), 0o644) != nil || os.Rename(pidFile+".tmp", pidFile) != nil {
		os.Exit(1)
	}
	time.Sleep(10 * time.Minute) // until the test kills it
	os.Exit(1)
}

// waitPIDs waits for a fake QEMU, or viewHelper, to write its PID to file,
// a line per start, and returns them all.
func waitPIDs(t *testing.T, file string) []int {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(file)
		if lines, ok := strings.CutSuffix(string(b), "\n"); ok { // written whole
			var pids []int
			for _, l := range strings.Split(lines, "\n") {
				pid, err := strconv.Atoi(l)
				if err != nil {
					t.Fatal(err)
				}
				pids = append(pids, pid)
			}
			return pids
		}
		time.Sleep(10 * time.Millisecond) // polling: the fake QEMU has no other way to say it started
	}
	t.Fatal("the fake QEMU did not start within a minute")
	return nil
}

// waitPID is waitPIDs' first.
func waitPID(t *testing.T, file string) int { return waitPIDs(t, file)[0] }
