package script

import (
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/kmodcheck/kmodcheck/runner/scriptcase"
	"github.com/kmodcheck/kmodcheck/runner/targettest"
)

// TestRecord: a case's record numbers its steps and comparisons in the
// order they ran, keeps each one's result or outcome, and its failure
// names the failing step by that number; the observer is told of the boot
// and of each step as it begins and ends.
func TestRecord(t *testing.T) {
	dir := t.TempDir()
	file, golden := filepath.Join(dir, "rec.txtar"), filepath.Join(dir, "golden")
	writeFiles(t, map[string]string{
		file: "next -stdout hello 'rec: loaded'\nls\nkmsg loaded\nnext -exit 3\nls -l\n",
		filepath.Join(golden, "rec", "loaded.kmsg"): "rec: loaded\n",
	})
	fake := targettest.NewTarget("6.1.0-99-amd64")
	var mu sync.Mutex
	var notices []NoticeKind
	cfg := &Config{Target: fake, Golden: golden, KmsgTimeout: 2 * time.Second, StepTimeout: time.Minute,
		Observe: func(n Notice) {
			mu.Lock()
			defer mu.Unlock()
			notices = append(notices, n.Kind)
		}}
	rec := runCase(cfg, file, fake)
	if rec == nil || !rec.Booting || rec.Boot == nil {
		t.Fatalf("record %+v: want a booted case", rec)
	}
	type step struct {
		n    int
		kind StepKind
		line string
	}
	var got []step
	for _, s := range rec.Ran() {
		got = append(got, step{s.N, s.Kind, s.Line})
	}
	want := []step{{1, Command, "ls"}, {2, Compare, "kmsg loaded"}, {3, Command, "ls -l"}}
	if !slices.Equal(got, want) {
		t.Errorf("steps %v, want %v", got, want)
	}
	if s := rec.Steps; len(s) != 3 || string(s[0].Result.Stdout) != "hello" || !s[1].Compare.OK || s[2].Result.Exit != 3 {
		t.Errorf("steps' results and outcomes: %+v", s)
	}
	if f := rec.Failure; f == nil || f.Kind != FailStep || f.Step != 3 || f.Command != "ls -l" || f.Message != "exit status 3" {
		t.Errorf("failure %+v, want step 3's exit status", f)
	}
	wantNotices := []NoticeKind{Booting, Awaiting, Booted, StepStarted, StepDone, StepStarted, StepDone, StepStarted, StepDone}
	if !slices.Equal(notices, wantNotices) {
		t.Errorf("notices %v, want %v", notices, wantNotices)
	}
}

// writeFiles writes each file, making its directory.
func writeFiles(t *testing.T, files map[string]string) {
	t.Helper()
	for name, data := range files {
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// onKernel is a fake target whose builds run on the kernel under test, as
// the host target's do.
type onKernel struct{ *targettest.Target }

func (onKernel) BuildsOnKernel() {}

// TestBuildWhileBooting: a case's build steps run before it waits for its
// kernel (which boots meanwhile), its first step on the kernel waits for
// it, a case of builds only still waits for it to be up, and one whose
// build fails never does: its VM is stopped. Where builds run on the
// kernel under test, the case takes the kernel before its first build.
func TestBuildWhileBooting(t *testing.T) {
	for _, tt := range []struct {
		name, script   string
		buildsOnKernel bool
		after          int // steps run when the kernel was first waited for
		waited         bool
	}{
		{"build_then_kernel", "make\nmake modules\nls\n", false, 2, true},
		{"build_only", "make\n", false, 1, true},
		{"build_fails", "next -exit 2\nmake\nls\n", false, 0, false},
		{"kernel_first", "ls\nmake\n", false, 0, true},
		{"host_build_first", "make\nls\n", true, 0, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, tt.name+".txtar")
			writeFiles(t, map[string]string{file: tt.script})
			fake := targettest.NewTarget("6.1.0-99-amd64")
			cfg := &Config{Target: fake, Golden: dir, StepTimeout: time.Minute}
			if tt.buildsOnKernel {
				cfg.Target = onKernel{fake}
			}
			runCase(cfg, file, fake)
			after, waited := fake.Session(tt.name).ReadyAfter()
			if after != tt.after || waited != tt.waited {
				t.Errorf("the kernel was waited for after %d steps (%v), want after %d (%v); steps: %q", after, waited, tt.after, tt.waited, fake.Session(tt.name).Sent())
			}
		})
	}
}

// TestMissingGoldenStep: a kmsg whose golden is missing fails as the
// case's next step, numbered where every step is.
func TestMissingGoldenStep(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "nogold.txtar")
	writeFiles(t, map[string]string{file: "ls\nkmsg nothere\n"})
	fake := targettest.NewTarget("6.1.0-99-amd64")
	cfg := &Config{Target: fake, Golden: dir, StepTimeout: time.Minute}
	rec := runCase(cfg, file, fake)
	if f := rec.Failure; f == nil || f.Kind != FailKmsg || f.Step != 2 || f.Command != "kmsg nothere" {
		t.Errorf("failure %+v, want step 2, kmsg nothere, its golden missing", f)
	}
}

// runCase runs a case file with cfg, the fake target's commands added
// (targettest), and returns the case's record.
func runCase(cfg *Config, file string, fake *targettest.Target) *Record {
	p := cfg.Params(file)
	for c, f := range fake.Commands() {
		p.Cmds[c] = f
	}
	var rec *Record
	setup := p.Setup
	p.Setup = func(env *testscript.Env) error {
		err := setup(env)
		rec = RecordOf(env)
		return err
	}
	testscript.RunT(&langRunner{cases: map[string]*scriptcase.T{}}, p)
	return rec
}
