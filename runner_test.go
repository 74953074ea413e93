package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/kmodcheck/kmodcheck/runner"
	"github.com/kmodcheck/kmodcheck/runner/cache"
	"github.com/kmodcheck/kmodcheck/runner/kernel"
	"github.com/kmodcheck/kmodcheck/runner/setup"
)

func TestMain(m *testing.M) {
	// The test binary is also the guest's agent (runner.Main), and the
	// kmodcheck command for TestCLI's scripts.
	runner.Main(m, map[string]func(){
		"kmodcheck": func() {
			ctx, stop := withStopSignals(context.Background())
			code := kmodcheck(ctx, os.Args[1:], stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr})
			stop()
			os.Exit(code)
		},
	})
}

// options are the target's options the test binary's flags give.
func options() setup.Options {
	o, err := runner.Options()
	if err != nil {
		panic(err) // TestMain added the flags
	}
	return o
}

// TestCases runs every case in cases/ on the target, each as a subtest of
// its kernel's: TestCases/6.1.0-56-amd64/kthread_init_work. The kernels are
// the -kernel flags, else $KMODCHECK_KERNELS (space-separated), else the
// system's newest: kmodcheck's own use of what a course's go test does.
func TestCases(t *testing.T) {
	t.Parallel()
	runner.Run(t, runner.Params{Dir: "cases"})
}

// testKernels are the kernels TestCases runs on, as named: the -kernel
// flags, else $KMODCHECK_KERNELS.
func testKernels() []string { return runner.Kernels() }

// TestCLI checks the kmodcheck command itself: errors for bad input, a
// golden mismatch, -update. Its scripts are in testdata/cli.
func TestCLI(t *testing.T) {
	t.Parallel() // the scripts that boot a VM skip under -short
	testscript.Run(t, testscript.Params{
		Dir: "testdata/cli",
		Setup: func(env *testscript.Env) error {
			wd, err := os.Getwd()
			if err != nil {
				return err
			}
			env.Setenv("ROOT", wd)
			env.Setenv("KMODCHECK_ACCEL", options().Accel)
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
