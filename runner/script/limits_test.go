package script

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmodcheck/kmodcheck/runner/golden"
	"github.com/kmodcheck/kmodcheck/runner/target"
)

// TestCheckLimits: Check refuses, naming the file (and line), a case file
// over MaxCaseFile, a target line longer than a terminal types, and a
// target line that is not UTF-8; lines at the limit pass.
func TestCheckLimits(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg := &Config{}
	atLimit := strings.Repeat("x", target.MaxLine-len("echo "))
	ok := write("ok.txtar", "# fine\nsh echo "+atLimit+"\ninsmod "+atLimit[:len(atLimit)-2]+"\nsh printf 'café'\n")
	if err := cfg.Check(ok); err != nil {
		t.Errorf("lines at the limit: %v", err)
	}
	for _, c := range []struct{ text, want string }{
		{"# long\nsh echo " + atLimit + "y\n", fmt.Sprintf("long.txtar:2: sh: the line typed on the target is %d bytes; a terminal passes at most %d", target.MaxLine+1, target.MaxLine)},
		{"# long\n[!exec:none] ! insmod " + atLimit + "\n", fmt.Sprintf("long.txtar:2: insmod: the line typed on the target is %d bytes", target.MaxLine+2)},
		{"sh printf 'caf\xe9'\n", "long.txtar:1: sh: the line is not valid UTF-8"},
	} {
		err := cfg.Check(write("long.txtar", c.text))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%.40q...: %v; want an error containing %s", c.text, err, c.want)
		}
	}
	big := write("big.txtar", "sh true\n-- blob --\n"+strings.Repeat("x\n", MaxCaseFile/2))
	err := cfg.Check(big)
	if want := fmt.Sprintf("big.txtar: a case file of %d bytes: the most is %d", MaxCaseFile+len("sh true\n-- blob --\n"), MaxCaseFile); err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("a case over MaxCaseFile: %v; want %s", err, want)
	}
}

// TestReadGoldenLimit: a golden over golden.MaxFile is refused naming
// it (the file is sparse: nothing is written); a missing one reads as
// missing, which -update creates.
func TestReadGoldenLimit(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.kmsg")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(golden.MaxFile + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := readGolden(p); err == nil || !strings.HasPrefix(err.Error(), p+": a golden file of more than") {
		t.Errorf("a golden over the limit: %v", err)
	}
	if _, err := readGolden(p + ".none"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing golden: %v", err)
	}
}
