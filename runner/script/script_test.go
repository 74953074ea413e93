package script

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestVariantKeys(t *testing.T) {
	tests := map[string][]string{
		"6.12.111+deb12-rt-amd64": {"6.12.111+deb12-rt-amd64", "6.12-rt-amd64", "6.12", "rt-amd64"},
		"6.1.0-56-amd64":          {"6.1.0-56-amd64", "6.1-amd64", "6.1", "amd64"},
	}
	for release, want := range tests {
		if diff := cmp.Diff(want, variantKeys(release)); diff != "" {
			t.Errorf("variantKeys(%q) (-want +got):\n%s", release, diff)
		}
	}
}

func TestGoldenFor(t *testing.T) {
	dir := t.TempDir()
	write := func(name string) {
		p := filepath.Join(dir, "c", name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("insmod.kmsg")
	write("insmod@6.12.kmsg")
	write("insmod@6.12-rt-amd64.kmsg")
	cfg := &Config{Golden: dir}
	check := func(release, wantUse, wantUpdate string) {
		t.Helper()
		use, update := cfg.goldenFor("c", "insmod", release)
		if filepath.Base(use) != wantUse || filepath.Base(update) != wantUpdate {
			t.Errorf("%s: use %s, update %s; want %s, %s", release, filepath.Base(use), filepath.Base(update), wantUse, wantUpdate)
		}
	}
	check("6.1.0-56-amd64", "insmod.kmsg", "insmod.kmsg")
	check("6.12.111+deb12-amd64", "insmod@6.12.kmsg", "insmod@6.12.kmsg")
	check("6.12.111+deb12-rt-amd64", "insmod@6.12-rt-amd64.kmsg", "insmod@6.12-rt-amd64.kmsg")
	cfg.KernelVariants = true
	check("6.1.0-56-amd64", "insmod.kmsg", "insmod@6.1.kmsg")
	check("6.13.1-1-rt-amd64", "insmod.kmsg", "insmod@6.13-rt-amd64.kmsg")
}

func TestCompareVersions(t *testing.T) {
	tests := []struct {
		release, version string
		want             int
	}{
		{"6.12.111+deb12-amd64", "6.12", 0},
		{"6.12.111+deb12-amd64", "6.1", 1},
		{"6.1.0-56-amd64", "6.12", -1},
		{"6.1.0-56-amd64", "6.1.0", 0},
		{"6.1.0-56-amd64", "7", -1},
	}
	for _, tt := range tests {
		got, err := compareVersions(tt.release, tt.version)
		if err != nil || got != tt.want {
			t.Errorf("compareVersions(%q, %q) = %d, %v; want %d", tt.release, tt.version, got, err, tt.want)
		}
	}
	if _, err := compareVersions("6.1.0-56-amd64", "six"); err == nil {
		t.Error("compareVersions accepted a version that is not a number")
	}
}

func TestWords(t *testing.T) {
	tests := []struct {
		line string
		want []string
		err  bool
	}{
		{"sh lsmod | grep kthread", []string{"sh", "lsmod", "|", "grep", "kthread"}, false},
		{"stdout '^a b$' # comment", []string{"stdout", "^a b$"}, false},
		{"stdout 'it''s'", []string{"stdout", "it's"}, false},
		{"# only a comment", nil, false},
		{"stdout 'open", nil, true},
	}
	for _, tt := range tests {
		got, err := words(tt.line)
		if (err != nil) != tt.err || !cmp.Equal(got, tt.want) {
			t.Errorf("words(%q) = %q, %v; want %q, error %v", tt.line, got, err, tt.want, tt.err)
		}
	}
}

// TestCheckAcceptsTheCases: the project's own cases and fault fixtures
// pass Check, host-path refusal included.
func TestCheckAcceptsTheCases(t *testing.T) {
	files, err := filepath.Glob("../../cases/*.txtar")
	if err != nil {
		t.Fatal(err)
	}
	faults, err := filepath.Glob("../../testdata/faults/cases/*.txtar")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, faults...)
	if len(files) < 4 {
		t.Fatalf("found %d cases", len(files))
	}
	cfg := &Config{}
	for _, f := range files {
		if err := cfg.Check(f); err != nil {
			t.Errorf("Check(%s): %v", f, err)
		}
	}
}

func TestOutputGoldenVariants(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"modinfo.out", "modinfo@6.12.out", "modinfo.kmsg"} {
		p := filepath.Join(dir, "c", name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := &Config{Golden: dir}
	for release, want := range map[string]string{"6.1.0-57-amd64": "modinfo.out", "6.12.118+deb12-amd64": "modinfo@6.12.out"} {
		if use, _ := cfg.goldenFileFor("c", "modinfo", OutputExt, release); filepath.Base(use) != want {
			t.Errorf("%s: uses %s, want %s", release, filepath.Base(use), want)
		}
	}
	cfg.KernelVariants = true
	if _, update := cfg.goldenFileFor("c", "modinfo", OutputExt, "6.1.0-57-amd64"); filepath.Base(update) != "modinfo@6.1.out" {
		t.Errorf("-update -kernel 6.1 writes %s, want modinfo@6.1.out", filepath.Base(update))
	}
}
