package golden

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// kthreadGolden is the kthread tutorial's golden file: an ordered line,
// then three streams that interleave.
const kthreadGolden = `# kthread tutorial
Inside kthread_init function
[init] Created kthread
[thread] Initializing kthread work
[thread] Created kthread worker
[thread] Queue the work to worker
[thread] thread execution {+}
# The worker counts.
[worker] Inside work function
[worker] my_data->i = 0
[worker] my_data->i = 1
[worker] my_data->i = 2
`

func mustParse(t testing.TB, path, text string) *Golden {
	t.Helper()
	g, err := Parse(path, []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// checkMatch checks the invariants every Match must keep.
func checkMatch(t *testing.T, m Match, actual []string) {
	t.Helper()
	if got := cmp.Equal(m.Want, m.Got); got != m.OK {
		t.Errorf("cmp.Equal(Want, Got) = %v but OK = %v\nWant: %q\nGot: %q", got, m.OK, m.Want, m.Got)
	}
	if !cmp.Equal(m.Got, actual) {
		t.Errorf("Got = %q, want the actual lines %q", m.Got, actual)
	}
	if (m.Mismatch == "") != m.OK {
		t.Errorf("OK = %v but Mismatch = %q", m.OK, m.Mismatch)
	}
	if (m.Diff("golden") == "") != m.OK {
		t.Errorf("OK = %v but Diff = %q", m.OK, m.Diff("golden"))
	}
	if m.OK && m.Accepted != len(actual) {
		t.Errorf("OK but Accepted = %d, want %d", m.Accepted, len(actual))
	}
	if m.OK && !m.Alive {
		t.Errorf("OK but not Alive")
	}
}

func TestParseGoldenErrors(t *testing.T) {
	tests := []struct {
		text, want string
	}{
		{"a\nb {3,1}\n", "x.kmsg:2: bad quantifier {3,1}: minimum 3 is more than maximum 1"},
		{"a {0}\n", "x.kmsg:1: bad quantifier {0}: a line that must appear 0 times matches nothing"},
		{"a {99999999999}\n", "x.kmsg:1: bad quantifier {99999999999}: 99999999999 is too large"},
		{"# c\n\n[thread execution\n", `x.kmsg:3: unterminated label "[thread execution" (a message starting with [ is written \[)`},
		{"[a?b] x\n", `x.kmsg:1: bad label "[a?b]": want [name] or [name?], name made of letters, digits, spaces and _-./: with a letter (a message starting with [ is written \[)`},
		{"[a,b] x\n", `x.kmsg:1: bad label "[a,b]": want [name] or [name?], name made of letters, digits, spaces and _-./: with a letter (a message starting with [ is written \[)`},
		{"[] x\n", `x.kmsg:1: bad label "[]": want [name] or [name?], name made of letters, digits, spaces and _-./: with a letter (a message starting with [ is written \[)`},
		{"[w]x\n", `x.kmsg:1: label "[w]" must be followed by a space and the message`},
		{"[w] a\n# c\n[w?] b\n", "x.kmsg:3: [w] is optional here but required at line 1: mark all of a stream's lines [w?] or none"},
	}
	for _, test := range tests {
		_, err := Parse("x.kmsg", []byte(test.text))
		if err == nil {
			t.Errorf("Parse(%q) succeeded, want error %q", test.text, test.want)
			continue
		}
		if err.Error() != test.want {
			t.Errorf("Parse(%q) error:\n got %s\nwant %s", test.text, err, test.want)
		}
	}
}

func TestParseGoldenItems(t *testing.T) {
	type parsed struct {
		Label    string
		Optional bool
		Msg      string
		Min, Max int
	}
	tests := []struct {
		line string
		want parsed
	}{
		{"hello", parsed{"", false, "hello", 1, 1}},
		{"hello {*}", parsed{"", false, "hello", 0, -1}},
		{"hello {+}", parsed{"", false, "hello", 1, -1}},
		{"hello {?}", parsed{"", false, "hello", 0, 1}},
		{"hello {3}", parsed{"", false, "hello", 3, 3}},
		{"hello {2,}", parsed{"", false, "hello", 2, -1}},
		{"hello {2,5}", parsed{"", false, "hello", 2, 5}},
		{"[w] hello {2,5}", parsed{"w", false, "hello", 2, 5}},
		{"[w_1-x?] hello", parsed{"w_1-x", true, "hello", 1, 1}},
		{"[kthread_init_work worker example] hello", parsed{"kthread_init_work worker example", false, "hello", 1, 1}},
		{"[kworker/0:1] hello", parsed{"kworker/0:1", false, "hello", 1, 1}},
		{"hello{3}", parsed{"", false, "hello{3}", 1, 1}},
		{"{3}", parsed{"", false, "{3}", 1, 1}},
		{"hello {x}", parsed{"", false, "hello {x}", 1, 1}},
		{`hello \{3}`, parsed{"", false, "hello {3}", 1, 1}},
		{`hello \\{3}`, parsed{"", false, `hello \{3}`, 1, 1}},
		{`hello \{3,1}`, parsed{"", false, "hello {3,1}", 1, 1}},
		{`size \{3} {+}`, parsed{"", false, "size {3}", 1, -1}},
		{`size \\{3} {?}`, parsed{"", false, `size \{3}`, 0, 1}},
		{"size {3} {+}", parsed{"", false, "size {3}", 1, -1}},
		{`\[  1.0] x`, parsed{"", false, "[  1.0] x", 1, 1}},
		// Pasted from dmesg: the timestamp goes, the rest is the message.
		{"[  835.288192] hello", parsed{"", false, "hello", 1, 1}},
		{"[12.5] x {2}", parsed{"", false, "x", 2, 2}},
		{"[    1.000001] [drm] Initialized", parsed{"", false, "[drm] Initialized", 1, 1}},
		{`[    1.000001] \x`, parsed{"", false, `\x`, 1, 1}},
		{"[  835.288192]", parsed{"", false, "", 1, 1}},
		{`\# not a comment`, parsed{"", false, "# not a comment", 1, 1}},
		{`\\n`, parsed{"", false, `\n`, 1, 1}},
		{`\plain`, parsed{"", false, "plain", 1, 1}},
		{`\`, parsed{"", false, "", 1, 1}},
		{`\ {*}`, parsed{"", false, "", 0, -1}},
		{`[w] \`, parsed{"w", false, "", 1, 1}},
		{`[w] \[x]`, parsed{"w", false, "[x]", 1, 1}},
		{" indented", parsed{"", false, " indented", 1, 1}},
		{"crlf\r", parsed{"", false, "crlf", 1, 1}},
	}
	for _, test := range tests {
		g, err := Parse("x.kmsg", []byte(test.line+"\n"))
		if err != nil {
			t.Errorf("Parse(%q): %v", test.line, err)
			continue
		}
		if len(g.items) != 1 {
			t.Errorf("Parse(%q): %d items, want 1", test.line, len(g.items))
			continue
		}
		it := g.items[0]
		got := parsed{it.label, it.optional, it.msg, it.quant.min, it.quant.max}
		if diff := cmp.Diff(test.want, got); diff != "" {
			t.Errorf("Parse(%q) (-want +got):\n%s", test.line, diff)
		}
	}
}

func TestParseGoldenComments(t *testing.T) {
	g := mustParse(t, "x.kmsg", "# header\n\n   \n\t\n#[not a label\n")
	if len(g.items) != 0 {
		t.Errorf("comments parsed as %d items", len(g.items))
	}
	m := g.Match(nil)
	checkMatch(t, m, nil)
	if !m.OK {
		t.Errorf("a golden file of comments rejects an empty log: %s", m.Mismatch)
	}
}

func TestEscapeMessageRoundTrip(t *testing.T) {
	msgs := []string{
		"plain", "", " ", "\t", "  two", "[  1.234] x", "[x] y", "#hash", "# hash", `\`, `\\`, `\n`,
		"x {*}", "x {+}", "x {?}", "x {3}", "x {3,}", "x {3,1}", "x {0}", " {*}", "{*}", "x{3}",
		`x \{3}`, `x \\{3}`, `\ {3}`, `\{3}`, "x {}", "x {,3}", "{", "}",
	}
	for _, msg := range msgs {
		for _, label := range []string{"", "w"} {
			q := once
			if len(label) > 0 {
				q = quant{0, 1} // a quantifier after the message
			}
			line := formatItem(label, false, msg, q)
			it, err := parseItem(line)
			if err != nil {
				t.Errorf("message %q written as %q: %v", msg, line, err)
				continue
			}
			if it.msg != msg || it.quant != q || it.label != label {
				t.Errorf("message %q written as %q reads back as %q %v label %q", msg, line, it.msg, it.quant, it.label)
			}
			if isComment(line) {
				t.Errorf("message %q written as comment %q", msg, line)
			}
		}
	}
}

// kthreadLines returns the kthread tutorial's log with the init stream's
// line at position initAt of the block and thread execution lines
// before the worker lines given by executions (index into the worker
// lines, 3 meaning after the last).
func kthreadLines(initAt int, executions ...int) []string {
	worker := []string{"Inside work function", "my_data->i = 0", "my_data->i = 1", "my_data->i = 2"}
	block := []string{"Initializing kthread work", "Created kthread worker", "Queue the work to worker"}
	for w, line := range worker {
		for _, e := range executions {
			if e == w {
				block = append(block, "thread execution")
			}
		}
		block = append(block, line)
	}
	for _, e := range executions {
		if e >= len(worker) {
			block = append(block, "thread execution")
		}
	}
	block = append(block[:initAt], append([]string{"Created kthread"}, block[initAt:]...)...)
	return append([]string{"Inside kthread_init function"}, block...)
}

func TestMatchKthreadAccepts(t *testing.T) {
	g := mustParse(t, "golden/kthread.kmsg", kthreadGolden)
	tests := []struct {
		name   string
		actual []string
	}{
		{"in file order", kthreadLines(0, 0)},
		{"init last", kthreadLines(8, 4)},
		{"init in the middle", kthreadLines(4, 1)},
		{"executions everywhere", kthreadLines(2, 0, 1, 2, 3, 4)},
		{"many executions", kthreadLines(1, 0, 0, 0, 2, 2, 4, 4, 4, 4)},
		{"worker before the thread finishes queueing", []string{
			"Inside kthread_init function", "Initializing kthread work", "Created kthread worker",
			"Inside work function", "my_data->i = 0", "Queue the work to worker", "Created kthread",
			"my_data->i = 1", "thread execution", "my_data->i = 2",
		}},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			m := g.Match(test.actual)
			checkMatch(t, m, test.actual)
			if !m.OK {
				t.Errorf("rejected: %s\n%s", m.Mismatch, m.Diff("golden/kthread.kmsg"))
			}
		})
	}
}

func TestMatchKthreadRejects(t *testing.T) {
	g := mustParse(t, "golden/kthread.kmsg", kthreadGolden)
	replace := func(lines []string, i int, with ...string) []string {
		out := append([]string(nil), lines[:i]...)
		out = append(out, with...)
		return append(out, lines[i+1:]...)
	}
	good := kthreadLines(0, 2)
	// good is: 0 Inside kthread_init function, 1 Created kthread,
	// 2 Initializing kthread work, 3 Created kthread worker,
	// 4 Queue the work to worker, 5 Inside work function,
	// 6 my_data->i = 0, 7 thread execution, 8 my_data->i = 1,
	// 9 my_data->i = 2.
	if good[8] != "my_data->i = 1" {
		t.Fatalf("kthreadLines changed: %q", good)
	}
	tests := []struct {
		name     string
		actual   []string
		mismatch string
		accepted int
		alive    bool
	}{{
		name:     "missing value",
		actual:   replace(good, 8),
		mismatch: `golden/kthread.kmsg:11: want "my_data->i = 1", got "my_data->i = 2" (kernel line 9)`,
		accepted: -1,
	}, {
		name:     "values swapped",
		actual:   replace(replace(good, 8, "my_data->i = 2"), 9, "my_data->i = 1"),
		mismatch: `golden/kthread.kmsg:11: want "my_data->i = 1", got "my_data->i = 2" (kernel line 9)`,
		accepted: -1,
	}, {
		name:     "wrong value",
		actual:   replace(good, 8, "my_data->i = 7"),
		mismatch: `golden/kthread.kmsg:11: want "my_data->i = 1", got "my_data->i = 7" (kernel line 9)`,
		accepted: -1,
	}, {
		// The line after the wrong value fits a repeat item, so the wrong
		// value could pass for an extra line; it is named as a wrong value.
		name:     "wrong value before a repeated line",
		actual:   replace(good, 6, "my_data->i = 00", "thread execution"),
		mismatch: `golden/kthread.kmsg:10: want "my_data->i = 0", got "my_data->i = 00" (kernel line 7)`,
		accepted: -1,
	}, {
		name:     "unexpected extra line",
		actual:   replace(good, 6, "my_data->i = 0", "foo"),
		mismatch: `golden/kthread.kmsg:7: unexpected "foo" (kernel line 8): no golden line takes it`,
		accepted: -1,
	}, {
		name:     "extra line at the end",
		actual:   append(good[:len(good):len(good)], "foo"),
		mismatch: `golden/kthread.kmsg: unexpected "foo" (kernel line 11): no golden line takes it`,
		accepted: 10,
	}, {
		name:     "execution before the queueing",
		actual:   replace(good, 3, "thread execution", "Created kthread worker"),
		mismatch: `golden/kthread.kmsg:5: want "Created kthread worker", got "thread execution" (kernel line 4)`,
		accepted: -1,
	}, {
		name:     "ordered line late",
		actual:   append(good[1:len(good):len(good)], good[0]),
		mismatch: `golden/kthread.kmsg:2: want "Inside kthread_init function", got "Created kthread" (kernel line 1)`,
		accepted: -1,
	}, {
		name:     "log ended early",
		actual:   good[:9],
		mismatch: `golden/kthread.kmsg:12: want "my_data->i = 2", the log ended`,
		accepted: -1,
		alive:    true,
	}, {
		name:     "no thread execution yet",
		actual:   replace(good, 7),
		mismatch: `golden/kthread.kmsg:7: want "thread execution", the log ended`,
		accepted: -1,
		alive:    true,
	}, {
		name:     "empty log",
		actual:   nil,
		mismatch: `golden/kthread.kmsg:2: want "Inside kthread_init function", the log ended`,
		accepted: -1,
		alive:    true,
	}}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			m := g.Match(test.actual)
			checkMatch(t, m, test.actual)
			if m.OK {
				t.Fatalf("accepted %q", test.actual)
			}
			if m.Mismatch != test.mismatch {
				t.Errorf("Mismatch:\n got %s\nwant %s", m.Mismatch, test.mismatch)
			}
			if d := firstAsText(m.First); !strings.Contains(test.mismatch, d) || m.First.Golden != "golden/kthread.kmsg" {
				t.Errorf("First %+v (%s) is not Mismatch %s", m.First, d, test.mismatch)
			}
			if !strings.HasPrefix(test.mismatch, m.First.Where()+": ") {
				t.Errorf("First's place %s is not Mismatch's: %s", m.First.Where(), test.mismatch)
			}
			if m.Accepted != test.accepted || m.Alive != test.alive {
				t.Errorf("Accepted, Alive = %d, %v; want %d, %v", m.Accepted, m.Alive, test.accepted, test.alive)
			}
		})
	}
}

func TestMatchWant(t *testing.T) {
	g := mustParse(t, "x.kmsg", "a\nb {2}\n[s] c\n[s] d {*}\n[t] e\nf\n")
	m := g.Match([]string{"a", "b", "b", "e", "c", "x"})
	want := []string{"a", "b", "b", "e", "c", "f"}
	if diff := cmp.Diff(want, m.Want); diff != "" {
		t.Errorf("Want (-want +got):\n%s", diff)
	}
	m = g.Match([]string{"a", "b", "x"})
	want = []string{"a", "b", "b", "c", "e", "f"}
	if diff := cmp.Diff(want, m.Want); diff != "" {
		t.Errorf("Want (-want +got):\n%s", diff)
	}
	if got := `x.kmsg:2: want "b", got "x" (kernel line 3)`; m.Mismatch != got {
		t.Errorf("Mismatch = %s, want %s", m.Mismatch, got)
	}
}

func TestMatchOptionalStream(t *testing.T) {
	g := mustParse(t, "cancel.kmsg", `start
[main] queued work
[main] cancelled work {?}
[worker?] work started
[worker?] work done
end
`)
	tests := []struct {
		name     string
		actual   []string
		mismatch string
	}{
		{"worker absent", []string{"start", "queued work", "cancelled work", "end"}, ""},
		{"worker ran", []string{"start", "queued work", "work started", "work done", "end"}, ""},
		{"worker interleaved", []string{"start", "work started", "queued work", "work done", "cancelled work", "end"}, ""},
		{"worker partly present", []string{"start", "queued work", "work started", "end"},
			`cancel.kmsg:5: want "work done", got "end" (kernel line 4)`},
		{"only the later line", []string{"start", "queued work", "work done", "end"},
			`cancel.kmsg:6: unexpected "work done" (kernel line 3): no golden line takes it`},
		{"log ended inside the worker", []string{"start", "queued work", "work started"},
			`cancel.kmsg:5: want "work done", the log ended`},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			m := g.Match(test.actual)
			checkMatch(t, m, test.actual)
			if m.Mismatch != test.mismatch {
				t.Errorf("Mismatch:\n got %s\nwant %s", m.Mismatch, test.mismatch)
			}
		})
	}
}

func TestMatchOptionalStreamStartingWithRepeat(t *testing.T) {
	// A stream that took a message of its {*} first item has started.
	g := mustParse(t, "x.kmsg", "[w?] tick {*}\n[w?] done\n")
	for _, test := range []struct {
		actual []string
		ok     bool
	}{
		{nil, true},
		{[]string{"tick", "done"}, true},
		{[]string{"done"}, true},
		{[]string{"tick"}, false},
		{[]string{"tick", "tick"}, false},
	} {
		m := g.Match(test.actual)
		checkMatch(t, m, test.actual)
		if m.OK != test.ok {
			t.Errorf("Match(%q).OK = %v, want %v (%s)", test.actual, m.OK, test.ok, m.Mismatch)
		}
	}
}

func TestMatchQuantifiers(t *testing.T) {
	tests := []struct {
		golden string
		accept []string // comma-separated logs
		reject []string
	}{
		{"a {*}\nb", []string{"b", "a,b", "a,a,a,b"}, []string{"", "a", "b,a", "a,b,b"}},
		{"a {+}\nb", []string{"a,b", "a,a,b"}, []string{"b", "a"}},
		{"a {?}\nb", []string{"b", "a,b"}, []string{"a,a,b"}},
		{"a {2}\nb", []string{"a,a,b"}, []string{"a,b", "a,a,a,b"}},
		{"a {2,}\nb", []string{"a,a,b", "a,a,a,a,b"}, []string{"a,b"}},
		{"a {2,3}\nb", []string{"a,a,b", "a,a,a,b"}, []string{"a,b", "a,a,a,a,b"}},
		// A repeat followed by the same message: every way is tried.
		{"a {*}\na\nb", []string{"a,b", "a,a,a,b"}, []string{"b"}},
		{"a {1,2}\na {2}", []string{"a,a,a", "a,a,a,a"}, []string{"a,a", "a,a,a,a,a"}},
		// The same message in two streams.
		{"[s] x\n[s] y\n[t] x\n[t] z", []string{"x,x,y,z", "x,y,x,z", "x,z,x,y"}, []string{"x,y,z", "x,x,z,y,y"}},
		// Ordered lines between blocks are barriers.
		{"[s] a {*}\nmid\n[s] a {*}", []string{"mid", "a,mid,a,a"}, []string{"a,a"}},
		{"[s] a\n[t] b\nmid\n[t] c", []string{"b,a,mid,c"}, []string{"a,mid,b,c"}},
		{"# only comments", []string{""}, []string{"a"}},
		{"", []string{""}, []string{"a"}},
	}
	for _, test := range tests {
		g := mustParse(t, "x.kmsg", test.golden)
		for _, logs := range [][]string{test.accept, test.reject} {
			for _, log := range logs {
				var actual []string
				if log != "" {
					actual = strings.Split(log, ",")
				}
				m := g.Match(actual)
				checkMatch(t, m, actual)
				if want := &logs[0] == &test.accept[0]; m.OK != want {
					t.Errorf("golden %q, log %q: OK = %v, want %v (%s)", test.golden, actual, m.OK, want, m.Mismatch)
				}
			}
		}
	}
}

func TestMatchAcceptedAlive(t *testing.T) {
	tests := []struct {
		golden   string
		actual   []string
		accepted int
		alive    bool
	}{
		// The next step's lines follow: the step is the prefix.
		{"a\nb", []string{"a", "b", "c", "d"}, 2, false},
		// The longest accepted prefix, not the first.
		{"a {+}", []string{"a", "a", "a", "b"}, 3, false},
		{"a\nb {*}", []string{"a", "b", "b", "c"}, 3, false},
		{"a\nb {*}", []string{"a", "b", "b"}, 3, true},
		// Waiting for the kernel.
		{"a\nb\nc", []string{"a", "b"}, -1, true},
		{"a\nb\nc", nil, -1, true},
		// Hopeless.
		{"a\nb\nc", []string{"a", "c"}, -1, false},
		{"a\nb\nc", []string{"x"}, -1, false},
		// An optional stream may be the reason a prefix is accepted.
		{"[s] a\n[w?] b\n[w?] c", []string{"a", "b"}, 1, true},
		{"[s] a\n[w?] b\n[w?] c", []string{"b", "a", "c", "d"}, 3, false},
		// Nothing expected.
		{"", []string{"a"}, 0, false},
	}
	for _, test := range tests {
		g := mustParse(t, "x.kmsg", test.golden)
		m := g.Match(test.actual)
		checkMatch(t, m, test.actual)
		if m.Accepted != test.accepted || m.Alive != test.alive {
			t.Errorf("golden %q, log %q: Accepted, Alive = %d, %v; want %d, %v (%s)",
				test.golden, test.actual, m.Accepted, m.Alive, test.accepted, test.alive, m.Mismatch)
		}
		if m.Accepted >= 0 {
			if prefix := g.Match(test.actual[:m.Accepted]); !prefix.OK {
				t.Errorf("golden %q rejects the accepted prefix %q: %s", test.golden, test.actual[:m.Accepted], prefix.Mismatch)
			}
		}
	}
}

func TestMatchDiff(t *testing.T) {
	g := mustParse(t, "golden/kthread.kmsg", kthreadGolden)
	actual := kthreadLines(0, 2)
	actual[8] = "my_data->i = 7"
	m := g.Match(actual)
	d := m.Diff("golden/kthread.kmsg")
	for _, want := range []string{
		"--- golden/kthread.kmsg\n",
		"+++ kernel\n",
		"-my_data->i = 1\n",
		"+my_data->i = 7\n",
	} {
		if !strings.Contains(d, want) {
			t.Errorf("diff lacks %q:\n%s", want, d)
		}
	}
	if ok := g.Match(kthreadLines(0, 2)); ok.Diff("x") != "" {
		t.Errorf("diff of a match = %q, want empty", ok.Diff("x"))
	}
}

// benchGolden and benchLog model the kthread tutorial left running: the
// worker counts to n while the thread logs between every value.
func benchGolden(n int) string {
	var b strings.Builder
	b.WriteString("Inside kthread_init function\n[init] Created kthread\n")
	b.WriteString("[thread] Queue the work to worker\n[thread] thread execution {*}\n")
	b.WriteString("[worker] Inside work function\n")
	for i := range n {
		fmt.Fprintf(&b, "[worker] my_data->i = %d\n", i)
	}
	b.WriteString("Exit kthread\n")
	return b.String()
}

func benchLog(n, total int) []string {
	lines := []string{"Inside kthread_init function", "Queue the work to worker", "Created kthread", "Inside work function"}
	for i := range n {
		lines = append(lines, fmt.Sprintf("my_data->i = %d", i))
		for len(lines) < 4+(i+1)*(total-5)/n {
			lines = append(lines, "thread execution")
		}
	}
	return append(lines, "Exit kthread")
}

func BenchmarkMatch100k(b *testing.B) {
	for _, n := range []int{10, 50000} {
		g := mustParse(b, "bench.kmsg", benchGolden(n))
		actual := benchLog(n, 100000)
		b.Run(fmt.Sprintf("values=%d", n), func(b *testing.B) {
			if m := g.Match(actual); !m.OK {
				b.Fatalf("%d lines rejected: %s", len(actual), m.Mismatch)
			}
			for b.Loop() {
				g.Match(actual)
			}
		})
	}
}

func TestBenchLog(t *testing.T) {
	for _, n := range []int{10, 50000} {
		actual := benchLog(n, 100000)
		if len(actual) < 99990 || len(actual) > 100000 {
			t.Errorf("benchLog(%d, 100000) has %d lines", n, len(actual))
		}
		if m := mustParse(t, "bench.kmsg", benchGolden(n)).Match(actual); !m.OK {
			t.Errorf("benchmark log rejected: %s", m.Mismatch)
		}
	}
}

func TestMatchHugeQuantifier(t *testing.T) {
	g := mustParse(t, "x.kmsg", "a {1000000000}\n")
	m := g.Match([]string{"a", "a"})
	checkMatch(t, m, []string{"a", "a"})
	if !m.Alive || m.Accepted != -1 || len(m.Want) != 2+maxPending {
		t.Errorf("Alive %v, Accepted %d, len(Want) %d", m.Alive, m.Accepted, len(m.Want))
	}
}

// firstAsText is the part of a Mismatch that a Difference says, in its words.
func firstAsText(d Difference) string {
	switch {
	case d.Got == "":
		return fmt.Sprintf("%s:%d: want %q, the log ended", d.Golden, d.Line, d.Want)
	case d.Line == 0:
		return fmt.Sprintf("unexpected %q (kernel line %d)", d.Got, d.At)
	}
	return fmt.Sprintf("%s:%d: want %q, got %q (kernel line %d)", d.Golden, d.Line, d.Want, d.Got, d.At)
}
