package golden

import (
	"fmt"
	"regexp"
	"strings"
)

// Varying tokens mark the places of a golden message where the kernel
// prints a value that changes from run to run:
//
//	{N}      a decimal number, optionally negative: -?[0-9]+
//	{X}      a hexadecimal number, optionally 0x-prefixed: (0x)?[0-9a-fA-F]+
//	{W}      a word: one or more characters other than white space
//	{/RE/}   a regular expression (RE2 syntax), ending at the first /}
//	         not preceded by \ (write \/} for a literal /} inside RE)
//
// The rest of the message is compared literally. A token is escaped
// like a quantifier: k > 0 backslashes before a token's "{" stand for
// k-1 backslashes and the token's text taken literally, so the message
// `size {N}` is written `size \{N}`. (So a token cannot follow a literal
// backslash; a regexp can: `{/\\[0-9]+/}`.)
//
// Tokens cannot be confused with a quantifier: a quantifier's braces
// hold digits, a comma, `*`, `+` or `?`; a token's hold a capital
// letter or a slash. The quantifier is read first, from the end of the
// line, then tokens from the message that remains: `count {N} {+}` is
// one or more "count " lines each ending in a number.

// tokenRegexps are the regexps of the lettered tokens.
var tokenRegexps = map[byte]string{
	'N': `-?[0-9]+`,
	'X': `(?:0x)?[0-9a-fA-F]+`,
	'W': `\S+`,
}

// tokenAt reports whether s[p:] starts with a token, and its length and
// regexp. A "{/" without a closing "/}" is not a token.
func tokenAt(s string, p int) (n int, re string, ok bool) {
	if s[p] != '{' || p+2 >= len(s) {
		return 0, "", false
	}
	if s[p+2] == '}' {
		re, ok = tokenRegexps[s[p+1]]
		return 3, re, ok
	}
	if s[p+1] != '/' {
		return 0, "", false
	}
	for j := p + 2; j+1 < len(s); j++ {
		if s[j] == '/' && s[j+1] == '}' && s[j-1] != '\\' {
			return j + 2 - p, s[p+2 : j], true
		}
	}
	return 0, "", false
}

// parsePattern reads the tokens of msg, a message with its leading
// escape already removed. It returns the literal message when there are
// no tokens (escapes resolved), or msg as written and a regexp matching
// the messages it stands for.
func parsePattern(msg string) (string, *regexp.Regexp, error) {
	if !strings.Contains(msg, "{") {
		return msg, nil, nil // most messages: no token, nothing to escape
	}
	var lit, expr strings.Builder
	tokens := false
	start := 0 // the start of the text not yet copied
	for p := 0; p < len(msg); p++ {
		n, re, ok := tokenAt(msg, p)
		if !ok {
			continue
		}
		slashes := 0
		for p-slashes > start && msg[p-slashes-1] == '\\' {
			slashes++
		}
		text := msg[start:p-slashes] + strings.Repeat(`\`, max(slashes-1, 0))
		lit.WriteString(text)
		expr.WriteString(regexp.QuoteMeta(text))
		if slashes > 0 {
			lit.WriteString(msg[p : p+n])
			expr.WriteString(regexp.QuoteMeta(msg[p : p+n]))
		} else {
			if re == "" {
				return "", nil, fmt.Errorf("empty regexp %s", msg[p:p+n])
			}
			if _, err := regexp.Compile(re); err != nil {
				return "", nil, fmt.Errorf("bad regexp %s: %v", msg[p:p+n], err)
			}
			expr.WriteString("(?:" + re + ")")
			tokens = true
		}
		start = p + n
		p += n - 1
	}
	lit.WriteString(msg[start:])
	expr.WriteString(regexp.QuoteMeta(msg[start:]))
	if !tokens {
		return lit.String(), nil, nil
	}
	re, err := regexp.Compile(`^(?:` + expr.String() + `)$`)
	if err != nil {
		return "", nil, fmt.Errorf("bad message pattern: %v", err)
	}
	return msg, re, nil
}

// escapeTokens returns msg with a backslash added before every
// token-shaped text, so that parsePattern reads msg back literally.
func escapeTokens(msg string) string {
	var b strings.Builder
	start := 0
	for p := 0; p < len(msg); p++ {
		n, _, ok := tokenAt(msg, p)
		if !ok {
			continue
		}
		b.WriteString(msg[start:p] + `\` + msg[p:p+n])
		start = p + n
		p += n - 1
	}
	if start == 0 {
		return msg
	}
	b.WriteString(msg[start:])
	return b.String()
}

// matches reports whether the item's message is line: equal to it, or,
// for an item with varying tokens, matched by its pattern.
func (it *item) matches(line string) bool {
	if it.re == nil {
		return it.msg == line
	}
	return it.re.MatchString(line)
}
