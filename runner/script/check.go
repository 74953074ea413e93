package script

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/kmodcheck/kmodcheck/runner/golden"
)

// builtins are testscript's own commands (go-internal v1.16). They run on
// the host, where the script runs, and cannot be redefined by a case.
var builtins = []string{
	"cd", "chmod", "cmp", "cmpenv", "cp", "env", "exec", "exists", "grep", "kill",
	"mkdir", "mv", "rm", "skip", "stderr", "stdin", "stdout", "ttyin", "ttyout",
	"stop", "symlink", "unix2dos", "unquote", "wait",
}

// Check reads a case and reports, before anything runs, what testscript
// would only find when it reached the line, on some kernel or on all: a
// quote left open, a condition misspelt or without a command, a command
// nobody defines or given bad arguments, an out with no step before it, a
// broken after one, a module that is not there, a golden that does not
// parse. Errors are "file:line: what".
func (cfg *Config) Check(file string, extra ...string) error {
	if err := checkCaseSize(file); err != nil {
		return err
	}
	a, err := txtar.ParseFile(file)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	c := &checker{cfg: cfg, file: file, caseName: strings.TrimSuffix(filepath.Base(file), ".txtar"),
		known: map[string]bool{}, paths: newPathChecker(), goldens: map[string]bool{}}
	for _, cmd := range builtins {
		c.known[cmd] = true
	}
	for cmd := range cfg.Params().Cmds {
		c.known[cmd] = true
	}
	for _, cmd := range extra {
		c.known[cmd] = true
	}
	for i, line := range strings.Split(string(a.Comment), "\n") {
		c.n = i + 1
		c.line(line)
	}
	if c.expectAt > 0 {
		c.n = c.expectAt
		c.errorf("expect with no step after it: it holds from the next step on")
	}
	if len(c.errs) > 0 {
		return fmt.Errorf("%s", strings.Join(c.errs, "\n"))
	}
	return nil
}

// A checker is Check's state along a case's script.
type checker struct {
	cfg      *Config
	file     string
	caseName string
	known    map[string]bool // the commands defined
	paths    *pathChecker
	stepSeen bool // a step (of any condition) came before this line
	// sureStep: a step without a condition came before this line, one
	// that runs on every kernel.
	sureStep bool
	expectAt int             // the line of an expect no step has followed yet
	goldens  map[string]bool // golden files already parsed
	n        int             // the line checked
	errs     []string        // "file:line: what", the case's or a golden's
}

// errorf reports what is wrong with the line checked.
func (c *checker) errorf(format string, args ...any) {
	c.errs = append(c.errs, fmt.Sprintf("%s:%d: ", c.file, c.n)+fmt.Sprintf(format, args...))
}

// line checks a line of the script.
func (c *checker) line(line string) {
	args, err := words(line)
	if err != nil {
		c.errorf("%v", err)
		return
	}
	conditioned := false
	for len(args) > 0 && strings.HasPrefix(args[0], "[") {
		conditioned = true
		if !strings.HasSuffix(args[0], "]") {
			c.errorf("condition %s: missing ]", args[0])
		} else if err := checkCondition(strings.TrimSuffix(args[0][1:], "]")); err != nil {
			c.errorf("%v", err)
		}
		args = args[1:]
		if len(args) == 0 {
			c.errorf("missing command after condition")
		}
	}
	neg := len(args) > 0 && args[0] == "!"
	if neg {
		args = args[1:]
		if len(args) == 0 {
			c.errorf("! on line by itself")
		}
	}
	if len(args) == 0 {
		return
	}
	if !c.known[args[0]] {
		c.errorf("%s", unknownCommand(line, args[0]))
		return
	}
	if l, ok, _ := parseScriptLine(line); ok {
		if why := checkTargetLine(l); why != "" {
			c.errorf("%s", why)
		}
		if slices.Contains(builtins, args[0]) {
			if why := c.paths.check(l, args[1:]); why != "" {
				c.errorf("%s", why)
			}
		}
	}
	if slices.ContainsFunc(args[1:], func(a string) bool { return strings.Contains(a, "$") }) {
		// testscript expands $VAR when the line runs: what it holds is
		// not known here.
		c.step(args[0], conditioned)
		return
	}
	c.command(args[0], neg, conditioned, args[1:])
}

// step notes a step, if name is one: make, sh or a tool on the target.
func (c *checker) step(name string, conditioned bool) {
	if name == "make" || name == "sh" || slices.Contains(TargetTools, name) {
		c.stepSeen, c.expectAt = true, 0
		c.sureStep = c.sureStep || !conditioned
	}
}

// command checks the arguments of kmodcheck's own commands, and where
// they may stand, as the command will when it runs.
func (c *checker) command(name string, neg, conditioned bool, args []string) {
	var err error
	switch name {
	case "out":
		var a outArgs
		if a, err = parseOutArgs(neg, args); err == nil {
			if !c.stepSeen {
				c.errorf("out %s: no step before it: out compares the output of the step before it", a.name)
			}
			c.golden(a.name, OutputExt)
		}
	case "kmsg":
		var a kmsgArgs
		if a, err = c.cfg.parseKmsgArgs(neg, args); err == nil {
			c.golden(a.name, GoldenExt)
		}
	case "broken":
		// After a step that runs on every kernel, never before its first.
		if _, err = parseBroken(neg, args); err == nil && c.sureStep {
			c.errorf("%s", brokenAfterStep)
		}
	case "expect":
		var e *expectation
		if e, err = parseExpect(neg, args); err == nil && e.kind != "leak" {
			c.expectAt = c.n
		}
	case "timeout":
		_, err = parseTimeout(neg, args)
	case "module":
		if c.cfg.Modules != "" {
			_, err = c.cfg.moduleDir(neg, args)
		}
	default:
		c.step(name, conditioned)
	}
	if err != nil {
		c.errorf("%s", strings.TrimSpace(err.Error()))
	}
}

// golden parses the goldens a kmsg or out command named name may compare
// with on some kernel: name.EXT and its variants name@KEY.EXT, each once.
// Their errors name the golden's file and line.
func (c *checker) golden(name, ext string) {
	if c.cfg.Golden == "" {
		return
	}
	dir := filepath.Join(c.cfg.Golden, c.caseName)
	variants, _ := filepath.Glob(filepath.Join(dir, globEscape(name)+"@*"+ext))
	for _, f := range append([]string{filepath.Join(dir, name+ext)}, variants...) {
		if c.goldens[f] {
			continue
		}
		c.goldens[f] = true
		data, err := readGolden(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue // -update writes it; without, the command says so
		}
		if err == nil {
			_, err = golden.Parse(f, data)
		}
		if err != nil {
			c.errs = append(c.errs, err.Error())
		}
	}
}

// globEscape escapes the characters filepath.Glob reads as a pattern.
func globEscape(s string) string {
	return globMeta.ReplaceAllString(s, `\$0`)
}

// These are never modified after initialisation.
var (
	globMeta  = regexp.MustCompile(`[*?\[\\]`)
	goVersion = regexp.MustCompile(`^go1\.[0-9]+$`)
)

// unknownCommand says a command is not defined, and how to write the line
// if it is one a reader types: sh runs any line as the reader's shell does.
func unknownCommand(line, name string) string {
	typed := name
	if l, ok, _ := parseScriptLine(line); ok && l.raw != "" {
		typed += " " + l.raw
	}
	return fmt.Sprintf("unknown command %q (a line a reader types on the target is written sh LINE: sh %s)", name, typed)
}

// checkCondition checks a condition as written in a case, without its
// brackets: testscript's own, or one of evalCondition's, spelt as it
// wants and with versions it can compare.
func checkCondition(cond string) error {
	cond = strings.TrimPrefix(cond, "!")
	if testscriptCondition(cond) {
		return nil
	}
	_, err := evalCondition(cond, "6.1.0-1-amd64", "qemu")
	return err
}

// testscriptCondition reports whether testscript evaluates cond itself
// (go-internal v1.16: short, net, link, symlink, unix, a GOOS or GOARCH,
// exec:PROGRAM, gc, gccgo, go1.N).
func testscriptCondition(cond string) bool {
	switch cond {
	case "short", "net", "link", "symlink", "unix", "gc", "gccgo",
		"linux", "darwin", "windows", "freebsd", "openbsd", "netbsd", "dragonfly",
		"solaris", "illumos", "aix", "android", "ios", "plan9", "js", "wasip1", "hurd", "zos",
		"amd64", "386", "arm", "arm64", "ppc64", "ppc64le", "riscv64", "s390x",
		"mips", "mipsle", "mips64", "mips64le", "loong64", "wasm":
		return true
	}
	return strings.HasPrefix(cond, "exec:") || goVersion.MatchString(cond)
}
