package report

import (
	_ "embed"
	"encoding/json"
	"fmt"
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
// up to its next diagnostic.
func compilerError(output string) (line, context string, ok bool) {
	lines := strings.Split(output, "\n")
	for i, l := range lines {
		if !isError(l) {
			continue
		}
		ctx := []string{l}
		for _, next := range lines[i+1:] {
			if isDiagnostic(next) {
				break
			}
			ctx = append(ctx, next)
		}
		return sourceDir.ReplaceAllString(strings.TrimSpace(l), "$1"), strings.Join(ctx, "\n"), true
	}
	return "", "", false
}

var (
	// sourceDir is the directory of a diagnostic's file, which is the
	// case's work directory, different in every run: the reason keeps
	// the file's name.
	sourceDir      = regexp.MustCompile(`^\S*/([^/\s:]+:\d+(:\d+)?: )`)
	errorLine      = regexp.MustCompile(`(^|[: ])(fatal )?error: |^ERROR: `)
	diagnosticLine = regexp.MustCompile(`(^|: )(fatal error|error|warning|note): |^ERROR: |^make(\[\d+\])?: `)
)

func isError(l string) bool      { return errorLine.MatchString(l) }
func isDiagnostic(l string) bool { return diagnosticLine.MatchString(l) }
