package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/kmodcheck/kmodcheck/runner/cache"
	"github.com/kmodcheck/kmodcheck/runner/guest"
	"github.com/kmodcheck/kmodcheck/runner/kernel"
	"github.com/kmodcheck/kmodcheck/runner/script"
	"github.com/kmodcheck/kmodcheck/runner/suite"
)

var (
	update      = flag.Bool("update", false, "rewrite golden files that differ from what the kernel printed")
	targetName  = flag.String("target", "qemu", "where steps run: qemu or host")
	accel       = flag.String("accel", "auto", "qemu accelerator: auto, kvm or tcg")
	boot        = flag.String("boot", "snapshot", "qemu boot: snapshot or cold")
	stepTimeout = flag.Duration("step-timeout", time.Minute, "bound for one step")
)

// kernels are the -kernel flags: every case runs on each.
var kernels stringList

func init() {
	flag.Var(&kernels, "kernel", "kernel release or pattern for the qemu target; repeat it for several")
}

func TestMain(m *testing.M) {
	if guest.IsGuest() {
		guest.Main() // this binary is also the guest's agent
	}
	testscript.Main(m, map[string]func(){
		"kmodcheck": func() {
			ctx, stop := withStopSignals(context.Background())
			code := kmodcheck(ctx, os.Args[1:], os.Stdout, os.Stderr)
			stop()
			os.Exit(code)
		},
	})
}

func options() suite.Options {
	return suite.Options{Target: *targetName, Accel: *accel, Boot: *boot, StepTimeout: *stepTimeout}
}

// TestCases runs every case in cases/ on the target, each as a subtest of
// its kernel's: TestCases/6.1.0-56-amd64/kthread_init_work. The kernels are
// the -kernel flags, else $KMODCHECK_KERNELS (space-separated), else the
// system's newest.
func TestCases(t *testing.T) {
	t.Parallel()
	names := testKernels()
	targets, err := options().NewTargets(context.Background(), names)
	if err != nil {
		t.Fatal(err)
	}
	if err := suite.Prepare(t.Context(), targets); err != nil {
		t.Fatal(err)
	}
	out, err := suite.RunDir()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kernel console logs: %s", out)
	files, err := suite.Cases([]string{"cases"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range targets {
		t.Run(tg.Release(), func(t *testing.T) {
			cfg := script.Config{
				Context: t.Context(), Target: tg, CaseTimeout: 10 * time.Minute, Golden: "golden", Modules: "modules", Update: *update, KernelVariants: len(names) > 0,
				StepTimeout: *stepTimeout, ArtifactDir: filepath.Join(out, tg.Release()),
			}
			for _, f := range files {
				if err := cfg.Check(f); err != nil {
					t.Fatal(err)
				}
			}
			p := cfg.Params(files...)
			testscript.Run(t, p)
		})
	}
}

// testKernels are the kernels TestCases runs on, as named: the -kernel
// flags, else $KMODCHECK_KERNELS.
func testKernels() []string {
	if len(kernels) > 0 {
		return kernels
	}
	return strings.Fields(os.Getenv("KMODCHECK_KERNELS"))
}

// TestCLI checks the kmodcheck command itself: errors for bad input, a
// golden mismatch, -update. Its scripts are in testdata/cli.
func TestCLI(t *testing.T) {
	t.Parallel()
	testscript.Run(t, testscript.Params{
		Dir: "testdata/cli",
		Setup: func(env *testscript.Env) error {
			wd, err := os.Getwd()
			if err != nil {
				return err
			}
			env.Setenv("ROOT", wd)
			env.Setenv("KMODCHECK_ACCEL", *accel)
			// testscript sets HOME=/no-home; the cache stays the user's.
			c, err := cache.Default()
			if err != nil {
				return err
			}
			env.Setenv(cache.EnvDir, string(c))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"hostfile": hostFile,
		},
		// [have-kernel:PATTERN]: a complete kernel matching PATTERN is
		// here, system or cache (kmodcheck kernels fetch PATTERN).
		// [slow]: KMODCHECK_SLOW is set, for what takes minutes under TCG.
		// [test-kernel:PATTERN]: one of the kernels the tests run on (the
		// -kernel flags, else $KMODCHECK_KERNELS, as TestCases) is a
		// complete kernel matching PATTERN: for what only a kernel that
		// costs minutes to fetch on a fresh machine shows (make test
		// TEST_KERNELS="5.10 6.12 7.3").
		Condition: func(cond string) (bool, error) {
			if cond == "slow" {
				return os.Getenv("KMODCHECK_SLOW") != "", nil
			}
			var names []string
			pattern, ok := strings.CutPrefix(cond, "have-kernel:")
			if !ok {
				pattern, ok = strings.CutPrefix(cond, "test-kernel:")
				names = testKernels()
				if len(names) == 0 {
					return false, nil
				}
			}
			if !ok {
				return false, fmt.Errorf("unknown condition %q", cond)
			}
			c, err := cache.Default()
			if err != nil {
				return false, err
			}
			ks, err := kernel.Discover(c)
			if err != nil {
				return false, err
			}
			for _, k := range ks {
				if k.Complete() && kernel.Match(pattern, k.Release) &&
					(names == nil || slices.ContainsFunc(names, func(n string) bool { return kernel.Match(n, k.Release) })) {
					return true, nil
				}
			}
			return false, nil
		},
	})
}

// hostFile is TestCLI's "hostfile MODE PATH CONTENT": it writes a file of
// the host outside the work directory, in a directory of its own that
// goes when the script ends, for a case to show it cannot read it.
func hostFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: hostfile MODE PATH CONTENT")
	}
	mode, err := strconv.ParseUint(args[0], 8, 32)
	ts.Check(err)
	dir := filepath.Dir(args[1])
	if _, err := os.Stat(dir); err == nil {
		ts.Fatalf("hostfile: %s is there already: it makes and removes a directory of its own", dir)
	}
	ts.Check(os.MkdirAll(dir, 0o755))
	ts.Defer(func() { os.RemoveAll(dir) })
	ts.Check(os.WriteFile(args[1], []byte(args[2]+"\n"), os.FileMode(mode)))
	ts.Check(os.Chmod(args[1], os.FileMode(mode)))
}
