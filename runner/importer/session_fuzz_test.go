package importer

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/kmodcheck/kmodcheck/runner/golden"
	"github.com/kmodcheck/kmodcheck/runner/script"
)

// FuzzImport parses a pasted session and builds its case: no panic; each
// step and span names lines of the session; the case's script is the
// archive's comment, one line per step; and every golden written parses and
// accepts the output it was written from (a dmesg's, timestamps stripped),
// so that an imported golden says what the session showed.
func FuzzImport(f *testing.F) {
	f.Add(session)
	f.Add("$ make\nmake -C /lib/modules/6.7.9/build M=/home/test/kthread_examples/ modules\n  CC [M]  /home/test/kthread_examples/kthread.o\n$ ls -l\ntotal 8\n-rw-rw-r-- 1 test test 169784 Mar 18 16:08 kthread.ko\n$ cd x\n$ echo '{N} {+}'\n[x] y\n\\\n#\n$")
	f.Add("make[1]: -C /lib/modules/6.7.9/build M=/w\n  • a bullet\n\n(venv) me@box:~$ sudo dmesg | tail\n[  1.0] \n[ 2.5] [x] {3}\nroot@h:~# lsmod | grep x\nroot@h:~# \r\n")
	f.Fuzz(func(t *testing.T, text string) {
		s := Parse(text)
		n := strings.Count(text, "\n") + 1
		for _, st := range s.Steps {
			if st.Line < 1 || st.Line > n || strings.Contains(st.Command, "\n") {
				t.Fatalf("step %+v: not a line of the session's %d", st, n)
			}
		}
		for _, sp := range s.Unplaced {
			if sp.First < 1 || sp.Last < sp.First || sp.Last > n {
				t.Fatalf("span %+v: not lines of the session's %d", sp, n)
			}
		}
		files := Build(s, Options{Name: "imp", Session: "s.txt"})
		a := txtar.Parse(files[0].Data)
		if len(a.Files) != 0 {
			t.Fatalf("the case's script reads as archive files %v:\n%s", a.Files, files[0].Data)
		}
		goldens := map[string]File{}
		for _, g := range files[1:] {
			if _, ok := goldens[filepath.Base(g.Path)]; ok {
				t.Fatalf("two goldens %s", g.Path)
			}
			goldens[filepath.Base(g.Path)] = g
		}
		for _, l := range strings.Split(string(a.Comment), "\n") {
			kind, name, ok := strings.Cut(l, " ")
			if !ok || kind != "out" && kind != "kmsg" {
				continue
			}
			// A terminal's output is read with out -terminal NAME.
			name = strings.TrimPrefix(name, "-terminal ")
			ext := script.OutputExt
			if kind == "kmsg" {
				ext = script.GoldenExt
			}
			g, ok := goldens[name+ext]
			if !ok {
				t.Fatalf("%q: no golden %s%s among %v", l, name, ext, files)
			}
			delete(goldens, name+ext)
			parsed, err := golden.Parse(g.Path, g.Data)
			if err != nil {
				t.Fatalf("%s does not parse: %v\n%s", g.Path, err, g.Data)
			}
			want := wantOutput(s, name, kind == "kmsg")
			if m := parsed.Match(want); !m.OK {
				t.Fatalf("%s rejects the session's output %q: %s\n%s", g.Path, want, m.Mismatch, g.Data)
			}
		}
		if len(goldens) > 0 {
			t.Fatalf("goldens no line of the case reads: %v", goldens)
		}
	})
}

// wantOutput is the output of the session's step whose golden is name, as
// Build writes it: the tutorial's directory $WORK, a dmesg's timestamps
// stripped.
func wantOutput(s Session, name string, dmesg bool) []string {
	b := &builder{s: s, used: map[string]int{}}
	for _, st := range s.Steps {
		out := b.work(st.Output)
		if len(out) == 0 && !st.Shown {
			continue
		}
		if b.name(toolOf(st.Command)) != name {
			continue
		}
		if dmesg {
			for i, l := range out {
				out[i] = golden.StripTimestamp(l)
			}
		}
		return slices.Clip(out)
	}
	return nil
}
