package host

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/target"
)

// TestCasesTakeTurns: two cases on the host target never hold the kernel
// at once; the second starts when the first closes.
func TestCasesTakeTurns(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("reads /dev/kmsg: needs root")
	}
	tg := &Target{}
	ctx := context.Background()
	first, err := tg.Start(ctx, target.Case{Name: "first"})
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if s, err := tg.Start(short, target.Case{Name: "second"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a second case started while the first ran: %v, %v", s, err)
	}
	if err := first.Close(ctx); err != nil {
		t.Fatal(err)
	}
	second, err := tg.Start(ctx, target.Case{Name: "second"})
	if err != nil {
		t.Fatalf("after the first closed: %v", err)
	}
	second.Close(ctx)
	second.Close(ctx) // closing twice gives the turn back once
	third, err := tg.Start(ctx, target.Case{Name: "third"})
	if err != nil {
		t.Fatal(err)
	}
	third.Close(ctx)
}

// TestCloseReleasesKernelLog: a session's kernel log reader and trace go
// with it, in a process that runs case after case.
func TestCloseReleasesKernelLog(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("reads /dev/kmsg: needs root")
	}
	fds := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(ents)
	}
	ctx := context.Background()
	tg := &Target{}
	before := fds()
	for range 3 {
		s, err := tg.Start(ctx, target.Case{Name: "fds"})
		if err != nil {
			t.Fatal(err)
		}
		s.Close(ctx)
	}
	if after := fds(); after > before {
		t.Errorf("%d files open after three sessions closed, %d before", after, before)
	}
}
