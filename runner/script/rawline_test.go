package script

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rogpeppe/go-internal/testscript"
)

// trickyLines are script lines whose words testscript's parser and
// tokenize must agree on.
var trickyLines = []string{
	`sh lsmod | grep kthread`,
	`sh dmesg -t | grep -v '^x y' | tail -7`,
	`insmod hello.ko mystring="hello world"`,
	`sh echo 'it''s' "a b"  	c`,
	`sh echo $WORK/x '$WORK' ${WORK@R}y$X`,
	`sh echo a#b 'c#d' # comment`,
	`sh echo ''`,
	`sh echo '' x`,
	`sh a'b c'd`,
	`sh echo x ''''`,
	`[kernel>=6.12] ! sh echo "a  b"`,
}

// TestTokenizeMatchesTestscript runs the lines through testscript itself
// and checks that tokenize, with the script's environment, gives the
// command the same words.
func TestTokenizeMatchesTestscript(t *testing.T) {
	dir := t.TempDir()
	var script strings.Builder
	for _, l := range trickyLines {
		script.WriteString(strings.Replace(l, "[kernel>=6.12] ! ", "", 1) + "\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "lines.txtar"), []byte("env X=ex\n"+script.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var got [][]string
	record := func(ts *testscript.TestScript, neg bool, args []string) {
		got = append(got, args)
		if len(got) == len(trickyLines) {
			env := ts.Getenv
			for i, l := range trickyLines {
				toks, err := tokenize(l, func(s string) string { return expandEnv(env, s) })
				if err != nil {
					t.Errorf("tokenize(%q): %v", l, err)
					continue
				}
				var words []string
				for _, tk := range toks {
					words = append(words, tk.text)
				}
				// The words after the command's name: the condition and ! are
				// testscript's, and the command is sh or insmod.
				for len(words) > 0 && (strings.HasPrefix(words[0], "[") || words[0] == "!") {
					words = words[1:]
				}
				if diff := cmp.Diff(got[i], words[1:]); diff != "" {
					t.Errorf("%q: tokenize differs from testscript (-testscript +tokenize):\n%s", l, diff)
				}
			}
		}
	}
	t.Run("testscript", func(t *testing.T) { // returns once the script has run
		testscript.Run(t, testscript.Params{
			Dir:  dir,
			Cmds: map[string]func(*testscript.TestScript, bool, []string){"sh": record, "insmod": record},
		})
	})
	if len(got) != len(trickyLines) {
		t.Fatalf("testscript ran %d lines, want %d", len(got), len(trickyLines))
	}
}

func TestParseScriptLineRaw(t *testing.T) {
	tests := map[string]string{
		`sh dmesg -t | grep -v '^x y' | tail -7`:    `dmesg -t | grep -v '^x y' | tail -7`,
		`insmod hello.ko mystring="hello world"  `:  `hello.ko mystring="hello world"`,
		`[kernel>=6.12] ! sh   echo "a # b" # note`: `echo "a # b" # note`,
		"dmesg\r": ``,
	}
	for line, want := range tests {
		l, ok, err := parseScriptLine(1, line)
		if err != nil || !ok || l.raw != want {
			t.Errorf("parseScriptLine(%q): raw %q, %v, %v; want %q", line, l.raw, ok, err, want)
		}
	}
}

// TestTakeRefusesToGuess: a call that is not the next line (past lines
// whose conditions were false) fails, naming the line.
func TestTakeRefusesToGuess(t *testing.T) {
	src := &caseSource{file: "c.txtar"}
	for i, text := range []string{`insmod a.ko`, `[kernel>=6.12] sh echo "x  y"`, `sh echo "x y"`, `[exec:nonesuch] rmmod a`, `rmmod b`} {
		l, _, err := parseScriptLine(i+1, text)
		if err != nil {
			t.Fatal(err)
		}
		src.lines = append(src.lines, l)
	}
	getenv := func(string) string { return "" }
	on61 := func(c string) (bool, error) {
		if c == "kernel>=6.12" {
			return false, nil
		}
		return false, os.ErrInvalid // not kmodcheck's condition
	}
	take := func(name string, args ...string) (string, error) {
		l, err := src.take(getenv, on61, name, false, args)
		return l.raw, err
	}
	if raw, err := take("insmod", "a.ko"); err != nil || raw != "a.ko" {
		t.Fatalf("insmod: %q, %v", raw, err)
	}
	if raw, err := take("sh", "echo", `"x`, `y"`); err != nil || raw != `echo "x y"` {
		t.Fatalf("sh: %q, %v; want the line after the skipped one", raw, err)
	}
	if raw, err := take("rmmod", "b"); err != nil || raw != "b" {
		t.Fatalf("rmmod b: %q, %v; want the line after the one an unknown condition may skip", raw, err)
	}
	src.next = 0
	_, err := take("rmmod", "a")
	if err == nil || !strings.Contains(err.Error(), `c.txtar:1: the script ran "rmmod a" where the case file says "insmod a.ko"`) {
		t.Errorf("rmmod a first: %v", err)
	}
	src.next = len(src.lines)
	if _, err := take("dmesg"); err == nil || !strings.Contains(err.Error(), "on no later line") {
		t.Errorf("dmesg past the end: %v", err)
	}
}
