package kmsg

import (
	"regexp"
	"strings"

	"github.com/kmodcheck/kmodcheck/runner/golden"
)

// A Normalizer rewrites the parts of kernel messages that change from
// run to run (addresses, PIDs, the temporary work directory), so that a
// message can be compared with a golden file.
type Normalizer struct {
	// Work is the run's temporary work directory. If it is not empty,
	// it is replaced by $WORK wherever it appears.
	Work string
}

// A Rule is one rewrite a [Normalizer] makes, named and described so
// that docs/output.md and `kmodcheck help` can list them.
type Rule struct {
	Name string
	Doc  string
}

// normalizeRule is a Rule with its implementation.
type normalizeRule struct {
	Rule
	apply func(n Normalizer, s string) string
}

// These are never modified after initialisation.
var (
	symbolOffset = regexp.MustCompile(`\+0x[0-9a-fA-F]+/0x[0-9a-fA-F]+\b`)
	pointer64    = regexp.MustCompile(`\b[0-9a-fA-F]{16}\b`)
	pointerHex   = regexp.MustCompile(`\b0x[0-9a-fA-F]{6,}\b`)
	pidField     = regexp.MustCompile(`\b(PID: |pid |pid=|pid:)[0-9]+\b`)
	// comm[pid] appears at the start of the kernel's reports of user
	// space faults. Requiring one of those reports keeps tutorial output
	// such as "data[3]: 7" intact.
	commPID = regexp.MustCompile(`^((?:traps: )?[^\s\[\]]+)\[[0-9]+\]((?::? (?:segfault|general protection|trap|potentially unexpected)))`)
)

// rules returns the rules in the order they are applied. The work
// directory goes first: it may contain digits or hex-looking names that
// later rules would otherwise rewrite, leaving it unrecognisable.
func rules() []normalizeRule {
	return []normalizeRule{{
		Rule{"work", "the work directory is replaced by $WORK"},
		func(n Normalizer, s string) string {
			work := strings.TrimRight(n.Work, "/")
			if work == "" {
				return s
			}
			return strings.ReplaceAll(s, work, "$WORK")
		},
	}, {
		Rule{"timestamp", "a leading dmesg timestamp such as `[  835.288192] ` is removed"},
		func(_ Normalizer, s string) string {
			return golden.StripTimestamp(s)
		},
	}, {
		// Before "pointer": the size after the slash can have six hex digits.
		Rule{"offset", "symbol offsets such as `+0x20/0x1000` become `+<off>`"},
		func(_ Normalizer, s string) string {
			return symbolOffset.ReplaceAllLiteralString(s, "+<off>")
		},
	}, {
		Rule{"pointer", "kernel addresses, 16 hex digits (ffffffffc0a1b000, hashed %p 00000000a1b2c3d4) or 0x and 6 or more hex digits, become `<ptr>`"},
		func(_ Normalizer, s string) string {
			s = pointer64.ReplaceAllLiteralString(s, "<ptr>")
			return pointerHex.ReplaceAllLiteralString(s, "<ptr>")
		},
	}, {
		Rule{"pid", "process IDs in `PID: 231`, `pid 231`, `pid=231`, `pid:231` and a fault report's `insmod[231]` become `<pid>`"},
		func(_ Normalizer, s string) string {
			s = pidField.ReplaceAllString(s, "${1}<pid>")
			return commPID.ReplaceAllString(s, "${1}[<pid>]${2}")
		},
	}, {
		Rule{"space", "trailing white space is removed"},
		func(_ Normalizer, s string) string {
			return strings.TrimRight(s, " \t\r\n")
		},
	}}
}

// Rules describes the rewrites Line makes, in the order it makes them.
func (n Normalizer) Rules() []Rule {
	var docs []Rule
	for _, r := range rules() {
		docs = append(docs, r.Rule)
	}
	return docs
}

// Line returns s with every rule applied.
func (n Normalizer) Line(s string) string {
	for _, r := range rules() {
		s = r.apply(n, s)
	}
	return s
}

// Lines normalises each of lines.
func (n Normalizer) Lines(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = n.Line(l)
	}
	return out
}
