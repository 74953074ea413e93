package script

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// scriptT runs testscript's scripts within one fuzz call, in the caller's
// goroutine: the script's failures are recorded, not the test's.
type scriptT struct {
	failed bool
	log    strings.Builder
}

var errScriptFailed = errors.New("script failed")

func (t *scriptT) Skip(args ...any)  { t.Log(args...); panic(errScriptFailed) }
func (t *scriptT) Fatal(args ...any) { t.Log(args...); t.FailNow() }
func (t *scriptT) Parallel()         {}
func (t *scriptT) Log(args ...any)   { fmt.Fprintln(&t.log, args...) }
func (t *scriptT) FailNow()          { t.failed = true; panic(errScriptFailed) }
func (t *scriptT) Verbose() bool     { return false }
func (t *scriptT) Run(name string, f func(testscript.T)) {
	defer func() {
		if e := recover(); e != nil && e != errScriptFailed {
			panic(e)
		}
	}()
	f(t)
}

// FuzzRawLine runs a line through testscript itself, with a target command
// (sh or insmod, its name maybe quoted, maybe after a condition and !),
// and checks kmodcheck's reading of it against testscript's: lineRun
// accepts the call testscript makes, the raw text it gives the target
// holds exactly the call's words, and a line kmodcheck's tokenizer refuses
// is one testscript refuses too. No builtin can run: the line's command is
// fixed, the fuzzed text is its arguments.
func FuzzRawLine(f *testing.F) {
	for _, l := range trickyLines {
		if rest, ok := strings.CutPrefix(l, "sh "); ok {
			f.Add(uint8(0), rest)
		}
	}
	f.Add(uint8(4+1), `./hello.ko mystring="hello world"`)
	f.Add(uint8(8+2+16), `echo "it's"`)
	f.Add(uint8(12), "a\tb\r c # d 'e'")
	conds := []string{"", "[exec:sh] ", "[!exec:sh] ", ""}
	names := []string{"sh", "'sh'", "s'h'", "insmod"}
	dir := f.TempDir()
	file := filepath.Join(dir, "line.txtar")
	f.Fuzz(func(t *testing.T, shape uint8, rest string) {
		if strings.ContainsAny(rest, "\n") {
			return // one line
		}
		neg := ""
		if shape&16 != 0 {
			neg = "! "
		}
		line := conds[shape&3] + neg + names[shape>>2&3] + " " + rest
		name := "sh"
		if shape>>2&3 == 3 {
			name = "insmod"
		}
		const first = "env X=ex\n"
		if err := os.WriteFile(file, []byte(first+line+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		var called bool
		check := func(ts *testscript.TestScript, isNeg bool, args []string) {
			called = true
			script, err := readScript(file)
			if err != nil {
				t.Fatal(err)
			}
			fileName, n := scriptPos(ts)
			l, err := lineRun(fileName, script, n, ts.Getenv, name, isNeg, args)
			if err != nil {
				t.Fatalf("line %q: testscript runs %s %q, which kmodcheck refuses: %v", line, name, args, err)
			}
			toks, err := tokenize(l.raw, func(s string) string { return expandEnv(ts.Getenv, s) })
			if err != nil {
				t.Fatalf("line %q: the raw text %q does not tokenize: %v", line, l.raw, err)
			}
			var words []string
			for _, tk := range toks {
				words = append(words, tk.text)
			}
			if !slices.Equal(words, args) && len(words)+len(args) > 0 {
				t.Fatalf("line %q: testscript runs %s %q; the raw text %q holds %q", line, name, args, l.raw, words)
			}
		}
		st := &scriptT{}
		testscript.RunT(st, testscript.Params{ // its work directory is its own, removed when it returns
			Files: []string{file},
			Cmds:  map[string]func(*testscript.TestScript, bool, []string){"sh": check, "insmod": check},
		})
		_, perr := words(line)
		switch {
		case perr != nil && called:
			t.Fatalf("line %q: kmodcheck's tokenizer refuses it (%v); testscript runs it", line, perr)
		case perr == nil && !called && shape&3 != 2:
			t.Fatalf("line %q: testscript did not run it:\n%s", line, st.log.String())
		}
	})
}
