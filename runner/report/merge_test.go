package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The fixtures in testdata/merge are the JSON reports of real runs of
// testdata/apichange/cases on 6.1.0-57-amd64 and 6.12.118+deb12-amd64
// (kmodcheck run -kernel 6.1 -kernel 6.12 -run-id 42 -json ...): all.json
// unsharded, shard1.json and shard2.json with -shard 1/2 and 2/2.
func readFixture(t *testing.T, name string) Input {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "merge", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := ReadJSON(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return Input{Name: name, Records: recs}
}

// Two shards merged give the table of one unsharded run, in every form.
func TestMergeShards(t *testing.T) {
	all := readFixture(t, "all.json")
	one, err := Merge([]Input{all})
	if err != nil {
		t.Fatal(err)
	}
	merged, err := Merge([]Input{readFixture(t, "shard2.json"), readFixture(t, "shard1.json")})
	if err != nil {
		t.Fatal(err)
	}
	want := NewTable(one.Pairs, one.Run.Kernels...)
	got := NewTable(merged.Pairs, merged.Run.Kernels...)
	if got.Text() != want.Text() || got.Markdown() != want.Markdown() {
		t.Errorf("merged shards:\n%s\none run:\n%s", got.Text(), want.Text())
	}
	// The table is the run's: three cases, both kernels, the failures on
	// 6.12 with their reasons.
	text := want.Text()
	for _, s := range []string{
		"CASE      6.1.0-57-amd64  6.12.118+deb12-amd64\n",
		"nollseek  PASS            FAIL\n",
		"nollseek on 6.12.118+deb12-amd64: step 1 `make`: nollseek.c:10:19: error: ‘no_llseek’ undeclared here (not in a function); did you mean ‘noop_llseek’? — no_llseek removed in 6.12;",
		"strlcpy on 6.12.118+deb12-amd64: step 1 `make`: strlcpy.c:10:9: error: implicit declaration of function ‘strlcpy’",
		"— strlcpy() removed in 6.8; instead: strscpy(",
		`banner on 6.12.118+deb12-amd64: step 3 ` + "`kmsg insmod`" + `: testdata/apichange/golden/banner/insmod.kmsg:4: want "banner: a kernel before 6.12", got "banner: a kernel of 6.12 or later" (kernel line 2)`,
	} {
		if !strings.Contains(text, s) {
			t.Errorf("the table lacks %q:\n%s", s, text)
		}
	}
	if merged.Run.Shard != "all" || len(merged.Pairs) != 6 {
		t.Errorf("merged: shard %q, %d pairs", merged.Run.Shard, len(merged.Pairs))
	}
}

// What Merge refuses, and that it says why.
func TestMergeRefuses(t *testing.T) {
	s1, s2, all := readFixture(t, "shard1.json"), readFixture(t, "shard2.json"), readFixture(t, "all.json")
	edit := func(in Input, name string, f func(*Record)) Input {
		out := Input{Name: name}
		for _, r := range in.Records {
			f(&r)
			out.Records = append(out.Records, r)
		}
		return out
	}
	run := func(f func(*Record)) func(*Record) {
		return func(r *Record) {
			if r.Type == "run" {
				f(r)
			}
		}
	}
	for _, test := range []struct {
		name   string
		inputs []Input
		want   string
	}{
		{"another run id", []Input{s1, edit(s2, "other.json", run(func(r *Record) { r.Run = "43" }))},
			"shard1.json and other.json are not shards of one run: run id 42, run id 43"},
		{"other kernels", []Input{s1, edit(s2, "other.json", run(func(r *Record) { r.Kernels = r.Kernels[:1] }))},
			"not shards of one run: kernels 6.1.0-57-amd64,6.12.118+deb12-amd64, kernels 6.1.0-57-amd64"},
		{"other cases", []Input{s1, edit(s2, "other.json", run(func(r *Record) { r.Cases = append(r.Cases, "zz") }))},
			"not shards of one run: cases banner,nollseek,strlcpy, cases banner,nollseek,strlcpy,zz"},
		{"other case files or goldens", []Input{s1, edit(s2, "other.json", run(func(r *Record) { r.Plan = "0000" }))},
			"not shards of one run: plan (digest of the case files and goldens)"},
		{"other shard count", []Input{s1, edit(s2, "other.json", run(func(r *Record) { r.Shard = "2/3" }))},
			"not shards of one run: shard 1/2, shard 2/3"},
		{"a shard twice", []Input{s1, edit(s1, "again.json", func(*Record) {})}, "shard1.json and again.json are both shard 1/2"},
		{"a shard missing", []Input{s1}, "shard 2/2 missing"},
		{"a sharded and an unsharded run", []Input{all, s1}, "not shards of one run: shard all, shard 1/2"},
		{"a pair in the wrong shard", []Input{edit(s2, "moved.json", run(func(r *Record) { r.Shard = "1/2" })), edit(s1, "s.json", run(func(r *Record) { r.Shard = "2/2" }))},
			"is not in its shard"},
		{"no run record", []Input{s1, {Name: "old.json", Records: s2.Records[1:]}}, "old.json: record 1 comes before any run record"},
		{"nothing", nil, "no report to merge"},
	} {
		t.Run(test.name, func(t *testing.T) {
			_, err := Merge(test.inputs)
			if err == nil || !strings.Contains(err.Error(), test.want) {
				t.Errorf("Merge: %v, want an error saying %q", err, test.want)
			}
		})
	}
	// One report with two run records is two parts: the same shard twice.
	twice := Input{Name: "cat.json", Records: append(append([]Record(nil), s1.Records...), s1.Records...)}
	if _, err := Merge([]Input{twice, s2}); err == nil || !strings.Contains(err.Error(), "cat.json and cat.json (its run record 2) are both shard 1/2") {
		t.Errorf("concatenated reports: %v", err)
	}
}
