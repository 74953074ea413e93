package report

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
)

// An APIChange is a kernel API change that breaks a module's build: what
// changed, the release it came in, and what replaces it. The knowledge is
// data, apichanges.json, kept with its sources and status.
type APIChange struct {
	Symbol      string `json:"symbol"`            // what the error names, e.g. "from_timer"
	Since       string `json:"since"`             // the first release without the old API
	Change      string `json:"change"`            // what changed, one line
	Replacement string `json:"replacement"`       // what a module writes instead
	Commit      string `json:"commit,omitempty"`  // the upstream commit(s)
	Status      string `json:"status"`            // verified, unverified, ...
	Checked     string `json:"checked,omitempty"` // kernels whose build kmodcheck saw fail so
}

// String is the change on one line: "from_timer() renamed
// timer_container_of() in 6.16; instead: timer_container_of(var, timer,
// field)".
func (c APIChange) String() string {
	return fmt.Sprintf("%s in %s; instead: %s", c.Change, c.Since, c.Replacement)
}

// apiChange is an APIChange with the pattern of the error it explains.
type apiChange struct {
	APIChange
	Pattern string `json:"pattern"`
	re      *regexp.Regexp
}

//go:embed apichanges.json
var apiChangesJSON []byte

// APIChanges are the known changes, in the data file's order.
type APIChanges struct{ changes []apiChange }

// LoadAPIChanges reads the embedded data file.
func LoadAPIChanges() (*APIChanges, error) { return parseAPIChanges(apiChangesJSON) }

func parseAPIChanges(data []byte) (*APIChanges, error) {
	var file struct {
		Changes []apiChange `json:"changes"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		return nil, fmt.Errorf("apichanges.json: %w", err)
	}
	for i := range file.Changes {
		c := &file.Changes[i]
		if c.Symbol == "" || c.Since == "" || c.Change == "" || c.Replacement == "" || c.Status == "" {
			return nil, fmt.Errorf("apichanges.json: change %d (%q) lacks a symbol, since, change, replacement or status", i+1, c.Symbol)
		}
		re, err := regexp.Compile(c.Pattern)
		if err != nil {
			return nil, fmt.Errorf("apichanges.json: %s: %w", c.Symbol, err)
		}
		c.re = re
	}
	return &APIChanges{file.Changes}, nil
}

// Explain is the change behind a compiler error: text is its error line
// and the source lines the compiler quotes after it. nil when no known
// change matches.
func (a *APIChanges) Explain(text string) *APIChange {
	if a == nil {
		return nil
	}
	for _, c := range a.changes {
		if c.re.MatchString(text) {
			out := c.APIChange
			return &out
		}
	}
	return nil
}

// compilerError finds the first error in a build's output: the line (an
// "error:" of the compiler or objtool, an "ERROR:" of modpost) and, for
// matching, that line with the source lines the compiler quotes after it,
// up to its next diagnostic. An error the compiler places in a kernel
// header, inside a macro the module's code expands (THIS_MODULE given to
// a function that no longer takes it), is placed at that code, where the
// reader has to change it.
func compilerError(output string) (line, context string, ok bool) {
	lines := strings.Split(output, "\n")
	for i, l := range lines {
		if !isError(l) {
			continue
		}
		line, context = strings.TrimSpace(l), strings.Join(append([]string{l}, quoted(lines[i+1:])...), "\n")
		if at, quote, ok := expandedAt(l, lines[:i], lines[i+1:]); ok {
			line, context = at, context+"\n"+quote
		}
		return sourceDir.ReplaceAllString(line, "$1"), context, true
	}
	return "", "", false
}

// quoted returns the lines that follow a diagnostic up to the next one:
// the source it quotes.
func quoted(lines []string) []string {
	for i, l := range lines {
		if isDiagnostic(l) {
			return lines[:i]
		}
	}
	return lines
}

// expandedAt rewrites an error the compiler placed in another file than
// the function it compiles (before: what precedes it, with gcc's "FILE: In
// function" line) at the expansion of the macro in that function's file
// (after: gcc's "note: in expansion of macro" lines). It returns the error
// so placed, and the note with the source it quotes.
func expandedAt(errLine string, before, after []string) (line, quote string, ok bool) {
	e := locatedError.FindStringSubmatch(strings.TrimSpace(errLine))
	if e == nil {
		return "", "", false
	}
	fn := ""
	for i := len(before) - 1; i >= 0 && fn == ""; i-- {
		if m := functionContext.FindStringSubmatch(before[i]); m != nil {
			fn = m[1]
		}
	}
	if fn == "" || fn == e[1] {
		return "", "", false
	}
	for i, l := range after {
		if isError(l) {
			break
		}
		if m := macroExpansion.FindStringSubmatch(strings.TrimSpace(l)); m != nil && m[1] == fn {
			line = fmt.Sprintf("%s:%s: %s (in expansion of macro %s, at %s:%s)", m[1], m[2], e[3], m[3], filepath.Base(e[1]), e[2])
			return line, strings.Join(append([]string{l}, quoted(after[i+1:])...), "\n"), true
		}
	}
	return "", "", false
}

var (
	// sourceDir is the directory of a diagnostic's file, which is the
	// case's work directory, different in every run: the reason keeps
	// the file's name.
	sourceDir = regexp.MustCompile(`^\S*/([^/\s:]+:\d+(:\d+)?: )`)
	errorLine = regexp.MustCompile(`(^|[: ])(fatal )?error: |^ERROR: `)
	// locatedError is a compiler's error: file, line:column, message.
	locatedError = regexp.MustCompile(`^(\S+?):(\d+:\d+): ((?:fatal )?error: .*)$`)
	// functionContext is gcc's "FILE: In function ‘f’:" (or "At top level:").
	functionContext = regexp.MustCompile(`^(\S+?): (?:In (?:member |static )?function|At top level)`)
	// macroExpansion is gcc's note of where a macro was expanded.
	macroExpansion = regexp.MustCompile(`^(\S+?):(\d+:\d+): note: in expansion of macro (.+)$`)
	diagnosticLine = regexp.MustCompile(`(^|: )(fatal error|error|warning|note): |^ERROR: |^make(\[\d+\])?: `)
)

func isError(l string) bool      { return errorLine.MatchString(l) }
func isDiagnostic(l string) bool { return diagnosticLine.MatchString(l) }
