package suite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/script"
	"github.com/kmodcheck/kmodcheck/runner/shard"
	"github.com/kmodcheck/kmodcheck/runner/target"
	"github.com/kmodcheck/kmodcheck/runner/targettest"
)

// pairs lists the case@kernel pairs that Select chooses.
func pairs(targets []target.Target, files []string, s shard.Shard) []string {
	var out []string
	for i, sel := range Select(targets, files, s) {
		for _, f := range sel {
			out = append(out, CaseName(f)+"@"+targets[i].Release())
		}
	}
	return out
}

func TestShardsCoverEveryPairOnce(t *testing.T) {
	targets := []target.Target{targettest.NewTarget("6.1.0-56-amd64"), targettest.NewTarget("6.12.111+deb12-amd64"), targettest.NewTarget("6.12.111+deb12-rt-amd64")}
	var files []string
	for i := range 40 {
		files = append(files, fmt.Sprintf("cases/case%02d.txtar", i))
	}
	all := pairs(targets, files, shard.Shard{})
	if len(all) != len(files)*len(targets) {
		t.Fatalf("the whole is %d pairs, want %d", len(all), len(files)*len(targets))
	}
	for _, n := range []int{1, 2, 3, 5} {
		seen := map[string]int{}
		for i := 1; i <= n; i++ {
			got := pairs(targets, files, shard.Shard{Index: i, Count: n})
			if n > 1 && (len(got) == 0 || len(got) == len(all)) {
				t.Errorf("shard %d/%d has %d of %d pairs", i, n, len(got), len(all))
			}
			for _, p := range got {
				seen[p]++
			}
		}
		for _, p := range all {
			if seen[p] != 1 {
				t.Errorf("with %d shards, %s runs %d times", n, p, seen[p])
			}
		}
		if len(seen) != len(all) {
			t.Errorf("with %d shards, %d pairs ran, want %d", n, len(seen), len(all))
		}
	}

	// Adding a case, or running fewer, moves no pair to another shard.
	before := map[string]int{}
	for i := 1; i <= 2; i++ {
		for _, p := range pairs(targets, files, shard.Shard{Index: i, Count: 2}) {
			before[p] = i
		}
	}
	more := append([]string{"cases/aaa_new.txtar"}, files...)
	fewer := files[7:13]
	for _, set := range [][]string{more, fewer, files[:1]} {
		for i := 1; i <= 2; i++ {
			for _, p := range pairs(targets, set, shard.Shard{Index: i, Count: 2}) {
				if want, ok := before[p]; ok && want != i {
					t.Errorf("%s moved from shard %d/2 to %d/2", p, want, i)
				}
			}
		}
	}
	// And a pair's shard does not depend on the other kernels either.
	for i := 1; i <= 2; i++ {
		for _, p := range pairs(targets[1:2], files, shard.Shard{Index: i, Count: 2}) {
			if before[p] != i {
				t.Errorf("%s alone on its kernel moved from shard %d/2 to %d/2", p, before[p], i)
			}
		}
	}
}

// TestInterrupted stops a run while its first case's step runs, one job at
// a time: that case and the one still waiting both end INTERRUPTED, and
// the waiting one never starts. The fake target boots nothing: the run
// takes milliseconds.
func TestInterrupted(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for _, name := range []string{"a_sleep", "b_sleep"} {
		f := filepath.Join(dir, name+".txtar")
		if err := os.WriteFile(f, []byte("sh sleep 600\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	fake := targettest.NewTarget("6.1.0-99-amd64")
	// Whichever case runs first is stopped during its step, as a stop
	// signal would: the step lasts until the run's context ends.
	stopped := targettest.Step{Run: func(ctx context.Context, step target.Step) (target.Result, error) {
		stop()
		<-ctx.Done()
		return target.Result{Step: step, Exit: -1}, ctx.Err()
	}}
	for _, name := range []string{"a_sleep", "b_sleep"} {
		fake.Session(name).Next(stopped)
	}
	cfg := script.Config{Target: fake, Golden: t.TempDir(), StepTimeout: time.Minute}
	targets := []target.Target{fake}
	results := Run(ctx, cfg, targets, Select(targets, files, shard.Shard{}), RunOptions{Jobs: 1})
	if len(results) != 2 {
		t.Fatalf("%d results, want 2: %+v", len(results), results)
	}
	for _, r := range results {
		if r.Status != script.Interrupted {
			t.Errorf("%s: %s, want INTERRUPTED\n%s", r.Case, r.Status, r.Log)
		}
	}
	if a, b := fake.Session("a_sleep").Sent(), fake.Session("b_sleep").Sent(); len(a)+len(b) != 1 {
		t.Errorf("steps run: a_sleep %q, b_sleep %q; want one, the stopped one", a, b)
	}
}
