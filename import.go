package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/kmodcheck/kmodcheck/runner/importer"
)

// caseName is what a case imported may be called: a file name in cases/
// and a directory in golden/.
var caseName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)

// importCmd writes a case from a pasted terminal session.
func importCmd(_ context.Context, args []string, std stdio) error {
	stdout, stderr := std.out, std.err
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", "", "the case's `name` (default: the session file's, without its extension)")
	root := fs.String("dir", ".", "the project `directory`, holding cases/, golden/ and modules/")
	module := fs.String("module", "", "copy the module's sources from modules/`DIR` (the case's module line)")
	src := fs.String("src", "", "put the module sources of `DIR` (*.c, *.h, Makefile, Kbuild) in the case's archive (default: those beside the session)")
	force := fs.Bool("force", false, "replace a case or goldens that exist")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: kmodcheck import [flags] session.txt\n\n"+
			"Writes cases/NAME.txtar from a pasted terminal session: one step per prompt\n"+
			"line ($ cmd, user@host:~$ cmd, # cmd), as written; each output shown as the\n"+
			"step's golden, golden/NAME/TOOL.out, and a dmesg's as TOOL.kmsg. It names the\n"+
			"lines it could not place, and overwrites nothing without -force.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	if fs.NArg() != 1 || (*module != "" && *src != "") {
		fs.Usage()
		return errUsage("")
	}
	fail := func(err error) error { return failed("import", 2, err) }
	file := fs.Arg(0)
	text, err := os.ReadFile(file)
	if err != nil {
		return fail(err)
	}
	opts := importer.Options{Name: *name, Session: filepath.Base(file), Module: *module}
	if opts.Name == "" {
		opts.Name = strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	}
	if !caseName.MatchString(opts.Name) {
		return fail(fmt.Errorf("case name %q: use letters, digits, _, - and . (-name NAME)", opts.Name))
	}
	switch {
	case *module != "":
		if _, err := os.Stat(filepath.Join(*root, "modules", *module)); err != nil {
			return fail(fmt.Errorf("-module %s: %w", *module, err))
		}
	case *src != "":
		if opts.Sources, err = importer.Sources(*src); err != nil {
			return fail(fmt.Errorf("-src: %w", err))
		}
	default:
		if opts.Sources, err = importer.Sources(filepath.Dir(file)); err != nil {
			return fail(err)
		}
	}
	s := importer.Parse(string(text))
	if len(s.Steps) == 0 {
		return fail(fmt.Errorf("%s: no prompt line ($ cmd, user@host:~$ cmd, # cmd): nothing to import", file))
	}
	files := importer.Build(s, opts)
	if err := importer.Write(*root, files, *force); err != nil {
		return fail(err)
	}
	for _, f := range files {
		fmt.Fprintf(stdout, "wrote %s\n", f.Path)
	}
	inferred := 0
	for _, st := range s.Steps {
		if st.Inferred {
			inferred++
		}
	}
	fmt.Fprintf(stdout, "%d steps: %d from prompt lines, %d from make's output without a prompt", len(s.Steps), len(s.Steps)-inferred, inferred)
	if *module == "" {
		fmt.Fprintf(stdout, "; module sources in the archive: %s", sourceList(opts.Sources))
	}
	fmt.Fprintln(stdout)
	for _, sp := range s.Unplaced {
		fmt.Fprintf(stdout, "not placed: %s:%s (%s, %s): %q\n", file, lineRange(sp), plural(sp.Lines, "line"), sp.Why, sp.Text)
	}
	return nil
}

func lineRange(sp importer.Span) string {
	if sp.First == sp.Last {
		return fmt.Sprint(sp.First)
	}
	return fmt.Sprintf("%d-%d", sp.First, sp.Last)
}

func sourceList(src map[string][]byte) string {
	if len(src) == 0 {
		return "none (give -module or -src)"
	}
	var names []string
	for n := range src {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, " ")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
