package suite

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/kmodcheck/kmodcheck/runner/shard"
	"github.com/kmodcheck/kmodcheck/runner/target"
)

// fakeTarget is a target that only has a release: Select needs no more.
type fakeTarget string

func (f fakeTarget) Name() string    { return "fake" }
func (f fakeTarget) Release() string { return string(f) }
func (f fakeTarget) Start(context.Context, target.Case) (target.Session, error) {
	return nil, errors.New("fake target")
}

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
	targets := []target.Target{fakeTarget("6.1.0-56-amd64"), fakeTarget("6.12.111+deb12-amd64"), fakeTarget("6.12.111+deb12-rt-amd64")}
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
