package golden

import (
	"fmt"
	"strconv"
	"strings"
)

// A quant is how many times in a row an item's message appears.
type quant struct {
	min int
	max int // unbounded if negative
}

var once = quant{1, 1}

// maxCount bounds the numbers in a quantifier, so that counts fit the
// matcher's int32 state.
const maxCount = 1 << 30

// unbounded reports whether the item may repeat without limit.
func (q quant) unbounded() bool { return q.max < 0 }

// allows reports whether n messages in a row satisfy q.
func (q quant) allows(n int) bool {
	return n >= q.min && (q.unbounded() || n <= q.max)
}

// String returns q as written in a golden file, without the leading
// space; "" for exactly once.
func (q quant) String() string {
	switch {
	case q == once:
		return ""
	case q == quant{0, -1}:
		return "{*}"
	case q == quant{1, -1}:
		return "{+}"
	case q == quant{0, 1}:
		return "{?}"
	case q.unbounded():
		return fmt.Sprintf("{%d,}", q.min)
	case q.min == q.max:
		return fmt.Sprintf("{%d}", q.min)
	}
	return fmt.Sprintf("{%d,%d}", q.min, q.max)
}

// splitQuant splits the text after an item's label into the (still
// escaped) message and the quantifier. suffix is the text the
// quantifier took, its leading space included, or "" if there was none.
func splitQuant(rest string) (msg string, q quant, suffix string, err error) {
	brace, ok := quantShape(rest)
	if !ok {
		return rest, once, "", nil
	}
	slashes := 0
	for brace-slashes > 0 && rest[brace-slashes-1] == '\\' {
		slashes++
	}
	if brace-slashes == 0 || rest[brace-slashes-1] != ' ' {
		// Like "x{3}": part of the message.
		return rest, once, "", nil
	}
	if slashes > 0 {
		// Escaped: drop the backslash next to the brace.
		return rest[:brace-1] + rest[brace:], once, "", nil
	}
	q, err = parseQuant(rest[brace:])
	if err != nil {
		return "", q, "", err
	}
	return unescapeQuant(rest[:brace-1]), q, rest[brace-1:], nil
}

// unescapeQuant removes the backslash that escapes a quantifier shape
// ending msg, the message before a line's quantifier: `size \{3} {+}`
// is the message `size {3}`, one or more times. An unescaped shape there
// is part of the message.
func unescapeQuant(msg string) string {
	brace, ok := quantShape(msg)
	if !ok {
		return msg
	}
	slashes := 0
	for brace-slashes > 0 && msg[brace-slashes-1] == '\\' {
		slashes++
	}
	if slashes == 0 || brace-slashes == 0 || msg[brace-slashes-1] != ' ' {
		return msg
	}
	return msg[:brace-1] + msg[brace:]
}

// quantShape reports whether s ends with something shaped like a
// quantifier, and where its "{" is. Shape alone decides escaping, so
// that "{3,1}" is an error rather than silently part of the message.
func quantShape(s string) (brace int, ok bool) {
	if !strings.HasSuffix(s, "}") {
		return 0, false
	}
	brace = strings.LastIndexByte(s, '{')
	if brace < 0 {
		return 0, false
	}
	body := s[brace+1 : len(s)-1]
	switch body {
	case "*", "+", "?":
		return brace, true
	}
	lo, hi, comma := strings.Cut(body, ",")
	return brace, isDigits(lo) && (!comma || hi == "" || isDigits(hi))
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseQuant parses a quantifier that has the right shape.
func parseQuant(text string) (quant, error) {
	body := text[1 : len(text)-1]
	switch body {
	case "*":
		return quant{0, -1}, nil
	case "+":
		return quant{1, -1}, nil
	case "?":
		return quant{0, 1}, nil
	}
	number := func(s string) (int, error) {
		n, err := strconv.Atoi(s)
		if err != nil || n > maxCount {
			return 0, fmt.Errorf("bad quantifier %s: %s is too large", text, s)
		}
		return n, nil
	}
	lo, hi, comma := strings.Cut(body, ",")
	min, err := number(lo)
	if err != nil {
		return quant{}, err
	}
	q := quant{min, min}
	switch {
	case comma && hi == "":
		q.max = -1
	case comma:
		if q.max, err = number(hi); err != nil {
			return quant{}, err
		}
	}
	if q.max == 0 {
		return quant{}, fmt.Errorf("bad quantifier %s: a line that must appear 0 times matches nothing", text)
	}
	if !q.unbounded() && q.min > q.max {
		return quant{}, fmt.Errorf("bad quantifier %s: minimum %d is more than maximum %d", text, q.min, q.max)
	}
	return q, nil
}

// escapeMessage returns msg as written in a golden file, so that the
// parser gives msg back with no quantifier.
func escapeMessage(msg string) string {
	return escapeLine(escapeTokens(msg))
}

// escapeLine returns text, a message whose varying tokens are written
// as they should read, with the escapes that keep a line from reading as
// a comment or a quantifier.
func escapeLine(msg string) string {
	if brace, ok := quantShape(msg); ok {
		slashes := 0
		for brace-slashes > 0 && msg[brace-slashes-1] == '\\' {
			slashes++
		}
		if brace-slashes > 0 && msg[brace-slashes-1] == ' ' {
			msg = msg[:brace] + `\` + msg[brace:]
		}
	}
	if strings.TrimLeft(msg, " \t") == "" || strings.ContainsAny(msg[:1], `[#\`) {
		msg = `\` + msg
	}
	return msg
}

// formatItem returns the golden line for a message with a label (or "")
// and a quantifier.
func formatItem(label string, optional bool, msg string, q quant) string {
	return formatLine(label, optional, escapeMessage(msg), q)
}

// formatLine returns the golden line for text, a message as written in a
// golden file (escapes and tokens), with a label and a quantifier.
func formatLine(label string, optional bool, text string, q quant) string {
	var b strings.Builder
	if label != "" {
		b.WriteString("[" + label)
		if optional {
			b.WriteString("?")
		}
		b.WriteString("] ")
	}
	b.WriteString(text)
	if s := q.String(); s != "" {
		b.WriteString(" " + s)
	}
	return b.String()
}
