package qemu_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/cache"
	"github.com/kmodcheck/kmodcheck/runner/guest"
	"github.com/kmodcheck/kmodcheck/runner/kernel"
	"github.com/kmodcheck/kmodcheck/runner/qemu"
	"github.com/kmodcheck/kmodcheck/runner/suite"
	"github.com/kmodcheck/kmodcheck/runner/target"
)

// The tests below boot VMs: this test binary is also the guest's agent.
func TestMain(m *testing.M) {
	if guest.IsGuest() {
		guest.Main()
	}
	os.Exit(m.Run())
}

// vmTarget is the qemu target for the kernel pattern names ("" the
// system's), skipped when there is none or with -short.
func vmTarget(t *testing.T, pattern, boot string) *qemu.Target {
	t.Helper()
	if testing.Short() {
		t.Skip("boots VMs")
	}
	c, err := cache.Default()
	if err != nil {
		t.Fatal(err)
	}
	ks, err := suite.Kernels(c)
	if err != nil {
		t.Fatal(err)
	}
	k, err := kernel.Select(ks, pattern)
	if err != nil {
		t.Skipf("no kernel %q: %v", pattern, err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	self, _ = filepath.EvalSymlinks(self)
	tg := &qemu.Target{Kernel: k, Cache: c, Accel: os.Getenv("KMODCHECK_ACCEL"), Boot: boot, Agent: self,
		Busybox: "/bin/busybox", QEMU: os.Getenv("KMODCHECK_QEMU"), StepTimeout: time.Minute}
	if err := tg.Check(); err != nil {
		t.Skip(err)
	}
	return tg
}

// start starts a session for a case named name, closed at the test's end.
func start(t *testing.T, tg *qemu.Target, name string) (target.Session, string) {
	t.Helper()
	work := t.TempDir()
	s, err := tg.Start(context.Background(), target.Case{Name: name, WorkDir: work, LogDir: filepath.Join(t.TempDir(), name)})
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	t.Logf("%s: ready in %v, notes %q", name, s.Describe().Boot, s.Describe().Notes)
	return s, work
}

func TestDebugStart(t *testing.T) {
	tg := vmTarget(t, "", qemu.BootSnapshot)
	start(t, tg, "a")
	start(t, tg, "b")
}
