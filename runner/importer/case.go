package importer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/kmodcheck/kmodcheck/runner/golden"
	"github.com/kmodcheck/kmodcheck/runner/kmsg"
	"github.com/kmodcheck/kmodcheck/runner/script"
)

// Options say what a case imported from a session is made of.
type Options struct {
	Name    string // the case: cases/NAME.txtar and golden/NAME/
	Session string // the session's file, named in the case's comments
	// Module names a directory of modules/ the case copies its sources
	// from (the case's "module MODULE" line); else Sources are the case's
	// archive files, by name.
	Module  string
	Sources map[string][]byte
}

// A File is one file import writes, its path relative to the project root
// (the directory holding cases/, golden/ and modules/).
type File struct {
	Path string
	Data []byte
}

// These are never modified after initialisation.
var (
	// Characters after which a command line is a shell line, not words.
	shellSyntax = regexp.MustCompile("[|&;<>()$`'\"*?\\[\\]#~{}\\\\]")
	nameChars   = regexp.MustCompile(`[^A-Za-z0-9_-]+`)
	grepAtEnd   = regexp.MustCompile(`\|\s*grep\s+[^|]*$`)
)

// Build returns the case and its goldens for a session.
func Build(s Session, opts Options) []File {
	b := &builder{opts: opts, s: s, used: map[string]int{}}
	b.header()
	for _, st := range s.Steps {
		b.step(st)
	}
	a := &txtar.Archive{Comment: []byte(b.script.String())}
	names := make([]string, 0, len(opts.Sources))
	for n := range opts.Sources {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		a.Files = append(a.Files, txtar.File{Name: n, Data: opts.Sources[n]})
	}
	return append([]File{{Path: filepath.Join("cases", opts.Name+".txtar"), Data: txtar.Format(a)}}, b.goldens...)
}

type builder struct {
	opts    Options
	s       Session
	script  strings.Builder
	goldens []File
	used    map[string]int // golden names taken, for -2, -3...
	root    bool           // the case's shell is a root shell (sudo su)
}

func (b *builder) line(format string, args ...any) {
	fmt.Fprintf(&b.script, format+"\n", args...)
}

func (b *builder) header() {
	b.line("# Imported by kmodcheck import from %s: one step per prompt line, as", b.opts.Session)
	b.line("# written; each output the session shows is the step's golden in")
	b.line("# golden/%s/ (NAME.out; a dmesg's is NAME.kmsg, timestamps stripped).", b.opts.Name)
	b.line("# out -terminal: a terminal shows stdout and stderr together, in either order.")
	if b.s.WorkDir != "" {
		b.line("# The tutorial built in %s; the goldens say $WORK.", b.s.WorkDir)
	}
	if b.opts.Module != "" {
		b.line("module %s", b.opts.Module)
	}
}

func (b *builder) step(st Step) {
	b.line("")
	for _, c := range st.Comment {
		b.line("# %s", c)
	}
	if st.Inferred {
		b.line("# The session shows make's output without its prompt (line %d).", st.Line)
	}
	b.shellFor(st)
	tool := toolOf(st.Command)
	out := b.work(st.Output)
	neg := ""
	if len(out) == 0 && st.Shown && grepAtEnd.MatchString(st.Command) {
		b.line("# grep finds nothing: the step fails, as in the session.")
		neg = "! "
	}
	b.line("%s%s", neg, stepLine(st.Command))
	if len(out) == 0 && !st.Shown {
		return
	}
	name := b.name(tool)
	where := fmt.Sprintf("%s:%d", b.opts.Session, st.Line)
	if tool == "dmesg" {
		comments, lines := dmesgGolden(out)
		b.golden(name+script.GoldenExt, append([]string{fmt.Sprintf("%s, as %s shows it (timestamps stripped).", st.Command, where)}, comments...), lines)
		b.line("kmsg %s", name)
		return
	}
	b.golden(name+script.OutputExt, []string{fmt.Sprintf("%s, as %s shows it.", st.Command, where)}, out)
	// A pasted terminal holds both streams (kbuild's "Skipping BTF" is
	// make's stderr): compare what the terminal showed.
	b.line("out -terminal %s", name)
}

// shellFor enters or leaves a root shell before a step, as its prompt
// says the tutorial's reader had one: the case's reader is a user, and a
// reader becomes root with sudo su (which keeps the directory) and
// leaves it with exit. A step without a prompt (an inferred make) keeps
// the shell.
func (b *builder) shellFor(st Step) {
	if st.Inferred || st.Root == b.root {
		return
	}
	b.root = st.Root
	if st.Root {
		b.line("# The session's prompt is root's (#) from here on (line %d): its reader is root.", st.Line)
		b.line("sh sudo su")
		return
	}
	b.line("# The session's prompt is a user's ($) again (line %d).", st.Line)
	b.line("sh exit")
}

// dmesgGolden is a pasted dmesg's golden: its lines without their
// timestamps, and, as comments, the lines kmsg's default filters leave out
// of every comparison (a module's taint notes), so that the tutorial's
// lines all stay in view and the golden still matches.
func dmesgGolden(out []string) (comments, lines []string) {
	for _, l := range out {
		l = golden.StripTimestamp(l)
		_, dropped := kmsg.Apply(kmsg.DefaultFilters(), []kmsg.Record{{Text: l}})
		if len(dropped) == 0 {
			lines = append(lines, l)
			continue
		}
		for name := range dropped {
			comments = append(comments, fmt.Sprintf("kmsg leaves out, as its %s filter does: %s", name, l))
		}
	}
	return comments, lines
}

// work returns lines with the tutorial's build directory written $WORK.
func (b *builder) work(lines []string) []string {
	out := slices.Clone(lines)
	if b.s.WorkDir == "" {
		return out
	}
	for i, l := range out {
		out[i] = strings.ReplaceAll(l, b.s.WorkDir, "$WORK")
	}
	return out
}

func (b *builder) golden(file string, comments, lines []string) {
	b.goldens = append(b.goldens, File{Path: filepath.Join("golden", b.opts.Name, file), Data: golden.Format(comments, lines)})
}

// name returns a golden name for a step of tool: the tool, then tool-2...
func (b *builder) name(tool string) string {
	base := nameChars.ReplaceAllString(tool, "_")
	if base == "" {
		base = "step"
	}
	for {
		b.used[base]++
		n := b.used[base]
		if n == 1 {
			return base
		}
		// tool-2 may be a tool's own name, taken already, or taken later.
		if name := fmt.Sprintf("%s-%d", base, n); b.used[name] == 0 {
			b.used[name] = 1
			return name
		}
	}
}

// toolOf returns the program a command line runs, past sudo and env's
// assignments.
func toolOf(cmd string) string {
	words := strings.Fields(cmd)
	for len(words) > 0 && (words[0] == "sudo" || words[0] == "env" || strings.Contains(words[0], "=")) {
		words = words[1:]
	}
	if len(words) == 0 {
		return ""
	}
	return filepath.Base(words[0])
}

// stepLine is the case's line for a command: the command itself when it is
// one of the case language's tutorial commands given plain words, else a
// shell line, as written.
func stepLine(cmd string) string {
	words := strings.Fields(cmd)
	if len(words) > 0 && !shellSyntax.MatchString(cmd) && (words[0] == "make" || slices.Contains(script.TargetTools, words[0])) {
		return strings.Join(words, " ")
	}
	return "sh " + cmd
}

// Write writes files under root. It writes nothing if any of them exists,
// unless force: then it replaces them.
func Write(root string, files []File, force bool) error {
	if !force {
		var exist []string
		for _, f := range files {
			if _, err := os.Stat(filepath.Join(root, f.Path)); err == nil {
				exist = append(exist, f.Path)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		if len(exist) > 0 {
			return fmt.Errorf("not overwriting %s (-force replaces them)", strings.Join(exist, ", "))
		}
	}
	for _, f := range files {
		p := filepath.Join(root, f.Path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", f.Path, err)
		}
	}
	return nil
}

// Sources returns the module sources in dir: C sources and headers, the
// Makefile and Kbuild.
func Sources(dir string) (map[string][]byte, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	src := map[string][]byte{}
	for _, e := range entries {
		n := e.Name()
		if !e.Type().IsRegular() || !(strings.HasSuffix(n, ".c") || strings.HasSuffix(n, ".h") || n == "Makefile" || n == "Kbuild") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return nil, err
		}
		src[n] = data
	}
	return src, nil
}
