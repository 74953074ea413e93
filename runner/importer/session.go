// Package importer turns a pasted terminal session into a kmodcheck case:
// one step per prompt line, as written, and each output the session shows
// as that step's golden.
//
// A session is text as a tutorial shows it: prompt lines (`$ cmd`,
// `user@host:~/dir$ cmd`, `# cmd`, `root@host:~# cmd`), each followed by
// the command's output, and between them the tutorial's own words. A
// command's output runs from its prompt line to the next prompt line,
// bullet (`•`) or blank line. The tutorial's bullets become the case's
// comments. Anything else (prose, source listings) is not placed, and the
// caller is told where it was.
package importer

import (
	"regexp"
	"strings"
)

// A Step is one command of the session.
type Step struct {
	Line    int      // the prompt's line in the session, from 1
	Command string   // as written after the prompt
	Comment []string // the tutorial's words above the command
	Output  []string // the lines the session shows under it
	// Shown reports whether the session shows the command's whole output:
	// the next prompt follows it, so that no output means none. Output
	// ending at a bullet, a blank line or the end may be cut short.
	Shown bool
	// Inferred: the session has no prompt for this step, only make's echo
	// of its recipe (`make -C /lib/modules/6.7.9/build M=...`) and what
	// followed; the step is a plain make.
	Inferred bool
	// Root: the prompt is root's (#): the tutorial's reader typed the
	// command in a root shell.
	Root bool
}

// A Span is a run of session lines that import could not place.
type Span struct {
	First, Last int    // lines, from 1
	Lines       int    // non-blank lines in it
	Text        string // its first non-blank line
	Why         string
}

// A Session is a parsed terminal session.
type Session struct {
	Steps    []Step
	Unplaced []Span
	// WorkDir is the directory the tutorial built in, from make's M=DIR
	// ("" if make does not show it). The case builds in $WORK instead.
	WorkDir string
}

// These are never modified after initialisation.
var (
	// user@host:path$ cmd, user@host:path# cmd, possibly after a
	// virtualenv's "(name) ", and a bare prompt at the end of a session.
	hostPrompt = regexp.MustCompile(`^(?:\([^)]*\) )?[A-Za-z0-9._-]+@[A-Za-z0-9._-]+:[^$#]*([$#])(?: (.*))?$`)
	barePrompt = regexp.MustCompile(`^([$#])(?: (.*))?$`)
	bullet     = regexp.MustCompile(`^\s*•\s*(.*)$`)
	// make echoes its recipe before running it; a tutorial that shows
	// make's output without the prompt still shows this line.
	makeEcho  = regexp.MustCompile(`^make(?:\[[0-9]+\])?:? -C \S+`)
	makeMDir  = regexp.MustCompile(`\bM=(\S+)`)
	cdCommand = regexp.MustCompile(`^cd(\s|$)`)
)

// prompt returns the command of a prompt line, and whether it is one.
func prompt(line string) (string, bool) {
	cmd, _, ok := promptOf(line)
	return cmd, ok
}

// promptOf is prompt, and says whether the prompt is root's (#).
func promptOf(line string) (cmd string, root, ok bool) {
	line = strings.TrimRight(line, " \t\r")
	for _, re := range []*regexp.Regexp{hostPrompt, barePrompt} {
		if m := re.FindStringSubmatch(line); m != nil {
			return strings.TrimSpace(m[2]), m[1] == "#", true
		}
	}
	return "", false, false
}

// Parse reads a session.
func Parse(text string) Session {
	p := &parser{lines: strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")}
	p.parse()
	return p.s
}

type parser struct {
	lines   []string
	s       Session
	comment []int // lines of the bullets since the last step
	pending *Span // lines not placed since the last placed one
}

func (p *parser) parse() {
	for i := 0; i < len(p.lines); {
		line := p.lines[i]
		if cmd, root, ok := promptOf(line); ok {
			i = p.step(i, cmd, root)
			continue
		}
		if bullet.MatchString(line) {
			p.comment = append(p.comment, i)
			i++
			continue
		}
		if makeEcho.MatchString(strings.TrimSpace(line)) {
			p.flush()
			out, next, _ := p.output(i)
			p.add(Step{Line: i + 1, Command: "make", Output: out, Inferred: true})
			i = next
			continue
		}
		if strings.TrimSpace(line) != "" {
			p.unplaced(i, "no prompt line above it")
		}
		i++
	}
	p.flush()
}

// step reads the command at line i and its output, and returns the line
// after them.
func (p *parser) step(i int, cmd string, root bool) int {
	p.flush()
	if cdCommand.MatchString(cmd) {
		// Not a step, and what follows is not its output: cd prints
		// nothing. The bullets above it stay for the next command.
		text := strings.TrimSpace(p.lines[i])
		p.s.Unplaced = append(p.s.Unplaced, Span{First: i + 1, Last: i + 1, Lines: 1, Text: text, Why: "cd: the case runs in its work directory"})
		return i + 1
	}
	out, next, shown := p.output(i + 1)
	if cmd != "" { // a bare prompt only ends the previous command's output
		p.add(Step{Line: i + 1, Command: cmd, Output: out, Shown: shown, Root: root})
	}
	return next
}

// output returns the lines from i up to the next prompt, bullet or blank
// line, the line after them, and whether a prompt ended them.
func (p *parser) output(i int) (out []string, next int, byPrompt bool) {
	for ; i < len(p.lines); i++ {
		line := strings.TrimRight(p.lines[i], " \t\r")
		if _, ok := prompt(line); ok {
			return out, i, true
		}
		if line == "" || bullet.MatchString(line) {
			return out, i, false
		}
		out = append(out, line)
	}
	return out, i, false
}

func (p *parser) add(st Step) {
	for _, i := range p.comment {
		st.Comment = append(st.Comment, strings.TrimSpace(bullet.FindStringSubmatch(p.lines[i])[1]))
	}
	p.comment = nil
	for _, l := range st.Output {
		if m := makeMDir.FindStringSubmatch(l); m != nil && p.s.WorkDir == "" && strings.HasPrefix(st.Command, "make") {
			p.s.WorkDir = strings.TrimRight(m[1], "/")
		}
	}
	p.s.Steps = append(p.s.Steps, st)
}

// unplaced notes line i as not placed, joining it to the run before it
// when only blank lines lie between. Bullets before it, which no command
// follows, are not placed either: they are words about what came before.
func (p *parser) unplaced(i int, why string) {
	bullets := p.comment
	p.comment = nil
	for _, b := range bullets {
		p.unplaced(b, why)
	}
	text := strings.TrimSpace(p.lines[i])
	if p.pending != nil && p.pending.Why != why {
		p.flush()
	}
	if p.pending == nil {
		if text == "" {
			return
		}
		p.pending = &Span{First: i + 1, Text: text, Why: why}
	}
	if text != "" {
		p.pending.Last = i + 1
		p.pending.Lines++
	}
}

// flush ends the run of lines not placed.
func (p *parser) flush() {
	if p.pending != nil {
		p.s.Unplaced = append(p.s.Unplaced, *p.pending)
		p.pending = nil
	}
}
