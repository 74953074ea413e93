package script

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/rogpeppe/go-internal/txtar"
)

// A target command's line reaches the target's shell as the case file
// writes it: the reader's quoting, pipes, redirections, globs and $VAR are
// the shell's to interpret. testscript gives a command only its words, split
// on spaces and single quotes, with $VAR already expanded; it tells no
// command which line it is on. So each case keeps the lines of its script
// that run target commands, in file order, and each call of a target command
// takes the next of them whose words testscript's parsing would give: a line
// before it was skipped only if a condition prefix was false. Anything else
// is a failure of the case, never a guess.

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
	num   int    // 1-based line number in the case file
	text  string // the line as written
	conds []string
	neg   bool
	name  string // the command
	raw   string // everything after the command's name, as written
	argAt int    // index among the line's words of the command's first argument
}

// parseScriptLine splits a line into its condition prefixes, its !, its
// command and the rest; ok is false for a blank or comment line.
func parseScriptLine(num int, text string) (l scriptLine, ok bool, err error) {
	toks, err := tokenize(text, nil)
	if err != nil || len(toks) == 0 {
		return l, false, err
	}
	l = scriptLine{num: num, text: text}
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

// caseSource is the part of a case's script that runs on the target: its
// target-command lines, in file order, and how far the script has got.
type caseSource struct {
	file  string
	lines []scriptLine
	next  int
}

// readSource reads a case file's target-command lines.
func readSource(file string) (*caseSource, error) {
	a, err := txtar.ParseFile(file)
	if err != nil {
		return nil, err
	}
	src := &caseSource{file: file}
	for i, text := range strings.Split(string(a.Comment), "\n") {
		l, ok, err := parseScriptLine(i+1, text)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", file, i+1, err)
		}
		if ok && isTargetCommand(l.name) {
			src.lines = append(src.lines, l)
		}
	}
	return src, nil
}

// isTargetCommand reports whether a command's line goes to the target's
// shell as written.
func isTargetCommand(name string) bool {
	return name == "sh" || name == "make" || slices.Contains(TargetTools, name)
}

// take returns the source line of the target command testscript is
// running now: the next line whose words, expanded as testscript expands
// them, are this call's, past lines whose conditions were false.
func (src *caseSource) take(getenv func(string) string, cond func(string) (bool, error), name string, neg bool, args []string) (scriptLine, error) {
	call := strings.Join(append([]string{name}, args...), " ")
	for src.next < len(src.lines) {
		l := src.lines[src.next]
		src.next++
		if l.runs(getenv, name, neg, args) {
			if ok, known := l.condsHold(cond); known && !ok {
				continue // testscript skipped it; a later line is this call
			}
			return l, nil
		}
		if ok, known := l.condsHold(cond); !known || !ok {
			continue // skipped by its condition
		}
		return l, fmt.Errorf("%s:%d: the script ran %q where the case file says %q: kmodcheck cannot tell which line it runs, so it runs none", src.file, l.num, call, l.text)
	}
	return scriptLine{}, fmt.Errorf("%s: the script ran %q, which is on no later line of the case file", src.file, call)
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

// condsHold evaluates the line's condition prefixes as testscript does;
// known is false when one is testscript's own and cannot be evaluated here.
func (l scriptLine) condsHold(cond func(string) (bool, error)) (ok, known bool) {
	for _, c := range l.conds {
		c = strings.TrimSpace(c[1 : len(c)-1])
		want := true
		if rest, neg := strings.CutPrefix(c, "!"); neg {
			want, c = false, strings.TrimSpace(rest)
		}
		got, err := cond(c)
		if err != nil {
			return false, false
		}
		if got != want {
			return false, true
		}
	}
	return true, true
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

// caseFiles maps each case's name, as testscript names it (the file's base
// name less .txt or .txtar, with #1, #2... for a name seen before), to its
// file.
func caseFiles(files []string) map[string]string {
	byName := map[string]string{}
	for _, file := range files {
		name := filepath.Base(file)
		if n, ok := strings.CutSuffix(name, ".txt"); ok {
			name = n
		} else if n, ok := strings.CutSuffix(name, ".txtar"); ok {
			name = n
		}
		prefix := name
		for i := 1; byName[name] != ""; i++ {
			name = prefix + "#" + strconv.Itoa(i)
		}
		byName[name] = file
	}
	return byName
}

// rawLine returns what follows the command's name on the source line of
// the target command testscript is running, failing the case when there is
// no such line.
func (cfg *Config) rawLine(ts *testscript.TestScript, name string, neg bool, args []string) string {
	st := ts.Value(stateKey{}).(*caseState)
	if st.src == nil {
		file, ok := st.files[ts.Name()]
		if !ok {
			ts.Fatalf("%s: kmodcheck was not given the case's file (Config.Params), so cannot run its lines as written", ts.Name())
		}
		src, err := readSource(file)
		if err != nil {
			ts.Fatalf("%v", err)
		}
		st.src = src
	}
	l, err := st.src.take(ts.Getenv, cfg.condition, name, neg, args)
	if err != nil {
		ts.Fatalf("%v", err)
	}
	return l.raw
}
