package golden

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestUpdateUnchangedWhenOK(t *testing.T) {
	// Odd spacing and comments would be lost if Update rewrote the file.
	text := "# keep me exactly\n\nInside kthread_init function\n[init] Created kthread\n[thread] Initializing kthread work\n[thread] Created kthread worker\n[thread] Queue the work to worker\n\n\n[thread] thread execution {+}\n[worker] Inside work function\n[worker] my_data->i = 0\n[worker] my_data->i = 1\n[worker] my_data->i = 2"
	g := mustParse(t, "golden/kthread.kmsg", text)
	if got := string(g.Update(kthreadLines(3, 1, 4))); got != text {
		t.Errorf("Update of a matching log changed the file:\n%s", got)
	}
}

func TestUpdate(t *testing.T) {
	tests := []struct {
		name   string
		golden string
		actual []string
		want   string
	}{{
		name:   "one value changes",
		golden: kthreadGolden,
		actual: replaceLine(kthreadLines(0, 2), "my_data->i = 1", "my_data->i = 7"),
		want:   strings.Replace(kthreadGolden, "[worker] my_data->i = 1\n", "[worker] my_data->i = 7\n", 1),
	}, {
		name:   "ordered value changes",
		golden: "# counting\nstart\ni = 0\ni = 1 {2}\n# done\ni = 2\nend\n",
		actual: []string{"start", "i = 0", "i = 1", "i = 1", "i = 5", "end"},
		want:   "# counting\nstart\ni = 0\ni = 1 {2}\n# done\ni = 5\nend\n",
	}, {
		name:   "line added inside a block joins the stream it looks like",
		golden: kthreadGolden,
		actual: replaceLine(kthreadLines(0, 2), "my_data->i = 2", "my_data->i = 2", "my_data->i = 3"),
		want:   kthreadGolden + "[worker] my_data->i = 3\n",
	}, {
		name:   "line removed",
		golden: kthreadGolden,
		actual: replaceLine(kthreadLines(0, 2), "my_data->i = 1"),
		want:   strings.Replace(kthreadGolden, "[worker] my_data->i = 1\n", "", 1),
	}, {
		name:   "line moved",
		golden: "a\nb {+}\nc\nd\n",
		actual: []string{"a", "d", "b", "c"},
		want:   "a\nd\nb {+}\nc\n",
	}, {
		name:   "new line before a block is ordered",
		golden: "[a] x\n[b] y\n",
		actual: []string{"hello", "y", "x"},
		want:   "hello\n[a] x\n[b] y\n",
	}, {
		name:   "new line at the end",
		golden: "a\n# trailing comment\n",
		actual: []string{"a", "b"},
		want:   "a\nb\n# trailing comment\n",
	}, {
		name:   "new line after a block at the end",
		golden: "a\n[s] b\n[t] c\n# trailing comment\n",
		actual: []string{"a", "c", "b", "d"},
		want:   "a\n[s] b\n[t] c\nd\n# trailing comment\n",
	}, {
		name:   "exact repeat folds extra lines",
		golden: "start\ntick {3}\nend\n",
		actual: []string{"start", "tick", "tick", "tick", "tick", "tick", "end"},
		want:   "start\ntick {5}\nend\n",
	}, {
		name:   "range repeat widens",
		golden: "start\ntick {2,3}\nend\n",
		actual: []string{"start", "tick", "end"},
		want:   "start\ntick {1,3}\nend\n",
	}, {
		name:   "one or more becomes any",
		golden: kthreadGolden,
		actual: replaceLine(kthreadLines(0, 2), "thread execution"),
		want:   strings.Replace(kthreadGolden, "thread execution {+}", "thread execution {*}", 1),
	}, {
		name:   "absent optional stream is kept",
		golden: "start\n[main] queued\n[w?] started\n[w?] done\nend\n",
		actual: []string{"start", "queued", "stopped", "end"},
		want:   "start\n[main] queued\n[w?] started\n[w?] done\nstopped\nend\n",
	}, {
		name:   "present optional stream is edited",
		golden: "start\n[main] queued\n[w?] started\n[w?] done\nend\n",
		actual: []string{"start", "queued", "started", "failed", "end"},
		want:   "start\n[main] queued\n[w?] started\n[w?] failed\nend\n",
	}, {
		name:   "escapes new lines",
		golden: "a\n",
		actual: []string{"a", "[  1.0] x", "size {3}", ""},
		want:   "a\n\\[  1.0] x\nsize \\{3}\n\\\n",
	}, {
		name:   "empty golden",
		golden: "",
		actual: []string{"a", "#b"},
		want:   "a\n\\#b\n",
	}, {
		name:   "nothing left",
		golden: "# header\na\n[s] b {+}\n",
		actual: nil,
		want:   "# header\n[s] b {*}\n",
	}}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			g := mustParse(t, "x.kmsg", test.golden)
			if g.Match(test.actual).OK {
				t.Fatalf("golden already accepts %q", test.actual)
			}
			got := string(g.Update(test.actual))
			if diff := cmp.Diff(test.want, got); diff != "" {
				t.Errorf("Update (-want +got):\n%s", diff)
			}
			if m := mustParse(t, "x.kmsg", got).Match(test.actual); !m.OK {
				t.Errorf("updated golden rejects the log: %s", m.Mismatch)
			}
		})
	}
}

func TestUpdateKeepsAnnotations(t *testing.T) {
	golden := `# Header explaining the step.

Inside kthread_init function
# init and thread race
[init] Created kthread
[thread] Initializing kthread work
[thread] Queue the work to worker
[thread] thread execution {+}

# the worker may be cancelled
[worker?] Inside work function
[worker?] my_data->i = 0
[worker?] my_data->i = 1
tick {2,4}
Exit
`
	g := mustParse(t, "x.kmsg", golden)
	actual := []string{
		"Inside kthread_init function", "Initializing kthread work", "Created kthread",
		"Queue the work to worker", "Inside work function", "thread execution",
		"my_data->i = 0", "thread execution", "my_data->i = 3",
		"tick", "tick", "tick", "Exit",
	}
	want := strings.Replace(golden, "[worker?] my_data->i = 1", "[worker?] my_data->i = 3", 1)
	if diff := cmp.Diff(want, string(g.Update(actual))); diff != "" {
		t.Errorf("Update (-want +got):\n%s", diff)
	}
}

func TestUpdateFallback(t *testing.T) {
	tests := []struct{ golden, want string }{
		{"# header\n\n# more\n[s] a\n# inside\nb\n", "# header\n\n# more\n\\[x]\ny\n"},
		{"[s] a\n# inside\nb\n", newHeader + "\\[x]\ny\n"},
	}
	for _, test := range tests {
		g := mustParse(t, "x.kmsg", test.golden)
		if got := string(g.rewrite([]string{"[x]", "y"})); got != test.want {
			t.Errorf("rewrite of %q = %q, want %q", test.golden, got, test.want)
		}
	}
}

func TestUpdateEveryLineChanged(t *testing.T) {
	// More edits in a row than the search allows for at once.
	var golden, actual []string
	for i := range 30 {
		golden = append(golden, "[s] old "+string(rune('a'+i%26)))
		actual = append(actual, "new "+string(rune('a'+i%26)))
	}
	g := mustParse(t, "x.kmsg", "# header\n"+strings.Join(golden, "\n")+"\n")
	got := string(g.Update(actual))
	if m := mustParse(t, "x.kmsg", got).Match(actual); !m.OK {
		t.Errorf("updated golden rejects the log: %s\n%s", m.Mismatch, got)
	}
	if !strings.HasPrefix(got, "# header\n") {
		t.Errorf("updated golden lost its header:\n%s", got)
	}
}

func TestUpdateAlwaysMatches(t *testing.T) {
	goldens := []string{kthreadGolden, "a\nb {2}\n[s] c\n[s] d {*}\n[t] e\nf\n", "[w?] tick {*}\n[w?] done\n", "x {2,3}\n"}
	logs := [][]string{
		nil,
		{"a"},
		{"x", "x", "x", "x", "x"},
		{"c", "d", "a", "e", "tick"},
		kthreadLines(2, 1, 1),
		replaceLine(kthreadLines(2, 1, 1), "Inside kthread_init function", "my_data->i = 2"),
		{"done", "tick", "done", "a", "b", "b", "b", "f"},
	}
	for _, golden := range goldens {
		g := mustParse(t, "x.kmsg", golden)
		for _, actual := range logs {
			updated := g.Update(actual)
			if m := mustParse(t, "x.kmsg", string(updated)).Match(actual); !m.OK {
				t.Errorf("golden %q updated for %q:\n%s\nrejects it: %s", golden, actual, updated, m.Mismatch)
			}
		}
	}
}

func TestNew(t *testing.T) {
	actual := []string{"Hello", "[  12.5] looks like a timestamp", "# not a comment", `\back`, "", "  ", "count {3}", `count \{3}`, "{*}", "trailing {+}", "Bye"}
	text := New(actual)
	g, err := Parse("new.kmsg", text)
	if err != nil {
		t.Fatalf("New wrote a file that does not parse: %v\n%s", err, text)
	}
	if m := g.Match(actual); !m.OK {
		t.Errorf("New wrote a file that rejects its log: %s\n%s", m.Mismatch, text)
	}
	header := strings.SplitAfterN(string(text), "\n", 3)
	if !strings.HasPrefix(header[0], "# ") || !strings.HasPrefix(header[1], "# ") || strings.HasPrefix(header[2], "#") {
		t.Errorf("New does not start with a two-line comment:\n%s", text)
	}
	if len(g.items) != len(actual) {
		t.Errorf("New wrote %d items for %d messages", len(g.items), len(actual))
	}
	if got := New(nil); string(got) != newHeader {
		t.Errorf("New(nil) = %q, want the header alone", got)
	}
}

// replaceLine returns lines with the first line equal to old replaced
// by with.
func replaceLine(lines []string, old string, with ...string) []string {
	for i, l := range lines {
		if l == old {
			out := append([]string(nil), lines[:i]...)
			out = append(out, with...)
			return append(out, lines[i+1:]...)
		}
	}
	panic("no line " + old)
}

// TestReviseEscapesQuantifierShape: a line whose message ends in a
// quantifier's shape before its quantifier (`size {3} {2}`, the message
// "size {3}" twice) revised to once is written `size \{3}`; written
// `size {3}` it read as "size" three times. An empty message twice, ` {2}`,
// revised to once is `\`, not a blank line, a comment (FuzzGoldenMatch).
func TestReviseEscapesQuantifierShape(t *testing.T) {
	for _, text := range []string{"size {3} {2}\n", "[s] size {3} {2,}\n", "size \\{3} {2}\n", " {2}\n", "   {2}\n", " {3} {2}\n"} {
		g, err := Parse("x.kmsg", []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		actual := []string{g.items[0].msg}
		revised := g.revise(actual)
		ng, err := Parse("x.kmsg", revised)
		if err != nil {
			t.Fatalf("%q revised to %q: %v", text, revised, err)
		}
		if m := ng.Match(actual); !m.OK {
			t.Errorf("%q revised for %q to %q, which rejects it: %s", text, actual, revised, m.Mismatch)
		}
	}
}
