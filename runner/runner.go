// Package runner runs a course's kmodcheck cases from its own go test, as
// testscript's Main and Run do for scripts: each case in a directory of
// .txtar files becomes a subtest of its kernel's,
// TestTutorials/6.12.48+deb13-amd64/hello, run in a VM of that kernel.
//
// A course's repository holds cases/, golden/ and modules/ as kmodcheck's
// own does, and one test file:
//
//	func TestMain(m *testing.M) { runner.Main(m, nil) }
//
//	func TestTutorials(t *testing.T) { runner.Run(t, runner.Params{Dir: "cases"}) }
//
// The test binary is also the agent that runs the steps in the guest, inside
// a root of the kernel's own Debian release: build it static,
// CGO_ENABLED=0 go test ./... . It takes kmodcheck run's flags for the
// kernels and the target: go test -args -update -kernel 6.12 -kernel 7.3.
package runner

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/kmodcheck/kmodcheck/runner/guest"
	"github.com/kmodcheck/kmodcheck/runner/host"
	"github.com/kmodcheck/kmodcheck/runner/script"
	"github.com/kmodcheck/kmodcheck/runner/setup"
	"github.com/kmodcheck/kmodcheck/runner/suite"
	"github.com/kmodcheck/kmodcheck/runner/targettest"
)

// The flags Main adds to the test binary's command line; Run reads them
// back by name, so the package keeps no state of its own.
const (
	flagUpdate      = "update"
	flagKernel      = "kernel"
	flagTarget      = "target"
	flagAccel       = "accel"
	flagBoot        = "boot"
	flagStepTimeout = "step-timeout"
)

// EnvKernels names the kernels to run on, space-separated, when no -kernel
// flag does (make test sets it).
const EnvKernels = "KMODCHECK_KERNELS"

// Main is TestMain's body. In the guest, it serves as the agent and does not
// return, nor as a host session's guard (the host target starts the test
// binary as one); else it adds kmodcheck's flags and runs the tests through
// testscript.Main, with commands as testscript's (nil for none): programs
// the test binary can also be, for exec in a script.
func Main(m *testing.M, commands map[string]func()) {
	if guest.IsGuest() {
		guest.Main()
	}
	if host.IsGuard() {
		host.GuardMain()
	}
	flag.Bool(flagUpdate, false, "rewrite golden files that differ from what the kernel printed")
	flag.Var(&kernelList{}, flagKernel, "kernel release or pattern for the qemu target; repeat it for several")
	flag.String(flagTarget, "qemu", "where steps run: qemu or host")
	flag.String(flagAccel, "auto", "qemu accelerator: auto, kvm or tcg")
	flag.String(flagBoot, "snapshot", "qemu boot: snapshot or cold")
	flag.Duration(flagStepTimeout, time.Minute, "bound for one step")
	if commands == nil {
		commands = map[string]func(){}
	}
	testscript.Main(m, commands)
}

// Params say where a course keeps its cases and what they run on.
type Params struct {
	// Dir holds the cases, one .txtar file each.
	Dir string
	// Golden and Modules hold the goldens and the module sources the cases
	// name; by default golden/ and modules/ beside Dir.
	Golden, Modules string
	// Kernels are the kernels each case runs on; by default the -kernel
	// flags, else $KMODCHECK_KERNELS, else the newest kernel here.
	Kernels []string
	// CaseTimeout bounds one case; by default 10 minutes.
	CaseTimeout time.Duration
}

// Run runs every case in p.Dir on each kernel, as t's subtests: one per
// kernel, and below it one per case. It fails t when the kernels cannot be
// had or a case cannot be read, naming the file and line. The kernels'
// cases run side by side, as many at once as go test -parallel allows.
// Under go test -short it skips them: each boots a VM.
func Run(t *testing.T, p Params) {
	t.Helper()
	targettest.BootsVM(t) // each case boots one
	opts, err := Options()
	if err != nil {
		t.Fatal(err)
	}
	update := flagValue(flagUpdate).(bool)
	p = p.withDefaults()
	targets, err := opts.NewTargets(t.Context(), p.Kernels)
	if err != nil {
		t.Fatal(err)
	}
	if err := setup.Prepare(t.Context(), targets); err != nil {
		t.Fatal(err)
	}
	out, err := suite.RunDir()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kernel console logs: %s", out)
	files, err := suite.Cases([]string{p.Dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range targets {
		t.Run(tg.Release(), func(t *testing.T) {
			// Every kernel's cases wait for a slot together, not one
			// kernel's after another's: three cases of a kernel on two
			// slots left one idle while its last case ran.
			t.Parallel()
			cfg := script.Config{
				Context: t.Context(), Target: tg, CaseTimeout: p.CaseTimeout, Golden: p.Golden, Modules: p.Modules,
				Update: update, KernelVariants: len(p.Kernels) > 0, StepTimeout: opts.StepTimeout,
				ArtifactDir: filepath.Join(out, tg.Release()),
			}
			for _, f := range files {
				if err := cfg.Check(f); err != nil {
					t.Fatal(err)
				}
			}
			testscript.Run(t, cfg.Params(files...))
		})
	}
}

// withDefaults fills in what p leaves out.
func (p Params) withDefaults() Params {
	if p.Dir == "" {
		p.Dir = "cases"
	}
	beside := filepath.Dir(filepath.Clean(p.Dir))
	if p.Golden == "" {
		p.Golden = filepath.Join(beside, "golden")
	}
	if p.Modules == "" {
		p.Modules = filepath.Join(beside, "modules")
	}
	if p.Kernels == nil {
		p.Kernels = Kernels()
	}
	if p.CaseTimeout == 0 {
		p.CaseTimeout = 10 * time.Minute
	}
	return p
}

// Kernels are the kernels named for this test run: the -kernel flags, else
// $KMODCHECK_KERNELS; none when neither names one.
func Kernels() []string {
	if f := flag.Lookup(flagKernel); f != nil {
		if l, ok := f.Value.(*kernelList); ok && len(*l) > 0 {
			return *l
		}
	}
	return strings.Fields(os.Getenv(EnvKernels))
}

// ErrNoMain is why Run and Options fail in a test binary whose TestMain
// did not call Main: kmodcheck's flags are not there.
var ErrNoMain = errors.New("no kmodcheck flags: call runner.Main(m, nil) from TestMain")

// Options are the target's options as the flags Main added give them.
func Options() (setup.Options, error) {
	if flag.Lookup(flagTarget) == nil { // Main adds them all or none
		return setup.Options{}, ErrNoMain
	}
	return setup.Options{
		Target:      flagValue(flagTarget).(string),
		Accel:       flagValue(flagAccel).(string),
		Boot:        flagValue(flagBoot).(string),
		StepTimeout: flagValue(flagStepTimeout).(time.Duration),
	}, nil
}

// flagValue is the value of a flag Main added.
func flagValue(name string) any { return flag.Lookup(name).Value.(flag.Getter).Get() }

// kernelList is the repeatable -kernel flag.
type kernelList []string

func (l *kernelList) String() string     { return strings.Join(*l, ",") }
func (l *kernelList) Set(s string) error { *l = append(*l, s); return nil }
func (l *kernelList) Get() any           { return []string(*l) }
