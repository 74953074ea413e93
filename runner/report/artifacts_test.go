package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/kmsg"
	"github.com/kmodcheck/kmodcheck/runner/script"
	"github.com/kmodcheck/kmodcheck/runner/target"
)

func TestWriteArtifacts(t *testing.T) {
	out := t.TempDir()
	dir := filepath.Join(out, "6.1.0-56-amd64", "well_behaved")
	r := script.Result{
		Case: "well_behaved", Kernel: "6.1.0-56-amd64", Status: "FAIL",
		Log: "> make\n> kmsg insmod\nFAIL: well_behaved.txtar:4: kmsg insmod: kernel log differs\n",
		Record: script.Record{
			Booting: true,
			Boot:    &target.Info{Release: "6.1.0-56-amd64", Accel: "tcg"},
			Steps: []script.Step{
				{N: 1, Kind: script.Command, Line: "make", Where: target.OnBuild, Result: &target.Result{
					Step: target.Step{Line: "make", Where: target.OnBuild}, Exit: 0,
					Stdout: []byte("  LD [M]  fine.ko\n"), Duration: 1500 * time.Millisecond,
				}},
				{N: 2, Kind: script.Command, Line: "insmod ./fine.ko", Where: target.OnKernel, Result: &target.Result{
					Step: target.Step{Line: "insmod ./fine.ko", Where: target.OnKernel}, Exit: 1,
					Stderr: []byte("insmod: ERROR\n"),
					Log:    []kmsg.Record{{Seq: 7, Level: 6, Time: 2 * time.Second, Text: "fine: loaded"}},
				}},
				{N: 3, Kind: script.Compare, Line: "kmsg insmod", Compare: &script.Comparison{
					Golden: "golden/well_behaved/insmod.kmsg", Mismatch: `golden/well_behaved/insmod.kmsg:1: want "fine: loaded!", got "fine: loaded"`,
					Diff: "--- golden/well_behaved/insmod.kmsg\n+++ kernel log\n-fine: loaded!\n+fine: loaded\n",
				}},
			},
		},
	}
	files, err := WriteArtifacts(dir, r)
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
	if got := read("insmod.kmsg.diff"); got != r.Record.Steps[2].Compare.Diff {
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
