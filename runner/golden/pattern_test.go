package golden

import (
	"strings"
	"testing"
)

func TestMatchVaryingTokens(t *testing.T) {
	tests := []struct {
		golden string
		ok     []string // messages the golden's one line matches
		bad    []string // messages it does not
	}{
		{"I was assigned major number {N}.", []string{"I was assigned major number 245.", "I was assigned major number -1."},
			[]string{"I was assigned major number .", "I was assigned major number 24x.", "I was assigned major number 245"}},
		{"buffer at {X} size {N}", []string{"buffer at 0xffff1234 size 4096", "buffer at deadbeef size 0"},
			[]string{"buffer at 0x size 1", "buffer at xyz size 1"}},
		{"device {W} ready", []string{"device ttyS0 ready", "device /dev/x: ready"}, []string{"device  ready", "device a b ready"}},
		{"mode {/(read|write)/} ok", []string{"mode read ok", "mode write ok"}, []string{"mode readwrite ok", "mode  ok"}},
		{"count {N} {+}", []string{"count 1"}, []string{"count {N}"}},
		{`literal \{N} here`, []string{"literal {N} here"}, []string{"literal 3 here"}},
		{`two \\{N}`, []string{`two \{N}`}, []string{`two \3`, "two {N}"}},
		{`\\{N} first`, []string{"{N} first"}, []string{"3 first"}},
		{`\{N} first`, []string{"3 first"}, []string{"{N} first"}},
		{"dots {/a.c/}.", []string{"dots abc.", "dots a.c."}, []string{"dots abcd."}},
		{"path {/[^\\/}]+\\/}x/}", []string{"path ab/}x"}, []string{"path ab"}},
		{"x{N}y", []string{"x12y"}, []string{"xy"}},
		{"{N} {3}", []string{"7"}, []string{"{N}"}},
		{"unclosed {/abc", []string{"unclosed {/abc"}, nil},
		{"lower {n}", []string{"lower {n}"}, []string{"lower 1"}},
	}
	for _, test := range tests {
		g := mustParse(t, "x.kmsg", test.golden+"\n")
		n := g.items[0].quant.min
		for _, msg := range test.ok {
			actual := make([]string, n)
			for i := range actual {
				actual[i] = msg
			}
			if m := g.Match(actual); !m.OK {
				t.Errorf("golden %q rejects %q: %s", test.golden, msg, m.Mismatch)
			}
		}
		for _, msg := range test.bad {
			if m := g.Match([]string{msg}); m.OK {
				t.Errorf("golden %q accepts %q", test.golden, msg)
			}
		}
	}
}

func TestVaryingTokenErrors(t *testing.T) {
	for _, line := range []string{"bad {/(/}", "empty {//}"} {
		_, err := Parse("x.kmsg", []byte("ok\n"+line+"\n"))
		if err == nil || !strings.HasPrefix(err.Error(), "x.kmsg:2: ") {
			t.Errorf("Parse(%q) = %v, want an error at x.kmsg:2", line, err)
		}
	}
}

// A mismatch names the golden line as written, tokens included.
func TestMatchVaryingMismatch(t *testing.T) {
	g := mustParse(t, "x.kmsg", "major {N}.\nend\n")
	m := g.Match([]string{"major x.", "end"})
	checkMatch(t, m, []string{"major x.", "end"})
	if want := `x.kmsg:1: want "major {N}.", got "major x." (kernel line 1)`; m.Mismatch != want {
		t.Errorf("Mismatch = %q, want %q", m.Mismatch, want)
	}
}

func TestEscapeTokensRoundTrip(t *testing.T) {
	for _, msg := range []string{"{N}", "a {N}", `\{N}`, `a \\{W} b`, "{/x/}", "{/x{N}/}", "{N} {3}", "{X}{N}", "{/"} {
		for _, label := range []string{"", "w"} {
			line := formatItem(label, false, msg, once)
			it, err := parseItem(line)
			if err != nil {
				t.Errorf("message %q written as %q: %v", msg, line, err)
				continue
			}
			if it.re != nil || it.msg != msg {
				t.Errorf("message %q written as %q reads back as %q (pattern %v)", msg, line, it.msg, it.re)
			}
		}
	}
}

// -update keeps a line with a varying token while a new value fits it.
func TestUpdateKeepsVaryingLine(t *testing.T) {
	golden := "# chardev\nI was assigned major number {N}.\n[w] tick {+}\nbye\n"
	g := mustParse(t, "x.kmsg", golden)
	got := string(g.Update([]string{"I was assigned major number 240.", "hello", "tick", "bye"}))
	want := "# chardev\nI was assigned major number {N}.\nhello\n[w] tick {+}\nbye\n"
	if got != want {
		t.Errorf("Update:\n%s\nwant:\n%s", got, want)
	}
}
