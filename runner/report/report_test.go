package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/golden"
	"github.com/kmodcheck/kmodcheck/runner/kmsg"
	"github.com/kmodcheck/kmodcheck/runner/script"
	"github.com/kmodcheck/kmodcheck/runner/target"
)

const (
	k61  = "6.1.0-56-amd64"
	k612 = "6.12.111+deb12-amd64"
)

const kmsgDiff = `diff golden/well_behaved/insmod.kmsg kernel
--- golden/well_behaved/insmod.kmsg
+++ kernel
@@ -1,1 +1,1 @@
-fine: loaded!
+fine: loaded
`

// A recordPart is what a helper adds to a case's record.
type recordPart func(*script.Record)

// record is a case's record made of parts, its steps numbered in order.
func record(parts ...recordPart) script.Record {
	var r script.Record
	for _, p := range parts {
		p(&r)
	}
	for i := range r.Steps {
		r.Steps[i].N = i + 1
	}
	return r
}

func boot(release string) recordPart {
	return func(r *script.Record) {
		r.Booting = true
		r.Boot = &target.Info{Target: "qemu", Release: release, Accel: "tcg", Boot: 11 * time.Second}
	}
}

func step(line, where string, exit int, stdout string, kernel ...string) recordPart {
	res := &target.Result{Step: target.Step{Line: line, Where: where}, Exit: exit, Stdout: []byte(stdout), Duration: 1200 * time.Millisecond}
	for i, k := range kernel {
		res.Log = append(res.Log, kmsg.Record{Seq: uint64(i), Level: 6, Text: k})
	}
	return func(r *script.Record) {
		r.Steps = append(r.Steps, script.Step{Kind: script.Command, Line: line, Where: where, Result: res})
	}
}

// started is a step that began and did not end.
func started(line, where string) recordPart {
	return func(r *script.Record) {
		r.Steps = append(r.Steps, script.Step{Kind: script.Command, Line: line, Where: where})
	}
}

func compare(name string, ok bool) recordPart {
	c := &script.Comparison{Golden: "golden/well_behaved/" + name + ".kmsg", OK: ok, Filtered: map[string]int{"taint": 2}, Waited: 300 * time.Millisecond}
	if !ok {
		c.Mismatch = `golden/well_behaved/insmod.kmsg:1: want "fine: loaded!", got "fine: loaded" (kernel line 1)`
		c.First = golden.Difference{Golden: "golden/well_behaved/insmod.kmsg", Line: 1, Want: "fine: loaded!", Got: "fine: loaded", At: 1}
		c.Diff = kmsgDiff
	}
	return func(r *script.Record) {
		r.Steps = append(r.Steps, script.Step{Kind: script.Compare, Line: "kmsg " + name, Compare: c})
	}
}

func failed(f *script.Failure) recordPart {
	return func(r *script.Record) { r.Failure = f }
}

// results is a run of three cases on two kernels with every outcome: a
// pass, a golden that did not match, a failed check after a step, what a
// case left behind, a kernel that did not boot, a skip.
func results() []script.Result {
	passing := record(boot(k61), step("make", target.OnBuild, 0, "LD [M] fine.ko\n"),
		step("insmod ./fine.ko", target.OnKernel, 0, "", "fine: loaded"), compare("insmod", true))
	return []script.Result{
		{
			Case: "well_behaved", File: "cases/well_behaved.txtar", Kernel: k61, Status: "PASS", Duration: 15 * time.Second,
			Log: "# a fine module (15.0s)\nPASS\n", Record: passing,
		},
		{
			Case: "well_behaved", File: "cases/well_behaved.txtar", Kernel: k612, Status: "FAIL", Duration: 20 * time.Second,
			Dir: "/out/" + k612 + "/well_behaved",
			Log: "> insmod ./fine.ko\n[kernel] fine: loading out-of-tree module taints kernel.\n[kernel] fine: loaded\n" +
				"> kmsg insmod\n[kmsg filter taint] fine: loading out-of-tree module taints kernel.\n" +
				"FAIL: cases/well_behaved.txtar:5: kmsg insmod: kernel log differs from golden/well_behaved/insmod.kmsg\n" +
				`golden/well_behaved/insmod.kmsg:1: want "fine: loaded!", got "fine: loaded" (kernel line 1)` + "\n" + kmsgDiff,
			Record: record(boot(k612), step("make", target.OnBuild, 0, ""),
				step("insmod ./fine.ko", target.OnKernel, 0, "", "fine: loading out-of-tree module taints kernel.", "fine: loaded"),
				compare("insmod", false),
				failed(&script.Failure{Kind: script.FailKmsg, File: "cases/well_behaved.txtar", Line: 5, Step: 3, Command: "kmsg insmod",
					Message: "kernel log differs from golden/well_behaved/insmod.kmsg",
					Detail:  `golden/well_behaved/insmod.kmsg:1: want "fine: loaded!", got "fine: loaded" (kernel line 1)` + "\n" + kmsgDiff})),
		},
		{
			Case: "ps_check", File: "cases/ps_check.txtar", Kernel: k61, Status: "FAIL", Duration: 9 * time.Second,
			// A control character a module printed: the XML must still parse.
			Log: "> ps -N | grep kthread\n[stdout]\n  42 ?  00:00:00 kthread sample\x1b[0m\x00\n" +
				"FAIL: cases/ps_check.txtar:7: no match for `kthread example$` found in stdout\n",
			Record: record(boot(k61), step("ps -N | grep kthread", target.OnKernel, 0, "  42 ?  00:00:00 kthread sample\n"),
				failed(&script.Failure{Kind: script.FailStep, File: "cases/ps_check.txtar", Line: 7, Step: 1, Command: "ps -N | grep kthread",
					Message: "`stdout 'kthread example$'` failed"})),
		},
		{
			Case: "ps_check", File: "cases/ps_check.txtar", Kernel: k612, Status: "FAIL", Duration: 12 * time.Second,
			Log: "> rmmod kthread\n[kernel] bye\nFAIL: at the end of the case:\n    module leftloaded is still loaded\n",
			Record: record(boot(k612), step("rmmod kthread", target.OnKernel, 0, "", "bye"),
				failed(&script.Failure{Kind: script.FailEndOfCase, File: "cases/ps_check.txtar", Message: "at the end of the case",
					Detail: "    module leftloaded is still loaded"})),
		},
		{
			Case: "zz_noboot", File: "cases/zz_noboot.txtar", Kernel: k61, Status: "FAIL", Duration: 2 * time.Second,
			Log: "> make\nFAIL: cases/zz_noboot.txtar:1: start qemu target: qemu-system-x86_64 exited\n",
			Record: script.Record{Booting: true, BootErr: errors.New("qemu-system-x86_64 exited"),
				Failure: &script.Failure{Kind: script.FailSetup, File: "cases/zz_noboot.txtar", Line: 1, Message: "start qemu target: qemu-system-x86_64 exited"}},
		},
		{
			Case: "zz_noboot", File: "cases/zz_noboot.txtar", Kernel: k612, Status: "SKIP", Duration: time.Millisecond,
			Log: "needs 7.0\n> [!kernel>=7.0] skip 'needs 7.0'\n", SkipReason: "needs 7.0",
		},
	}
}

// The JUnit XML as a CI system reads it: a separate, minimal schema, so
// that the test checks the document rather than the types that wrote it.
type xSuites struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Skipped  int      `xml:"skipped,attr"`
	Time     float64  `xml:"time,attr"`
	Suites   []xSuite `xml:"testsuite"`
}

type xSuite struct {
	Name     string  `xml:"name,attr"`
	Tests    int     `xml:"tests,attr"`
	Failures int     `xml:"failures,attr"`
	Errors   int     `xml:"errors,attr"`
	Skipped  int     `xml:"skipped,attr"`
	Time     float64 `xml:"time,attr"`
	Props    []struct {
		Name  string `xml:"name,attr"`
		Value string `xml:"value,attr"`
	} `xml:"properties>property"`
	Cases []xCase `xml:"testcase"`
}

type xCase struct {
	Name      string  `xml:"name,attr"`
	Classname string  `xml:"classname,attr"`
	Time      float64 `xml:"time,attr"`
	File      string  `xml:"file,attr"`
	Line      int     `xml:"line,attr"`
	Failure   *struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
		Text    string `xml:",chardata"`
	} `xml:"failure"`
	Error *struct {
		Message string `xml:"message,attr"`
		Text    string `xml:",chardata"`
	} `xml:"error"`
	Skipped *struct {
		Message string `xml:"message,attr"`
	} `xml:"skipped"`
	SystemOut string `xml:"system-out"`
}

func TestJUnit(t *testing.T) {
	rs := results()
	var buf bytes.Buffer
	started := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	if err := WriteJUnit(&buf, JUnit(rs, 70*time.Second, started)); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), `<?xml version="1.0" encoding="UTF-8"?>`) {
		t.Errorf("no XML declaration:\n%s", buf.String())
	}
	var doc xSuites
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("the JUnit XML does not parse: %v\n%s", err, buf.String())
	}

	// A testsuite per kernel, a testcase per case × kernel, each named so
	// that both show.
	if len(doc.Suites) != 2 || doc.Suites[0].Name != k61 || doc.Suites[1].Name != k612 {
		t.Fatalf("testsuites %+v, want one per kernel", doc.Suites)
	}
	seen := map[string]bool{}
	var tests, failures, errs, skipped int
	for _, s := range doc.Suites {
		if s.Tests != len(s.Cases) {
			t.Errorf("suite %s: tests=%d, %d testcases", s.Name, s.Tests, len(s.Cases))
		}
		var f, e, sk int
		var sum float64
		for _, c := range s.Cases {
			seen[c.Name] = true
			sum += c.Time
			if !strings.Contains(c.Name, "["+s.Name+"]") || !strings.HasPrefix(c.Classname, "kmodcheck.") ||
				!strings.HasPrefix(c.Name, strings.TrimPrefix(c.Classname, "kmodcheck.")+" ") {
				t.Errorf("testcase %q (classname %q) does not name both its case and kernel %s", c.Name, c.Classname, s.Name)
			}
			if c.File == "" || c.SystemOut == "" {
				t.Errorf("testcase %q: file %q, system-out %q", c.Name, c.File, c.SystemOut)
			}
			if c.Failure != nil {
				f++
				if c.Failure.Message == "" || c.Failure.Type == "" || c.Failure.Text == "" {
					t.Errorf("testcase %q: failure without message, type or text: %+v", c.Name, c.Failure)
				}
			}
			if c.Error != nil {
				e++
				if c.Error.Message == "" {
					t.Errorf("testcase %q: error without message", c.Name)
				}
			}
			if c.Skipped != nil {
				sk++
			}
		}
		if s.Failures != f || s.Errors != e || s.Skipped != sk {
			t.Errorf("suite %s: failures=%d errors=%d skipped=%d; its testcases have %d, %d, %d", s.Name, s.Failures, s.Errors, s.Skipped, f, e, sk)
		}
		if d := s.Time - sum; d > 0.01 || d < -0.01 {
			t.Errorf("suite %s: time %.3f, its testcases' %.3f", s.Name, s.Time, sum)
		}
		tests, failures, errs, skipped = tests+s.Tests, failures+f, errs+e, skipped+sk
	}
	if doc.Tests != tests || doc.Failures != failures || doc.Errors != errs || doc.Skipped != skipped {
		t.Errorf("testsuites: tests=%d failures=%d errors=%d skipped=%d; its suites add up to %d, %d, %d, %d",
			doc.Tests, doc.Failures, doc.Errors, doc.Skipped, tests, failures, errs, skipped)
	}
	if tests != len(rs) || failures != 3 || errs != 1 || skipped != 1 {
		t.Errorf("tests=%d failures=%d errors=%d skipped=%d, want %d, 3, 1, 1", tests, failures, errs, skipped, len(rs))
	}
	for _, r := range rs {
		if name := r.Case + " [" + r.Kernel + "]"; !seen[name] {
			t.Errorf("no testcase %q", name)
		}
	}

	c := find(t, doc, "well_behaved ["+k612+"]")
	if c.Failure == nil || c.Failure.Type != "kmsg" || c.Line != 5 || c.File != "cases/well_behaved.txtar" {
		t.Fatalf("the kmsg failure: %+v, line %d", c.Failure, c.Line)
	}
	if want := "cases/well_behaved.txtar:5: kmsg insmod: kernel log differs from golden/well_behaved/insmod.kmsg" +
		` — golden/well_behaved/insmod.kmsg:1: want "fine: loaded!", got "fine: loaded" (kernel line 1)`; c.Failure.Message != want {
		t.Errorf("failure message %q, want the FAIL line and the first differing line %q", c.Failure.Message, want)
	}
	for _, want := range []string{kmsgDiff, "kernel messages (the last 2 before the failure):\n    fine: loading out-of-tree module taints kernel.\n    fine: loaded\n", "artifacts: /out/" + k612 + "/well_behaved"} {
		if !strings.Contains(c.Failure.Text, want) {
			t.Errorf("the kmsg failure's text lacks %q:\n%s", want, c.Failure.Text)
		}
	}
	if !strings.Contains(c.SystemOut, "> kmsg insmod\n") {
		t.Errorf("system-out is not the transcript:\n%s", c.SystemOut)
	}
	c = find(t, doc, "ps_check ["+k61+"]")
	if c.Failure == nil || c.Failure.Type != "step" || !strings.Contains(c.SystemOut, "kthread sample\uFFFD[0m\uFFFD") {
		t.Errorf("the check failure: %+v; system-out %q", c.Failure, c.SystemOut)
	}
	c = find(t, doc, "ps_check ["+k612+"]")
	if c.Failure == nil || c.Failure.Type != "end-of-case" || c.Failure.Message != "at the end of the case: module leftloaded is still loaded" ||
		!strings.Contains(c.Failure.Text, "module leftloaded is still loaded") || !strings.Contains(c.Failure.Text, "    bye\n") {
		t.Errorf("the end-of-case failure: %+v", c.Failure)
	}
	c = find(t, doc, "zz_noboot ["+k61+"]")
	if c.Error == nil || c.Failure != nil || !strings.Contains(c.Error.Message, "start qemu target") {
		t.Errorf("the boot error: %+v %+v", c.Error, c.Failure)
	}
	c = find(t, doc, "zz_noboot ["+k612+"]")
	if c.Skipped == nil || c.Skipped.Message != "needs 7.0" {
		t.Errorf("the skip: %+v", c.Skipped)
	}
	if p := doc.Suites[0].Props; len(p) != 2 || p[1].Name != "accel" || p[1].Value != "tcg" {
		t.Errorf("properties %+v", p)
	}
}

func find(t *testing.T, doc xSuites, name string) xCase {
	t.Helper()
	for _, s := range doc.Suites {
		for _, c := range s.Cases {
			if c.Name == name {
				return c
			}
		}
	}
	t.Fatalf("no testcase %q", name)
	return xCase{}
}

func TestJSON(t *testing.T) {
	rs := results()
	var buf bytes.Buffer
	var want []Record
	for _, r := range rs {
		if err := WriteJSON(&buf, r); err != nil {
			t.Fatal(err)
		}
		want = append(want, Records(r)...)
	}
	// One JSON object per line.
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d lines, %d records", len(lines), len(want))
	}
	for _, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Errorf("not a JSON object: %s", l)
		}
	}
	got, err := ReadJSON(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
	}

	// Per case × kernel: its steps in order, then the case.
	type pair struct{ c, k string }
	steps := map[pair][]Record{}
	cases := map[pair]Record{}
	for _, r := range got {
		p := pair{r.Case, r.Kernel}
		if _, done := cases[p]; done {
			t.Errorf("%v: a record after its case record: %+v", p, r)
		}
		switch r.Type {
		case "step":
			if r.Step != len(steps[p])+1 {
				t.Errorf("%v: step %d after %d steps", p, r.Step, len(steps[p]))
			}
			steps[p] = append(steps[p], r)
		case "case":
			cases[p] = r
		default:
			t.Errorf("record of type %q", r.Type)
		}
	}
	if len(cases) != len(rs) {
		t.Errorf("%d case records for %d results", len(cases), len(rs))
	}
	for _, r := range rs {
		c := cases[pair{r.Case, r.Kernel}]
		if c.Status != r.Status || c.Duration != r.Duration.Seconds() || c.File != r.File {
			t.Errorf("case record %+v for %s on %s (%s, %v)", c, r.Case, r.Kernel, r.Status, r.Duration)
		}
	}

	ok := steps[pair{"well_behaved", k61}]
	if len(ok) != 3 {
		t.Fatalf("passing case: %d step records, want make, insmod, kmsg: %+v", len(ok), ok)
	}
	if s := ok[1]; s.Kind != "command" || s.Command != "insmod ./fine.ko" || s.Where != "kernel" || s.Exit == nil || *s.Exit != 0 ||
		s.Outcome != "pass" || s.Duration != 1.2 || !reflect.DeepEqual(s.KernelLog, []string{"fine: loaded"}) {
		t.Errorf("insmod record %+v", s)
	}
	if s := ok[2]; s.Kind != "kmsg" || s.Command != "kmsg insmod" || s.Golden != "golden/well_behaved/insmod.kmsg" || s.Exit != nil ||
		s.Outcome != "pass" || s.Filtered["taint"] != 2 || s.Duration != 0.3 {
		t.Errorf("kmsg record %+v", s)
	}
	if c := cases[pair{"well_behaved", k61}]; c.Accel != "tcg" || c.Boot != 11 || c.Failure != "" {
		t.Errorf("passing case record %+v", c)
	}

	bad := steps[pair{"well_behaved", k612}]
	last := bad[len(bad)-1]
	if last.Kind != "kmsg" || last.Outcome != "fail" || last.Diff != kmsgDiff || !strings.Contains(last.Mismatch, `want "fine: loaded!"`) {
		t.Errorf("failing kmsg record %+v", last)
	}
	for _, s := range bad[:len(bad)-1] {
		if s.Outcome != "pass" {
			t.Errorf("a step before the failing one: %+v", s)
		}
	}
	if c := cases[pair{"well_behaved", k612}]; c.Status != "FAIL" || !strings.HasPrefix(c.Failure, "cases/well_behaved.txtar:5: kmsg insmod:") || c.Dir == "" {
		t.Errorf("failing case record %+v", c)
	}
	// A check of a step's output failed: that step is the failing one.
	if s := steps[pair{"ps_check", k61}]; len(s) != 1 || s[0].Outcome != "fail" || s[0].Stdout == "" {
		t.Errorf("step whose output check failed: %+v", s)
	}
	// What a case left behind is no step's failure.
	if s := steps[pair{"ps_check", k612}]; len(s) != 1 || s[0].Outcome != "pass" {
		t.Errorf("last step of a case failing at its end: %+v", s)
	}
	if c := cases[pair{"ps_check", k612}]; c.Failure != "at the end of the case" {
		t.Errorf("end-of-case failure %q", c.Failure)
	}
}

func TestMarkdown(t *testing.T) {
	rs := results()
	md := Markdown(rs, 70*time.Second, "kmodcheck (shard 1/2)")
	for _, want := range []string{
		"### kmodcheck (shard 1/2): FAIL\n",
		"1 passed, 4 failed, 1 skipped in 70.0s\n",
		"| case | " + k61 + " | " + k612 + " |\n|---|---|---|\n",
		"| `well_behaved` | ✅ PASS | ❌ FAIL |\n",
		"| `zz_noboot` | ❌ FAIL | ⏭️ SKIP |\n",
		"<details><summary>❌ <code>well_behaved</code> on <code>" + k612 + "</code>: cases/well_behaved.txtar:5: kmsg insmod",
		"```\nFAIL: cases/well_behaved.txtar:5:",
		"-fine: loaded!\n+fine: loaded\n```\n",
		"Artifacts: `/out/" + k612 + "/well_behaved`",
		"```\nFAIL: cases/ps_check.txtar:7: ps -N | grep kthread: `stdout 'kthread example$'` failed\n```",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	// A fence in the text gets a longer fence around it.
	if f := codeFence("a ```go\nb\n```\n"); f != "````" {
		t.Errorf("fence %q around a fence", f)
	}
	if n := strings.Count(md, "<details>"); n != 4 || strings.Count(md, "</details>") != 4 {
		t.Errorf("%d failures folded, want 4", n)
	}

	// Appended to $GITHUB_STEP_SUMMARY, when it is set, after what other
	// steps wrote.
	path := filepath.Join(t.TempDir(), "summary.md")
	if err := os.WriteFile(path, []byte("earlier step\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GITHUB_STEP_SUMMARY", path)
	if err := AppendStepSummary(rs, time.Minute, "kmodcheck"); err != nil {
		t.Fatal(err)
	}
	if err := AppendStepSummary(rs[:1], time.Second, "kmodcheck"); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(data), "earlier step\n### kmodcheck: FAIL\n") || !strings.Contains(string(data), "### kmodcheck: ok\n") {
		t.Errorf("step summary:\n%s", data)
	}
	t.Setenv("GITHUB_STEP_SUMMARY", "")
	if err := AppendStepSummary(rs, time.Minute, "kmodcheck"); err != nil {
		t.Errorf("without GITHUB_STEP_SUMMARY: %v", err)
	}
}

// notices are those a case that did what rec says gave as it ran.
func notices(name string, rec script.Record) []script.Notice {
	ns := []script.Notice{{Case: name, Kind: script.Booting}, {Case: name, Kind: script.Booted, Boot: rec.Boot, BootErr: rec.BootErr}}
	for _, s := range rec.Steps {
		ns = append(ns, script.Notice{Case: name, Kind: script.StepStarted, Step: s}, script.Notice{Case: name, Kind: script.StepDone, Step: s})
	}
	return ns
}

func TestPlain(t *testing.T) {
	var buf bytes.Buffer
	p := NewPlain(&buf, false)
	r := results()[1]
	p.Start(r.Case, r.Kernel)
	for _, n := range notices(r.Case, r.Record) {
		p.Notice(r.Kernel, n)
	}
	// An out comparison is a step's output, not the kernel's log.
	p.Notice(r.Kernel, script.Notice{Case: r.Case, Kind: script.StepDone, Step: script.Step{Kind: script.Compare, Line: "out lsmod",
		Compare: &script.Comparison{Golden: "golden/well_behaved/lsmod.out", OK: true}}})
	// A step the run's stop cut short has no exit status to show.
	cut := &target.Result{Step: target.Step{Line: "rmmod fine"}, Duration: 300 * time.Millisecond}
	p.Notice(r.Kernel, script.Notice{Case: r.Case, Kind: script.StepDone, Step: script.Step{Kind: script.Command, Line: "rmmod fine",
		Result: cut, Err: errors.New("run: no answer from the guest: interrupted by SIGINT")}})
	p.Done(r)
	p.Close()
	want := `=== RUN   well_behaved [` + k612 + `]
=== BOOT  well_behaved [` + k612 + `] booting
=== BOOT  well_behaved [` + k612 + `] ready in 11.0s (tcg)
=== STEP  well_behaved [` + k612 + `] make: exit 0 (1.2s)
=== STEP  well_behaved [` + k612 + `] insmod ./fine.ko: exit 0 (1.2s)
=== KMSG  well_behaved [` + k612 + `] kmsg insmod: mismatch (0.3s): golden/well_behaved/insmod.kmsg:1: want "fine: loaded!", got "fine: loaded" (kernel line 1)
=== OUT   well_behaved [` + k612 + `] out lsmod: ok (0.0s)
=== STEP  well_behaved [` + k612 + `] rmmod fine: run: no answer from the guest: interrupted by SIGINT (0.3s)
FAIL	well_behaved [` + k612 + ` tcg]	20.0s
    > insmod ./fine.ko
`
	if !strings.HasPrefix(buf.String(), want) {
		t.Errorf("plain progress:\n%s\nwant it to start with\n%s", buf.String(), want)
	}
	if strings.Contains(buf.String(), "\x1b") {
		t.Errorf("plain progress has escape sequences:\n%q", buf.String())
	}
}

// TestLive checks what a terminal shows while two cases run at once: a
// line per running case with its stage and times, redrawn in place under
// the outcome lines, gone when the run ends.
func TestLive(t *testing.T) {
	var raw bytes.Buffer
	screen := &Screen{Width: 100}
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := NewLive(&raw, func() (int, int) { return 100, 30 }, 3, false, 0)
	l.now = func() time.Time { return clock }
	l.start = clock
	tick := func(d time.Duration) { clock = clock.Add(d) }
	show := func() []string {
		l.refresh()
		screen.Write(raw.Bytes())
		raw.Reset()
		return screen.Lines()
	}
	ev := func(name, kernel string, n script.Notice) {
		n.Case = name
		l.Notice(kernel, n)
	}
	rs := results()

	l.Start("well_behaved", k61)
	tick(time.Second)
	ev("well_behaved", k61, script.Notice{Kind: script.Booting})
	l.Start("well_behaved", k612)
	ev("well_behaved", k612, script.Notice{Kind: script.Booting})
	tick(12 * time.Second)
	l.Notice(k61, notices("x", record(boot(k61)))[1]) // Case "x": not running, ignored
	ev("well_behaved", k61, script.Notice{Kind: script.StepStarted, Step: script.Step{N: 1, Kind: script.Command, Line: "make", Where: target.OnBuild}})
	tick(500 * time.Millisecond)
	want := []string{
		"  well_behaved [" + k61 + "]         13.5s  building: make 0.5s",
		"  well_behaved [" + k612 + "]   12.5s  booting 12.5s",
		"0/3 done | 2 running | 1 waiting | 13.5s",
	}
	if got := show(); !reflect.DeepEqual(got, want) {
		t.Fatalf("screen:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Built while it booted, the case waits for its kernel: booting again,
	// the time counted from the boot's start.
	mk := script.Step{N: 1, Kind: script.Command, Line: "make", Where: target.OnBuild, Result: &target.Result{Step: target.Step{Line: "make", Where: target.OnBuild}}}
	ev("well_behaved", k61, script.Notice{Kind: script.StepDone, Step: mk})
	ev("well_behaved", k61, script.Notice{Kind: script.Awaiting})
	if got := show(); got[0] != "  well_behaved ["+k61+"]         13.5s  booting 12.5s" {
		t.Fatalf("screen while the built case waits for its kernel:\n%s", strings.Join(got, "\n"))
	}

	st := script.Step{N: 2, Kind: script.Command, Line: "insmod ./fine.ko", Where: target.OnKernel}
	ev("well_behaved", k61, script.Notice{Kind: script.StepStarted, Step: st})
	ev("well_behaved", k612, script.Notice{Kind: script.StepStarted, Step: script.Step{N: 3, Kind: script.Compare, Line: "kmsg insmod"}})
	tick(2 * time.Second)
	l.Done(rs[1]) // the redraw: the block moves down under the outcome
	got := show()
	if len(got) < 4 || got[0] != "FAIL    well_behaved ["+k612+" tcg] 20.0s" ||
		got[len(got)-2] != "  well_behaved ["+k61+"]   15.5s  running: insmod ./fine.ko 2.0s" ||
		got[len(got)-1] != "1/3 done, 1 failed | 1 running | 1 waiting | 15.5s" {
		t.Fatalf("screen after a failure:\n%s", strings.Join(got, "\n"))
	}
	above := len(got) - 2
	for _, s := range got[:above] {
		if strings.Contains(s, "booting") || strings.Contains(s, "running") {
			t.Errorf("a stale progress line stayed on the screen: %q", s)
		}
	}

	// The block is redrawn in place: the same rows, new text.
	st.Result = &target.Result{Step: target.Step{Line: st.Line, Where: st.Where}, Exit: 0}
	ev("well_behaved", k61, script.Notice{Kind: script.StepDone, Step: st})
	got2 := show()
	if len(got2) != len(got) || !reflect.DeepEqual(got2[:above], got[:above]) ||
		got2[above] != "  well_behaved ["+k61+"]   15.5s  ran: insmod ./fine.ko (exit 0)" {
		t.Fatalf("screen after a step:\n%s\nbefore:\n%s", strings.Join(got2, "\n"), strings.Join(got, "\n"))
	}

	// A narrow terminal: lines are cut, never wrapped.
	l.size = func() (int, int) { return 40, 30 }
	l.Notice(k61, script.Notice{Case: "well_behaved", Kind: script.StepStarted, Step: script.Step{N: 3, Kind: script.Compare, Line: "kmsg insmod"}})
	for _, s := range show()[above:] {
		if len(s) > 39 {
			t.Errorf("a line wider than the terminal: %q", s)
		}
	}
	l.size = func() (int, int) { return 100, 30 }

	l.Done(rs[0])
	l.Close()
	final := show()
	if len(final) != above+1 || !regexp.MustCompile(`^PASS\s+well_behaved \[`+regexp.QuoteMeta(k61)+` tcg\]\s+15\.0s$`).MatchString(final[above]) {
		t.Errorf("final screen:\n%s", strings.Join(final, "\n"))
	}
	for _, s := range final {
		if regexp.MustCompile(`done \||running|booting`).MatchString(s) {
			t.Errorf("progress left on the screen: %q", s)
		}
	}
	l.Close() // twice is harmless
}

func TestScreen(t *testing.T) {
	s := &Screen{Width: 10}
	s.Write([]byte("one\ntwo\nthree\n\x1b[2A\x1b[Jfour\x1b[K\n\tx\n0123456789ab\r\x1b[1Az"))
	want := "one\nfour\n        x\nz123456789\nab\n"
	if s.String() != want {
		t.Errorf("screen %q, want %q", s.String(), want)
	}
}
