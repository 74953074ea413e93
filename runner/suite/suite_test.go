package suite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/kmsg"
	"github.com/kmodcheck/kmodcheck/runner/script"
	"github.com/kmodcheck/kmodcheck/runner/target"
)

func TestParseShard(t *testing.T) {
	for in, want := range map[string]Shard{"1/2": {1, 2}, "2/2": {2, 2}, "1/1": {1, 1}, "3/7": {3, 7}} {
		got, err := ParseShard(in)
		if err != nil || got != want {
			t.Errorf("ParseShard(%q) = %v, %v; want %v", in, got, err, want)
		}
		if got.String() != in {
			t.Errorf("%v.String() = %q", got, got.String())
		}
	}
	for _, in := range []string{"", "1", "0/2", "3/2", "1/0", "a/b", "-1/2", "1/2/3"} {
		if _, err := ParseShard(in); err == nil {
			t.Errorf("ParseShard(%q) succeeded", in)
		}
	}
}

// fakeTarget is a target that only has a release: Select needs no more.
type fakeTarget string

func (f fakeTarget) Name() string    { return "fake" }
func (f fakeTarget) Release() string { return string(f) }
func (f fakeTarget) Start(context.Context, target.Case) (target.Session, error) {
	return nil, errors.New("fake target")
}

// pairs lists the case@kernel pairs that Select chooses.
func pairs(targets []target.Target, files []string, s Shard) []string {
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
	all := pairs(targets, files, Shard{})
	if len(all) != len(files)*len(targets) {
		t.Fatalf("the whole is %d pairs, want %d", len(all), len(files)*len(targets))
	}
	for _, n := range []int{1, 2, 3, 5} {
		seen := map[string]int{}
		for i := 1; i <= n; i++ {
			got := pairs(targets, files, Shard{i, n})
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
		for _, p := range pairs(targets, files, Shard{i, 2}) {
			before[p] = i
		}
	}
	more := append([]string{"cases/aaa_new.txtar"}, files...)
	fewer := files[7:13]
	for _, set := range [][]string{more, fewer, files[:1]} {
		for i := 1; i <= 2; i++ {
			for _, p := range pairs(targets, set, Shard{i, 2}) {
				if want, ok := before[p]; ok && want != i {
					t.Errorf("%s moved from shard %d/2 to %d/2", p, want, i)
				}
			}
		}
	}
	// And a pair's shard does not depend on the other kernels either.
	for i := 1; i <= 2; i++ {
		for _, p := range pairs(targets[1:2], files, Shard{i, 2}) {
			if before[p] != i {
				t.Errorf("%s alone on its kernel moved from shard %d/2 to %d/2", p, before[p], i)
			}
		}
	}
}

func TestWriteArtifacts(t *testing.T) {
	out := t.TempDir()
	dir := CaseDir(out, "6.1.0-56-amd64", "well_behaved")
	r := Result{
		Case: "well_behaved", Kernel: "6.1.0-56-amd64", Status: "FAIL",
		Log: "> make\n> kmsg insmod\nFAIL: well_behaved.txtar:4: kmsg insmod: kernel log differs\n",
		Events: []script.Event{
			{Kind: "booting"},
			{Kind: "boot", Info: &target.Info{Release: "6.1.0-56-amd64", Accel: "tcg"}},
			{Kind: "step-start", Line: "make"},
			{Kind: "step", Line: "make", Result: &target.Result{
				Step: target.Step{Line: "make", Where: target.OnBuild}, Exit: 0,
				Stdout: []byte("  LD [M]  fine.ko\n"), Duration: 1500 * time.Millisecond,
			}},
			{Kind: "step", Line: "insmod ./fine.ko", Result: &target.Result{
				Step: target.Step{Line: "insmod ./fine.ko", Where: target.OnKernel}, Exit: 1,
				Stderr: []byte("insmod: ERROR\n"),
				Log:    []kmsg.Record{{Seq: 7, Level: 6, Time: 2 * time.Second, Text: "fine: loaded"}},
			}},
			{Kind: "kmsg-start", Line: "kmsg insmod"},
			{Kind: "kmsg", Line: "kmsg insmod", Compare: &script.Comparison{
				Golden: "golden/well_behaved/insmod.kmsg", Mismatch: `golden/well_behaved/insmod.kmsg:1: want "fine: loaded!", got "fine: loaded"`,
				Diff: "--- golden/well_behaved/insmod.kmsg\n+++ kernel log\n-fine: loaded!\n+fine: loaded\n",
			}},
		},
	}
	files, err := writeArtifacts(dir, r)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"transcript.txt",
		"steps/01-make.txt",
		"steps/02-insmod_fine.ko.txt",
		"insmod.kmsg.diff",
		"steps/03-kmsg_insmod.txt",
	}
	if len(files) != len(want) {
		t.Fatalf("wrote %q, want %q", files, want)
	}
	for i, w := range want {
		if files[i] != filepath.Join(dir, w) {
			t.Errorf("file %d is %s, want %s", i, files[i], filepath.Join(dir, w))
		}
	}
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	if got := read("transcript.txt"); got != r.Log {
		t.Errorf("transcript.txt = %q", got)
	}
	insmod := read("steps/02-insmod_fine.ko.txt")
	for _, w := range []string{"command: insmod ./fine.ko\n", "exit: 1\n", "--- stderr\ninsmod: ERROR\n", "kernel: fine: loaded\n"} {
		if !strings.Contains(insmod, w) {
			t.Errorf("insmod step file lacks %q:\n%s", w, insmod)
		}
	}
	if got := read("insmod.kmsg.diff"); got != r.Events[6].Compare.Diff {
		t.Errorf("diff file = %q", got)
	}
	if k := read("steps/03-kmsg_insmod.txt"); !strings.Contains(k, "outcome: mismatch\n") || !strings.Contains(k, "-fine: loaded!\n") {
		t.Errorf("kmsg step file:\n%s", k)
	}
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{
		"make":                     "make",
		"insmod ./kthread.ko":      "insmod_kthread.ko",
		"lsmod | grep kthread":     "lsmod_grep_kthread",
		"ps -N | grep 'a b'":       "ps_-N_grep_a_b",
		"":                         "step",
		strings.Repeat("x", 50):    strings.Repeat("x", 40),
		"modinfo ./kthread.ko ...": "modinfo_kthread.ko",
	} {
		if got := slug(in); got != want {
			t.Errorf("slug(%q) = %q, want %q", in, got, want)
		}
	}
}
