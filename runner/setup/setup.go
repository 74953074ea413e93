// Package setup builds what a run needs before its cases: the targets its
// options ask for (a QEMU target per kernel, fetching the kernels not here,
// or the host), each prepared once (a release root, a calibration, a saved
// state). kmodcheck run, bisect and shell, and a course's go test
// (runner.Run), all start here.
package setup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/cache"
	"github.com/kmodcheck/kmodcheck/runner/host"
	"github.com/kmodcheck/kmodcheck/runner/kernel"
	"github.com/kmodcheck/kmodcheck/runner/qemu"
	"github.com/kmodcheck/kmodcheck/runner/scratch"
	"github.com/kmodcheck/kmodcheck/runner/target"
)

// Options choose a target.
type Options struct {
	Target      string // qemu (default) or host
	Kernel      string // kernel name or pattern for qemu; empty: newest complete
	Accel       string // auto, kvm, tcg
	Boot        string // qemu: snapshot (default) or cold
	StepTimeout time.Duration
	Progress    io.Writer // where making a release root is shown; nil: nowhere
}

// Error is an error in the set-up rather than in a case: the CLI exits 2.
type Error struct{ Err error }

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// NewTargets builds one target per kernel named (for the qemu target), or
// the one target the options ask for when none is named. "span" names the
// span's kernels (kernel.SpanName); a kernel named that is neither on the
// system nor in the cache is fetched, with progress.
func (o Options) NewTargets(ctx context.Context, kernels []string) ([]target.Target, error) {
	// The host target runs on the kernel it is on: nothing to fetch.
	kernels, err := kernel.Obtain(ctx, kernels, o.Target != "host", o.Progress)
	if err != nil {
		return nil, &Error{err}
	}
	if len(kernels) == 0 {
		t, err := o.NewTarget()
		if err != nil {
			return nil, err
		}
		return []target.Target{t}, nil
	}
	var ts []target.Target
	seen := map[string]bool{}
	for _, k := range kernels {
		o.Kernel = k
		t, err := o.NewTarget()
		if err != nil {
			return nil, err
		}
		if seen[t.Release()] {
			return nil, &Error{fmt.Errorf("kernel %s is named twice", t.Release())}
		}
		seen[t.Release()] = true
		ts = append(ts, t)
	}
	return ts, nil
}

// NewTarget builds the target the options ask for, checking that this
// machine has what it needs. It first removes the temporary directories
// a killed kmodcheck left (scratch).
func (o Options) NewTarget() (target.Target, error) {
	scratch.RemoveStale()
	switch o.Target {
	case "host":
		t := &host.Target{StepTimeout: o.StepTimeout}
		if err := t.Check(); err != nil {
			return nil, &Error{err}
		}
		return t, nil
	case "", "qemu":
	default:
		return nil, &Error{fmt.Errorf("unknown target %q (want qemu or host)", o.Target)}
	}
	c, err := cache.Default()
	if err != nil {
		return nil, &Error{err}
	}
	ks, err := kernel.Discover(c)
	if err != nil {
		return nil, &Error{err}
	}
	k, err := kernel.SelectNamed(ks, o.Kernel)
	if err != nil {
		return nil, &Error{err}
	}
	self, err := os.Executable()
	if err != nil {
		return nil, &Error{err}
	}
	self, _ = filepath.EvalSymlinks(self)
	t := &qemu.Target{
		Kernel: k, Cache: c, Accel: o.Accel, Boot: o.Boot, Agent: self, QEMU: os.Getenv("KMODCHECK_QEMU"),
		Busybox: "/bin/busybox", StepTimeout: o.StepTimeout, Progress: o.Progress,
	}
	if !k.System() {
		a, err := kernel.NewArchive(c)
		if err != nil {
			return nil, &Error{err}
		}
		t.Roots = &kernel.Roots{Archive: a, Cache: c, Out: o.Progress}
	}
	if err := t.Check(); err != nil {
		return nil, &Error{err}
	}
	return t, nil
}

// Prepare has every target that can do the work it does once per kernel
// (a release root, a calibration, a saved state) do it now, all at once,
// so that no case pays for it within its own time bounds.
func Prepare(ctx context.Context, targets []target.Target) error {
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		p, ok := t.(interface{ Prepare(context.Context) error })
		if !ok {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.Prepare(ctx); err != nil {
				errs[i] = fmt.Errorf("prepare %s: %w", t.Release(), err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return &Error{err}
	}
	return nil
}
