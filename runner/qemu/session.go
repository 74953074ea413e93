package qemu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/kmsg"
	"github.com/kmodcheck/kmodcheck/runner/local"
	"github.com/kmodcheck/kmodcheck/runner/target"
)

// A Session is one case's VM (a target.Session). Start returns it while
// the VM boots: build steps run on the host at once, and everything that
// needs the kernel waits for the boot. A case that fails before the boot
// ends (its build did) stops the boot when it closes.
type Session struct {
	t     *Target
	build *caseBuild
	work  string
	stop  context.CancelFunc // ends the boot, or kills the VM it started

	booted chan struct{} // closed when the boot has ended, either way
	vm     *VM           // the booted VM, once booted is closed; nil if it failed
	err    error         // why the boot failed

	pwd     string // the case's shell's working directory after the last guest step
	lastDir string // that step's Dir, as testscript gave it
	changed bool   // a build changed the machine since the guest last took its changes
	// handover gives the reader what the case's builtins wrote between
	// steps; it does nothing unless kmodcheck runs as root.
	handover local.Handover
}

// begin starts booting the VM of case c as l says, with build as the
// case's build side; the boot's time counts from since.
func (t *Target) begin(ctx context.Context, c target.Case, build *caseBuild, l launch, since time.Time) *Session {
	ctx, stop := context.WithCancel(ctx)
	s := &Session{t: t, build: build, work: c.WorkDir, stop: stop, booted: make(chan struct{})}
	if os.Getuid() == 0 {
		s.handover = local.Handover{Dir: c.WorkDir, UID: l.reader.UID, GID: l.reader.GID}
	}
	l.changes = build.upper
	go func() {
		defer close(s.booted)
		s.vm, s.err = t.launch(ctx, c, l)
		if s.vm != nil {
			s.vm.info.Boot = time.Since(since)
		}
	}()
	return s
}

// wait waits for the boot, or for ctx to end.
func (s *Session) wait(ctx context.Context) (*VM, error) {
	select {
	case <-s.booted:
		return s.vm, s.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Ready waits for the VM to boot and describes it.
func (s *Session) Ready(ctx context.Context) (target.Info, error) {
	vm, err := s.wait(ctx)
	if err != nil {
		return target.Info{}, err
	}
	return vm.info, nil
}

// Run runs a build step on the host at once (build.go), and a step on the
// kernel in the guest once it is up, as the reader, who owns what the
// case's builtins wrote since the last step (local.Handover).
func (s *Session) Run(ctx context.Context, step target.Step) (target.Result, error) {
	if err := s.handover.Before(); err != nil {
		return target.Result{Step: step, Exit: -1}, fmt.Errorf("give the reader what the case wrote in its work directory: %w", err)
	}
	res, err := s.run(ctx, step)
	if herr := s.handover.After(); herr != nil && err == nil {
		err = fmt.Errorf("list what root owns in the work directory: %w", herr)
	}
	return res, err
}

func (s *Session) run(ctx context.Context, step target.Step) (target.Result, error) {
	if step.Timeout == 0 {
		step.Timeout = s.t.StepTimeout
	}
	if step.Where == target.OnBuild {
		// Where the case's shell is (cd drv, then make), if testscript's
		// cd has not moved the case since: the host sees the work
		// directory only, the guest's own directories not at all.
		if s.pwd != "" && step.Dir == s.lastDir {
			if !within(s.pwd, s.work) {
				return target.Result{Step: step, Exit: -1}, fmt.Errorf("the case's shell is in %s, outside the work directory: a build step runs on the host, in the work directory or below it (cd back there first, or build in the guest with sh %s)", s.pwd, step.Line)
			}
			step.Dir = s.pwd
		}
		res := s.build.run(ctx, step)
		s.changed = s.changed || s.build.changed()
		return res, nil
	}
	vm, err := s.wait(ctx)
	if err != nil {
		return target.Result{Step: step, Exit: -1}, err
	}
	res, pwd, err := vm.run(ctx, step, s.changed)
	if pwd != "" {
		s.pwd, s.lastDir = pwd, step.Dir
	}
	if err == nil {
		s.changed = false
	}
	return res, err
}

// Log returns the guest kernel's records from since on.
func (s *Session) Log(ctx context.Context, since uint64) ([]kmsg.Record, error) {
	vm, err := s.wait(ctx)
	if err != nil {
		return nil, err
	}
	return vm.Log(ctx, since)
}

// Inspect reports the guest's modules, kernel threads and leaks.
func (s *Session) Inspect(ctx context.Context) (target.State, error) {
	vm, err := s.wait(ctx)
	if err != nil {
		return target.State{}, err
	}
	return vm.Inspect(ctx)
}

// BlockedTasks lists the guest kernel's blocked tasks.
func (s *Session) BlockedTasks(ctx context.Context) ([]kmsg.Record, error) {
	vm, err := s.wait(ctx)
	if err != nil {
		return nil, err
	}
	return vm.BlockedTasks(ctx)
}

// Shell runs an interactive shell in the guest once it is up (shell.go).
func (s *Session) Shell(ctx context.Context, sh Shell) (int, error) {
	vm, err := s.wait(ctx)
	if err != nil {
		return -1, err
	}
	return vm.Shell(ctx, sh)
}

// PeakRSS is the most memory the VM's QEMU held at once (VM.PeakRSS); 0
// when it did not boot.
func (s *Session) PeakRSS() uint64 {
	select {
	case <-s.booted:
		if s.vm != nil {
			return s.vm.PeakRSS()
		}
	default:
	}
	return 0
}

// Close powers the VM off, or stops its boot at once when it is still
// booting (the case no longer needs it), and removes the case's build
// side.
func (s *Session) Close(ctx context.Context) error {
	select {
	case <-s.booted:
	default:
		s.stop()
		<-s.booted
	}
	var err error
	if s.vm != nil {
		err = s.vm.Close(ctx)
	}
	s.stop()
	return errors.Join(err, s.build.remove())
}
