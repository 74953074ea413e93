// Package output compares a step's output (what `ls -l`, `ps`, `lsmod`,
// `modinfo`, `make` print) with its golden, for the script's `out`
// command: the normalisation rules, and the comparisons of one stream
// or of a terminal's two.
//
// Step-output goldens (golden/CASE/NAME.out) use the golden language of
// kernel-log goldens (package golden), line for line: comments, labels,
// quantifiers and escapes mean the same. What differs is normalisation. A
// tutorial shows
//
//	6234 ?        00:00:00 kthread_init_work thread example
//
// where this machine prints another PID, right-aligned in a wider column:
//
//	125 ?        00:00:00 kthread_init_work thread example
//
// So both sides are normalised, the golden's messages when it is parsed
// and the step's output lines before they are matched, and a golden can be
// the tutorial's output pasted as it is.
package output

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/kmodcheck/kmodcheck/runner/golden"
)

// A Normalizer rewrites what legitimately varies in a step's output
// between machines and runs: PIDs, times, dates, owners, sizes, the work
// directory, the kernel release, a module's srcversion. Everything else is
// compared: file names, modes, thread names, modinfo's fields.
type Normalizer struct {
	Work    string          // the case's work directory, which becomes $WORK
	Release string          // the target's kernel release, which becomes <release>
	Keep    map[string]bool // names of rules not to apply (out -keep size)
}

// A Rule is one rewrite a [Normalizer] makes, named for out -keep and
// described so that docs/output.md can list them.
type Rule struct {
	Name string
	Doc  string
}

// outputRule is a Rule with its implementation.
type outputRule struct {
	Rule
	apply func(n Normalizer, s string) string
}

// These are never modified after initialisation.
var (
	// ls -l: mode, links, owner, group, size (or a device's major, minor),
	// date (locale's "Mar 18 16:06" or "Mar 18  2023", or ISO), name. The
	// size and the date may already be normalised: each ls rule matches
	// the line again after the others.
	lsEntry = regexp.MustCompile(`^([-bcdlpsD])([rwxsStT-]{9})([.+@]?) +([0-9]+) +(\S+) +(\S+) +([0-9]+(?:, *[0-9]+)?|<size>) +` +
		`([A-Z][a-z]{2} +[0-9]{1,2} +(?:[0-9]{1,2}:[0-9]{2}|[0-9]{4})|[0-9]{4}-[0-9]{2}-[0-9]{2}(?: [0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?: [+-][0-9]{4})?)?|<date>) +(.*)$`)
	lsTotal = regexp.MustCompile(`^total [0-9]+[KMG]?$`)
	// ps's default and -N/-e formats: PID, TTY, cumulative CPU time, command.
	psEntry = regexp.MustCompile(`^[0-9]+ (\S+) (?:[0-9]+-)?[0-9]{2,}:[0-9]{2}(?::[0-9]{2})? (.*)$`)
	// lsmod: module, size, use count, optional users.
	lsmodEntry = regexp.MustCompile(`^([A-Za-z0-9_]+) ([0-9]{4,}) ([0-9]+|-)( \S+)?$`)
	srcversion = regexp.MustCompile(`^srcversion: [0-9A-F]{16,32}$`)
	// Where a tutorial's kernel release shows: modinfo's vermagic, make's
	// -C /lib/modules/RELEASE/build and the headers' directory.
	vermagicRelease = regexp.MustCompile(`^(vermagic: )\S+`)
	modulesRelease  = regexp.MustCompile(`(/lib/modules/|linux-headers-)[0-9]+\.[0-9]+[^/' ]*`)
	blanks          = regexp.MustCompile(`[ \t]+`)
	// dmesg timestamps at the start of a line, one after another; tabs
	// in them too, which the space rule, after this one, would make spaces.
	leadingTimestamps = regexp.MustCompile(`^[ \t]*(?:\[[ \t]*[0-9]+\.[0-9]+\][ \t]*)+`)
	// The guest agent's markers, `kmodcheck: step 3 done: insmod ./x.ko`,
	// as dmesg prints them; they are not the tutorial's.
	agentMarker = regexp.MustCompile(`^(\[ *[0-9]+\.[0-9]+\] )?kmodcheck: step [0-9]+ done: `)
)

// outputRules returns the rules in the order they are applied: the work
// directory first, as for kernel messages; then white space, so that the
// rules for ls, ps and lsmod see one space between columns whatever their
// widths were.
func outputRules() []outputRule {
	return []outputRule{{
		Rule{"work", "the work directory becomes $WORK"},
		func(n Normalizer, s string) string {
			// The work directory alone: a kernel Normalizer would also strip a
			// timestamp that -keep timestamp keeps, and rewrite pointers and
			// PIDs no rule names.
			if work := strings.TrimRight(n.Work, "/"); work != "" {
				return strings.ReplaceAll(s, work, "$WORK")
			}
			return s
		},
	}, {
		Rule{"timestamp", "leading dmesg timestamps such as `[  835.288192] ` are removed"},
		func(_ Normalizer, s string) string {
			// All of them, and the blanks around them: what one left would
			// be the next normalisation's, and a golden written from this
			// line would not read back as it.
			return leadingTimestamps.ReplaceAllLiteralString(s, "")
		},
	}, {
		Rule{"space", "runs of spaces and tabs become one space, and leading and trailing ones go: columns' widths vary with their contents"},
		func(_ Normalizer, s string) string {
			// Only spaces in front: trimming a vertical tab, a form feed or
			// a carriage return there would uncover a timestamp that the
			// next normalisation removes. Behind, carriage returns too:
			// one left last would be taken for a line ending next time.
			return strings.TrimRight(strings.TrimLeft(blanks.ReplaceAllLiteralString(s, " "), " "), " \r")
		},
	}, {
		Rule{"release", "the kernel release becomes `<release>`: the target's wherever it appears, and any in modinfo's `vermagic:`, `/lib/modules/R` and `linux-headers-R`"},
		func(n Normalizer, s string) string {
			if n.Release != "" {
				s = strings.ReplaceAll(s, n.Release, "<release>")
			}
			s = vermagicRelease.ReplaceAllString(s, "${1}<release>")
			return modulesRelease.ReplaceAllString(s, "${1}<release>")
		},
	}, {
		Rule{"srcversion", "modinfo's `srcversion:` (a hash of the sources) becomes `<srcversion>`"},
		func(_ Normalizer, s string) string {
			return srcversion.ReplaceAllLiteralString(s, "srcversion: <srcversion>")
		},
	}, {
		Rule{"owner", "ls -l's owner and group become `<owner>`: whoever built the files"},
		lsField(func(f []string) { f[5], f[6] = "<owner>", "<owner>" }),
	}, {
		Rule{"umask", "ls -l's group and other write bits become `-`: they follow the umask of whoever built"},
		lsField(func(f []string) { f[2] = f[2][:4] + "-" + f[2][5:7] + "-" + f[2][8:] }),
	}, {
		Rule{"date", "ls -l's date becomes `<date>`"},
		lsField(func(f []string) { f[8] = "<date>" }),
	}, {
		Rule{"size", "sizes become `<size>`: ls -l's size and total, lsmod's size (out -keep size compares them)"},
		func(_ Normalizer, s string) string {
			if lsTotal.MatchString(s) {
				return "total <size>"
			}
			if m := lsmodEntry.FindStringSubmatch(s); m != nil {
				return m[1] + " <size> " + m[3] + m[4]
			}
			return lsField(func(f []string) { f[7] = "<size>" })(Normalizer{}, s)
		},
	}, {
		Rule{"ps", "ps's PID and CPU time become `<pid>` and `<time>`; the TTY and the command (a thread's name) are compared"},
		func(_ Normalizer, s string) string {
			return psEntry.ReplaceAllString(s, "<pid> ${1} <time> ${2}")
		},
	}}
}

// lsField returns a rule that edits the fields of an ls -l line (as
// lsEntry's submatches, 1-based) and leaves other lines alone.
func lsField(edit func(f []string)) func(Normalizer, string) string {
	return func(_ Normalizer, s string) string {
		m := lsEntry.FindStringSubmatch(s)
		if m == nil {
			return s
		}
		edit(m)
		return strings.Join(m[1:4], "") + " " + strings.Join(m[4:], " ")
	}
}

// Rules describes the rewrites Normalizer.Line makes, in order.
func Rules() []Rule {
	var docs []Rule
	for _, r := range outputRules() {
		docs = append(docs, r.Rule)
	}
	return docs
}

// CheckRules reports an error for a name in keep that is no rule.
func CheckRules(keep map[string]bool) error {
	for name := range keep {
		found := false
		for _, r := range outputRules() {
			found = found || r.Name == name
		}
		if !found {
			return fmt.Errorf("unknown normalisation rule %q", name)
		}
	}
	return nil
}

// Line returns one output line with every rule not kept applied. It is
// idempotent, so that a golden written from normalised output normalises
// to itself. A line's final "\r"s are its line ending (CRLF), whatever
// the rules: a golden line's is, so a message cannot end with one.
func (n Normalizer) Line(s string) string {
	s = strings.TrimRight(s, "\r")
	for _, r := range outputRules() {
		if !n.Keep[r.Name] {
			s = r.apply(n, s)
		}
	}
	return s
}

// Lines splits a step's output into normalised lines. The guest agent's
// markers, which dmesg prints among the kernel's messages, are left out.
func (n Normalizer) Lines(output []byte) []string {
	var lines []string
	for _, l := range golden.SplitLines(string(output)) {
		if agentMarker.MatchString(l) {
			continue
		}
		lines = append(lines, n.Line(l))
	}
	return lines
}

// ParseGolden parses a step-output golden: the golden language, each
// message then normalised with n as the output will be. Update keeps the
// lines as written.
func (n Normalizer) ParseGolden(path string, data []byte) (*golden.Golden, error) {
	return golden.ParseNormalized(path, data, n.Line)
}

// newGoldenHeader starts every output golden NewGolden writes.
const newGoldenHeader = `# The step's output, one line per line, normalised (PIDs, times, dates, sizes, owners, $WORK, <release>).
# A leading \ escapes [ # or \; [name] lines may interleave; a final {*} {+} {?} {N} {N,} {N,M} repeats a line.
`

// NewGolden returns an output golden that expects exactly lines.
func NewGolden(lines []string) []byte {
	return append([]byte(newGoldenHeader), golden.Format(nil, lines)...)
}
