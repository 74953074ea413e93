package script

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/rogpeppe/go-internal/txtar"

	"github.com/kmodcheck/kmodcheck/runner/scriptcase"
	"github.com/kmodcheck/kmodcheck/runner/targettest"
)

// TestLanguage runs the cases in testdata/cases (and, with -update, those
// in testdata/update) on the fake target (targettest; the cases script it
// with its Commands), and checks each against its
// archive's "outcome" file:
//
//	PASS | FAIL | SKIP | REFUSED
//	                          how the case ends; REFUSED: Check rejects it
//	release RELEASE           the fake kernel's release (default 6.1.0-99-amd64)
//	REGEXP                    must match the transcript (or Check's error)
//	! REGEXP                  must not
//
// and, for update cases, each archive file want/NAME.kmsg against the golden
// the run left. Goldens are in testdata/golden/CASE, copied for each case.
// A case for a new feature of the language (for instance golden lines with
// varying values) is a new file here.
func TestLanguage(t *testing.T) {
	for _, dir := range []string{"cases", "update"} {
		files, err := filepath.Glob(filepath.Join("testdata", dir, "*.txtar"))
		if err != nil {
			t.Fatal(err)
		}
		for _, file := range files {
			name := strings.TrimSuffix(filepath.Base(file), ".txtar")
			t.Run(dir+"/"+name, func(t *testing.T) {
				t.Parallel()
				runLangCase(t, file, dir == "update")
			})
		}
	}
}

type outcome struct {
	status  string
	release string
	want    []*regexp.Regexp
	wantNot []*regexp.Regexp
	goldens map[string][]byte // want/NAME.kmsg
}

func readOutcome(t *testing.T, file string) outcome {
	a, err := txtar.ParseFile(file)
	if err != nil {
		t.Fatal(err)
	}
	o := outcome{release: "6.1.0-99-amd64", goldens: map[string][]byte{}}
	for _, f := range a.Files {
		if name, ok := strings.CutPrefix(f.Name, "want/"); ok {
			o.goldens[name] = f.Data
		}
		if f.Name != "outcome" {
			continue
		}
		for i, line := range strings.Split(strings.TrimRight(string(f.Data), "\n"), "\n") {
			switch {
			case i == 0:
				o.status = line
			case strings.HasPrefix(line, "release "):
				o.release = strings.TrimPrefix(line, "release ")
			case strings.HasPrefix(line, "! "):
				o.wantNot = append(o.wantNot, regexp.MustCompile("(?m)"+strings.TrimPrefix(line, "! ")))
			default:
				o.want = append(o.want, regexp.MustCompile("(?m)"+line))
			}
		}
	}
	if o.status != "PASS" && o.status != "FAIL" && o.status != "SKIP" && o.status != "REFUSED" {
		t.Fatalf("%s: no outcome file starting with PASS, FAIL, SKIP or REFUSED", file)
	}
	return o
}

func runLangCase(t *testing.T, file string, update bool) {
	o := readOutcome(t, file)
	name := strings.TrimSuffix(filepath.Base(file), ".txtar")
	golden := t.TempDir()
	if err := os.CopyFS(filepath.Join(golden, name), os.DirFS(filepath.Join("testdata", "golden", name))); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	fake := targettest.NewTarget(o.release)
	cfg := &Config{Target: fake, Golden: golden, Update: update, KmsgTimeout: 2 * time.Second, StepTimeout: time.Minute}
	fakeCmds := fake.Commands()
	var extra []string
	for c := range fakeCmds {
		extra = append(extra, c)
	}
	var transcript string
	status := "PASS"
	if err := cfg.Check(file, extra...); err != nil {
		status, transcript = "REFUSED", err.Error()
	} else {
		p := cfg.Params(file)
		for c, f := range fakeCmds {
			p.Cmds[c] = f
		}
		r := &langRunner{cases: map[string]*scriptcase.T{}}
		testscript.RunT(r, p)
		c := r.cases[name]
		transcript = c.Transcript()
		skipped, _ := c.Skipped()
		switch {
		case c.Failed():
			status = "FAIL"
		case skipped:
			status = "SKIP"
		}
	}
	if status != o.status {
		t.Errorf("%s: %s, want %s", file, status, o.status)
	}
	for _, re := range o.want {
		if !re.MatchString(transcript) {
			t.Errorf("%s: no match for %q", file, re)
		}
	}
	for _, re := range o.wantNot {
		if re.MatchString(transcript) {
			t.Errorf("%s: unexpected match for %q", file, re)
		}
	}
	for g, want := range o.goldens {
		got, err := os.ReadFile(filepath.Join(golden, name, g))
		if err != nil {
			t.Errorf("%s: %v", file, err)
		} else if string(got) != string(want) {
			t.Errorf("%s: golden %s after the run:\n%s\nwant:\n%s", file, g, got, want)
		}
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("transcript:\n%s", transcript)
	}
}
