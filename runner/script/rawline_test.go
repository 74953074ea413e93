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
		l, ok, err := parseScriptLine(line)
		if err != nil || !ok || l.raw != want {
			t.Errorf("parseScriptLine(%q): raw %q, %v, %v; want %q", line, l.raw, ok, err, want)
		}
	}
}

// TestLineRunRefusesToGuess: the line testscript names must be the call,
// as testscript's parsing of it with the script's environment gives it;
// any other call fails, naming the line.
func TestLineRunRefusesToGuess(t *testing.T) {
	script := []string{`insmod a.ko`, `[kernel>=6.12] sh echo "x  y" $X`, `! rmmod a`, `# note`}
	getenv := func(k string) string { return map[string]string{"X": "ex"}[k] }
	run := func(n int, name string, neg bool, args ...string) (string, error) {
		l, err := lineRun("c.txtar", script, n, getenv, name, neg, args)
		return l.raw, err
	}
	if raw, err := run(1, "insmod", false, "a.ko"); err != nil || raw != "a.ko" {
		t.Errorf("insmod: %q, %v", raw, err)
	}
	if raw, err := run(2, "sh", false, "echo", `"x`, `y"`, "ex"); err != nil || raw != `echo "x  y" $X` {
		t.Errorf("sh: %q, %v; want the line as written", raw, err)
	}
	if raw, err := run(3, "rmmod", true, "a"); err != nil || raw != "a" {
		t.Errorf("! rmmod: %q, %v", raw, err)
	}
	for _, bad := range []struct {
		n    int
		name string
		neg  bool
		args []string
		want string
	}{
		{1, "rmmod", false, []string{"a"}, `c.txtar:1: the script ran "rmmod a" where the case file says "insmod a.ko"`},
		{1, "insmod", false, []string{"b.ko"}, `c.txtar:1: the script ran "insmod b.ko" where`},
		{2, "sh", false, []string{"echo", `"x`, `y"`, "$X"}, `c.txtar:2: the script ran "sh echo \"x y\" $X" where`},
		{3, "rmmod", false, []string{"a"}, `c.txtar:3: the script ran "rmmod a" where the case file says "! rmmod a"`},
		{4, "dmesg", false, nil, `c.txtar:4: the script ran "dmesg" where the case file says "# note"`},
		{5, "dmesg", false, nil, `c.txtar:5: the script ran "dmesg" on no line of the case file`},
		{0, "dmesg", false, nil, `c.txtar:0: the script ran "dmesg" on no line`},
	} {
		if _, err := run(bad.n, bad.name, bad.neg, bad.args...); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("line %d, %s %q: %v; want an error containing %s", bad.n, bad.name, bad.args, err, bad.want)
		}
	}
}
