package script

import (
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/rogpeppe/go-internal/txtar"
)

// A target command's line reaches the target's shell as the case file
// writes it: the reader's quoting, pipes, redirections, globs and $VAR are
// the shell's to interpret. testscript gives a command only its words, split
// on spaces and single quotes, with $VAR already expanded, and keeps the
// file and line it is running where its API does not show them (scriptPos
// reads them). So a target command reads that line of its case file, once
// per case, and runs it as written if testscript's parsing of it gives the
// call's words; if not, the case fails naming the line, never a guess.
// Condition prefixes and ! are testscript's to evaluate: the line it names
// is the one that passed them.

// A token is one word of a script line as testscript splits it, with where
// it starts and ends in the line (the end is past any closing quote).
type token struct {
	text       string
	start, end int
}

// tokenize splits a script line as testscript's parser does: spaces and tabs
// separate words, single quotes group them (” inside quotes is one quote),
// # outside quotes ends the line. expand, if not nil, is applied to every
// unquoted run of text, as testscript expands $VAR there.
func tokenize(line string, expand func(string) string) ([]token, error) {
	if expand == nil {
		expand = func(s string) string { return s }
	}
	var (
		toks   []token
		arg    strings.Builder
		start  = -1 // where the pending run of text starts
		first  = -1 // where the current word starts
		quoted bool
	)
	for i := 0; ; i++ {
		if !quoted && (i >= len(line) || line[i] == ' ' || line[i] == '\t' || line[i] == '\r' || line[i] == '#') {
			if start >= 0 {
				arg.WriteString(expand(line[start:i]))
				toks = append(toks, token{text: arg.String(), start: first, end: i})
				arg.Reset()
				start, first = -1, -1
			}
			if i >= len(line) || line[i] == '#' {
				return toks, nil
			}
			continue
		}
		if i >= len(line) {
			return nil, fmt.Errorf("unterminated quoted argument")
		}
		if first < 0 {
			first = i
		}
		if line[i] == '\'' {
			switch {
			case !quoted:
				if start >= 0 {
					arg.WriteString(expand(line[start:i]))
				}
				start, quoted = i+1, true
			case i+1 < len(line) && line[i+1] == '\'':
				arg.WriteString(line[start:i])
				start = i + 1
				i++
			default:
				arg.WriteString(line[start:i])
				start, quoted = i+1, false
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
}

// words splits a script line as testscript does, without expanding $VAR.
func words(line string) ([]string, error) {
	toks, err := tokenize(line, nil)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, t := range toks {
		out = append(out, t.text)
	}
	return out, nil
}

// A scriptLine is a parsed line of a case's script.
type scriptLine struct {
	text  string // the line as written
	conds []string
	neg   bool
	name  string // the command
	raw   string // everything after the command's name, as written
	argAt int    // index among the line's words of the command's first argument
}

// parseScriptLine splits a line into its condition prefixes, its !, its
// command and the rest; ok is false for a blank or comment line.
func parseScriptLine(text string) (l scriptLine, ok bool, err error) {
	toks, err := tokenize(text, nil)
	if err != nil || len(toks) == 0 {
		return l, false, err
	}
	l = scriptLine{text: text}
	i := 0
	for i < len(toks) && strings.HasPrefix(toks[i].text, "[") && strings.HasSuffix(toks[i].text, "]") {
		l.conds = append(l.conds, toks[i].text)
		i++
	}
	if i < len(toks) && toks[i].text == "!" {
		l.neg = true
		i++
	}
	if i >= len(toks) {
		return l, false, nil
	}
	l.name = toks[i].text
	l.argAt = i + 1
	l.raw = strings.TrimRight(strings.TrimLeft(text[toks[i].end:], " \t"), " \t\r")
	return l, true, nil
}

// readScript reads a case file's script: the lines before its first file.
func readScript(file string) ([]string, error) {
	a, err := txtar.ParseFile(file)
	if err != nil {
		return nil, fmt.Errorf("read case: %w", err)
	}
	return strings.Split(string(a.Comment), "\n"), nil
}

// runs reports whether testscript's parsing of the line, with the script's
// environment now, gives this command call.
func (l scriptLine) runs(getenv func(string) string, name string, neg bool, args []string) bool {
	if l.name != name || l.neg != neg {
		return false
	}
	toks, err := tokenize(l.text, func(s string) string { return expandEnv(getenv, s) })
	if err != nil || len(toks) != l.argAt+len(args) {
		return false
	}
	for i, a := range args {
		if toks[l.argAt+i].text != a {
			return false
		}
	}
	return true
}

// expandEnv expands $VAR and ${VAR@R} as testscript does in unquoted text.
func expandEnv(getenv func(string) string, s string) string {
	return os.Expand(s, func(key string) string {
		if k, ok := strings.CutSuffix(key, "@R"); ok {
			return regexp.QuoteMeta(getenv(k))
		}
		return getenv(key)
	})
}

// lineRun is the source line n of a case file's script, whose
// testscript-tokenised words must be this command call's: testscript says
// which line it runs, and kmodcheck runs that line only if it agrees on
// what the line says.
func lineRun(file string, script []string, n int, getenv func(string) string, name string, neg bool, args []string) (scriptLine, error) {
	call := strings.Join(append([]string{name}, args...), " ")
	if n < 1 || n > len(script) {
		return scriptLine{}, fmt.Errorf("%s:%d: the script ran %q on no line of the case file: kmodcheck cannot tell which line it runs, so it runs none", file, n, call)
	}
	l, ok, err := parseScriptLine(script[n-1])
	if err != nil {
		return l, fmt.Errorf("%s:%d: %w", file, n, err)
	}
	if !ok || !l.runs(getenv, name, neg, args) {
		return l, fmt.Errorf("%s:%d: the script ran %q where the case file says %q: kmodcheck cannot tell which line it runs, so it runs none", file, n, call, script[n-1])
	}
	return l, nil
}

// rawLine returns what follows the command's name on the source line of
// the target command testscript is running, failing the case when that
// line is not this call.
func (cfg *Config) rawLine(ts *testscript.TestScript, name string, neg bool, args []string) string {
	st := ts.Value(stateKey{}).(*caseState)
	file, n := scriptPos(ts)
	if st.script == nil {
		script, err := readScript(file)
		if err != nil {
			ts.Fatalf("%s: %v", file, err)
		}
		st.script = script
	}
	l, err := lineRun(file, st.script, n, ts.Getenv, name, neg, args)
	if err != nil {
		ts.Fatalf("%v", err)
	}
	return l.raw
}
