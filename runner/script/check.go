package script

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rogpeppe/go-internal/txtar"
)

// builtins are testscript's own commands (go-internal v1.16). They run on
// the host, where the script runs, and cannot be redefined by a case.
var builtins = []string{
	"cd", "chmod", "cmp", "cmpenv", "cp", "env", "exec", "exists", "grep", "kill",
	"mkdir", "mv", "rm", "skip", "stderr", "stdin", "stdout", "ttyin", "ttyout",
	"stop", "symlink", "unix2dos", "unquote", "wait",
}

// Check reads a case and reports, before anything runs, what testscript
// would only find when it reached the line: a quote left open, a condition
// without a command, a command nobody defines. Errors are "file:line: what".
func (cfg *Config) Check(file string, extra ...string) error {
	if err := checkCaseSize(file); err != nil {
		return err
	}
	a, err := txtar.ParseFile(file)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	known := map[string]bool{}
	for _, c := range builtins {
		known[c] = true
	}
	for c := range cfg.Params().Cmds {
		known[c] = true
	}
	for _, c := range extra {
		known[c] = true
	}
	var errs []string
	paths := newPathChecker()
	for i, line := range strings.Split(string(a.Comment), "\n") {
		args, err := words(line)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s:%d: %v", file, i+1, err))
			continue
		}
		for len(args) > 0 && strings.HasPrefix(args[0], "[") {
			if !strings.HasSuffix(args[0], "]") {
				errs = append(errs, fmt.Sprintf("%s:%d: condition %s: missing ]", file, i+1, args[0]))
			}
			args = args[1:]
			if len(args) == 0 {
				errs = append(errs, fmt.Sprintf("%s:%d: missing command after condition", file, i+1))
			}
		}
		if len(args) > 0 && args[0] == "!" {
			args = args[1:]
			if len(args) == 0 {
				errs = append(errs, fmt.Sprintf("%s:%d: ! on line by itself", file, i+1))
			}
		}
		if len(args) > 0 && !known[args[0]] {
			errs = append(errs, fmt.Sprintf("%s:%d: unknown command %q", file, i+1, args[0]))
		}
		if l, ok, _ := parseScriptLine(line); ok {
			if why := checkTargetLine(l); why != "" {
				errs = append(errs, fmt.Sprintf("%s:%d: %s", file, i+1, why))
			}
		}
		if len(args) > 0 && slices.Contains(builtins, args[0]) {
			l, _, _ := parseScriptLine(line)
			if why := paths.check(l, args[1:]); why != "" {
				errs = append(errs, fmt.Sprintf("%s:%d: %s", file, i+1, why))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return nil
}
