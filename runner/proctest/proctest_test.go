package proctest

import (
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/local"
)

// churnEnv makes this test binary the process TestDyingThreadChurn
// watches: one whose threads start and end all the time, as QEMU's worker
// threads do when idle.
const churnEnv = "KMODCHECK_TEST_CHURN"

func TestMain(m *testing.M) {
	if os.Getenv(churnEnv) != "" {
		churn()
	}
	os.Exit(m.Run())
}

// churn starts threads that end at once, for ever: a goroutine that ends
// locked to its thread takes the thread with it.
func churn() {
	for {
		done := make(chan struct{})
		go func() {
			runtime.LockOSThread()
			close(done)
		}()
		<-done
	}
}

// TestDyingThreadChurn watches a live process whose threads come and go:
// a thread that ends is not the process dying. Once the process is killed,
// it is.
func TestDyingThreadChurn(t *testing.T) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), churnEnv+"=1")
	// It churns for ever: it must not outlive a test binary killed mid-test.
	defer local.DieWithKmodcheck(cmd)()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	pid := cmd.Process.Pid
	for i := range 2000 {
		if Dying(pid) {
			t.Fatalf("poll %d: Dying(%d) for a process that runs:\n%s", i, pid, Describe(pid))
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	deadline := time.Now().Add(2 * time.Second)
	for !Dying(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("not Dying(%d) 2s after SIGKILL:\n%s", pid, Describe(pid))
		}
		time.Sleep(10 * time.Millisecond) // polling /proc: there is no signal for another's death
	}
}
