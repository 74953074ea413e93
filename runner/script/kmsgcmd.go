package script

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/kmodcheck/kmodcheck/runner/golden"
	"github.com/kmodcheck/kmodcheck/runner/kmsg"
)

// GoldenExt is the extension of kernel-log golden files.
const GoldenExt = ".kmsg"

// kmsgPoll is how often kmsg asks the kernel for more lines while waiting.
const kmsgPoll = 100 * time.Millisecond

// updateSettle is how long the golden an update would write must stay the
// same before it is written: new lines that its repeat items absorb do not
// change it, a module still printing its sequence does.
const updateSettle = 2 * time.Second

// kmsgCmd compares the kernel messages since the last kmsg command (or the
// case's start) with a golden file. It waits, up to its timeout, while the
// messages may still come to fit: a module's threads keep printing after
// the step that started them returned. It passes when all of them fit, or
// when a stretch from the start fits and the rest never can; the rest is
// left for the next kmsg, and fails the case if none takes it (see
// leftover), unless -more says the log may go on.
func (cfg *Config) kmsgCmd(ts *testscript.TestScript, neg bool, args []string) {
	a := cfg.kmsgArgs(ts, neg, args)
	gf := loadGolden(ts, "kmsg", a.path, a.updatePath, golden.Parse)
	if gf.missing && !cfg.Update {
		st := ts.Value(stateKey{}).(*caseState)
		st.count("kmsg " + a.name) // the step that fails, numbered where every step is
		cfg.fail(ts, st, st.stepFailure(FailKmsg, "kmsg "+a.name,
			fmt.Sprintf("golden file %s does not exist; run with -update to create it from this run's kernel log", a.path)))
	}
	var up kmsgUpdate
	if cfg.Update {
		up = cfg.updateBase(ts, gf)
	}

	st := cfg.session(ts)
	cfg.kernel(ts, st)
	st.leftover = nil // this kmsg compares what the last one left
	line := strings.Join(append([]string{"kmsg"}, args...), " ")
	st.count(line)
	cfg.begin(ts.Name(), st, Compare, line, "")
	norm := kmsg.Normalizer{Work: st.work}
	began := time.Now()
	r := cfg.readLog(ts, st, a, gf.parsed, norm, began.Add(a.timeout), up)

	cmp := &Comparison{Golden: a.path, Waited: time.Since(began)}
	cmp.Filtered = logFiltered(ts, r.dropped, norm)
	window := cfg.take(ts, st, a, gf, r, cmp)
	switch {
	case cfg.Update:
		cfg.updateKmsg(ts, st, a.name, gf, up, window, cmp)
	case !cmp.OK:
		cmp.Mismatch, cmp.First, cmp.Diff = r.m.Mismatch, r.m.First, r.m.Diff(a.path)
		cfg.compared(ts.Name(), st, cmp)
		cfg.fail(ts, st, Failure{Kind: FailKmsg, Step: st.steps, Command: "kmsg " + a.name,
			Message: "kernel log differs from " + a.path, Detail: r.m.Mismatch + "\n" + r.m.Diff(a.path)})
		return
	}
	cfg.compared(ts.Name(), st, cmp)
}

// kmsgArgs are a kmsg command's flags and golden.
type kmsgArgs struct {
	name             string        // the golden's name
	path, updatePath string        // where the golden is read, and written by -update
	timeout          time.Duration // how long to wait for the golden's lines
	filters          []kmsg.Filter // the filters applied
	more             bool          // the log may go on after the golden's lines
}

func (cfg *Config) kmsgArgs(ts *testscript.TestScript, neg bool, args []string) kmsgArgs {
	a, err := cfg.parseKmsgArgs(neg, args)
	if err != nil {
		ts.Fatalf("%v", err)
	}
	a.path, a.updatePath = cfg.goldenFor(ts.Name(), a.name, cfg.Target.Release())
	return a
}

// parseKmsgArgs parses a kmsg command's flags and name, for the command and
// for Check.
func (cfg *Config) parseKmsgArgs(neg bool, args []string) (kmsgArgs, error) {
	fset := flag.NewFlagSet("kmsg", flag.ContinueOnError)
	wait := fset.Duration("timeout", cfg.kmsgTimeout(), "how long to wait for the golden's lines")
	keep := fset.String("keep", "", "comma-separated named filters not to apply")
	more := fset.Bool("more", false, "the log may go on: lines after the golden's that no later kmsg takes are not a failure")
	fset.SetOutput(io.Discard)
	const usage = "usage: kmsg [-timeout d] [-keep filter,...] [-more] name"
	if err := fset.Parse(args); err != nil {
		return kmsgArgs{}, fmt.Errorf("kmsg: %v (%s)", err, usage)
	}
	if fset.NArg() != 1 || neg {
		return kmsgArgs{}, fmt.Errorf("%s", usage)
	}
	a := kmsgArgs{name: fset.Arg(0), timeout: *wait, more: *more}
	var err error
	if a.filters, err = selectFilters(*keep); err != nil {
		return kmsgArgs{}, fmt.Errorf("kmsg: %v", err)
	}
	return a, nil
}

// A kmsgUpdate is what -update rewrites: the golden as it was before the
// first of -count runs (nil if none), its text, and the earlier runs'
// lines, so that the rewrite accepts every run's.
type kmsgUpdate struct {
	base     *golden.Golden
	original []byte
	before   []golden.Run
}

func (cfg *Config) updateBase(ts *testscript.TestScript, gf goldenFile) kmsgUpdate {
	var up kmsgUpdate
	if !gf.missing {
		up.original = gf.data
	}
	if up.original, up.before = cfg.UpdateRuns.previous(gf.updatePath, up.original); up.original != nil {
		var err error
		if up.base, err = golden.Parse(gf.path, up.original); err != nil {
			ts.Fatalf("%v", err)
		}
	}
	return up
}

// A logRead is what a kmsg read of the log found, and how it compared.
type logRead struct {
	kept    []kmsg.Record
	dropped map[string][]kmsg.Record // by filter
	lines   []golden.Line            // kept's texts, normalised, with the threads that printed them
	m       golden.Match             // zero without a golden
}

// readLog reads the log from st.next until the comparison with want (nil
// if the golden is missing) is done or the deadline passes. Done is when
// the whole log so far fits, or when it cannot fit whatever comes: then its
// accepted prefix is the window and the rest is the next kmsg's. While it
// may still fit, it waits: a thread may be in the middle of what the golden
// wants. An update waits instead for its rewrite to stop changing, whatever
// the old golden takes: the rewritten golden must see everything the
// module prints, and one cut short must not cut the window.
func (cfg *Config) readLog(ts *testscript.TestScript, st *caseState, a kmsgArgs, want *golden.Golden, norm kmsg.Normalizer, deadline time.Time, up kmsgUpdate) logRead {
	var (
		r           logRead
		candidate   []byte
		stableSince time.Time
	)
	for {
		recs, err := st.session.Log(st.ctx, st.next)
		if err != nil {
			ts.Fatalf("kmsg %s: %v", a.name, err)
		}
		r.kept, r.dropped = kmsg.Apply(a.filters, recs)
		texts := make([]string, len(r.kept))
		for i, rec := range r.kept {
			texts[i] = norm.Line(rec.Text)
		}
		r.lines = kmsg.Lines(r.kept, texts)
		now := time.Now()
		if want != nil {
			r.m = want.MatchLines(r.lines)
			if !cfg.Update && (accepted(r.m) || !r.m.Alive) {
				break
			}
		}
		if now.After(deadline) {
			break
		}
		if cfg.Update {
			next := rewrite(up.base, append(up.before, golden.Run{Lines: r.lines, Before: st.taken}))
			if !bytes.Equal(next, candidate) {
				candidate, stableSince = next, now
			} else if now.Sub(stableSince) >= updateSettle {
				break
			}
		}
		time.Sleep(kmsgPoll)
	}
	return r
}

// take decides whether the golden takes what r read, sets cmp.OK and
// moves the case's place in the log past what it took; it returns the
// window of lines this kmsg compared. An update takes every line printed
// until its rewrite settled: a golden cut short (a tutorial's dmesg pasted
// part way through a thread's count) leaves none of them to the next kmsg.
func (cfg *Config) take(ts *testscript.TestScript, st *caseState, a kmsgArgs, gf goldenFile, r logRead, cmp *Comparison) []golden.Line {
	m := r.m
	cmp.OK = gf.parsed != nil && (m.OK || !cfg.Update && accepted(m)) && equalAligned(gf.parsed, r.lines[:m.Accepted])
	if !cmp.OK {
		if len(r.kept) > 0 {
			st.next = r.kept[len(r.kept)-1].Seq + 1
		}
		return r.lines
	}
	st.next = nextAfter(recs(r.kept, r.dropped), r.kept, m.Accepted, st.next)
	window := r.lines[:m.Accepted]
	left := ""
	if cmp.Left = len(r.lines) - m.Accepted; cmp.Left > 0 {
		left = fmt.Sprintf("; %d left for the next kmsg", cmp.Left)
		if !a.more {
			st.leftover = &leftover{name: a.name, golden: gf.parsed, data: gf.data, updatePath: gf.updatePath,
				lines: append([]golden.Line(nil), r.lines...), before: st.taken, accepted: m.Accepted}
		}
	}
	ts.Logf("[kmsg %s: %d lines match%s%s%s]", a.name, m.Accepted, left, filteredNote(cmp.Filtered), unattributedNote(gf.parsed, window, cmp))
	return window
}

// updateKmsg rewrites the golden, if it changed, to accept the window
// and the earlier runs' lines.
func (cfg *Config) updateKmsg(ts *testscript.TestScript, st *caseState, name string, gf goldenFile, up kmsgUpdate, window []golden.Line, cmp *Comparison) {
	_, runs := cfg.UpdateRuns.add(gf.updatePath, up.original, golden.Run{Lines: window, Before: st.taken})
	st.taken = window
	text := rewrite(up.base, runs)
	cmp.OK = true
	if !bytes.Equal(text, gf.data) || gf.missing {
		cmp.Golden = gf.updatePath
		gf.write(ts, "kmsg", text)
		cmp.Updated = true
		ts.Logf("[kmsg %s: updated %s from %d run(s)]", name, gf.updatePath, len(runs))
	}
}

// rewrite is the golden file that -update writes for the lines of one or
// more runs, from g, the golden before the first run (nil if none).
func rewrite(g *golden.Golden, runs []golden.Run) []byte {
	if g == nil {
		return golden.NewRuns(runs)
	}
	return g.UpdateRuns(runs)
}

// equalAligned decides with go-cmp whether the window equals what the golden
// expects once the matcher has aligned the golden to it (repeats expanded,
// interleavings resolved, threads bound to labels).
func equalAligned(g *golden.Golden, window []golden.Line) bool {
	m := g.MatchLines(window)
	return gocmp.Equal(m.Want, m.Got)
}

// accepted reports whether a comparison passes: the whole log fits the
// golden, or a prefix does and the rest never can (it is the next step's).
func accepted(m golden.Match) bool {
	return m.OK || (!m.Alive && m.Accepted >= 0)
}

// unattributedNote counts, for a golden with labels, the lines matched
// whose thread is unknown, which match any label (a kernel whose printk
// trace names no task: 5.10's fires when the console prints, not when the
// module does), and says so.
func unattributedNote(golden *golden.Golden, matched []golden.Line, cmp *Comparison) string {
	if !golden.Labelled() {
		return ""
	}
	for _, l := range matched {
		if !l.Known() {
			cmp.Unattributed++
		}
	}
	if cmp.Unattributed == 0 {
		return ""
	}
	return fmt.Sprintf("; %d with no thread known: their labels not checked", cmp.Unattributed)
}

// recs returns every record a comparison read, kept or filtered.
func recs(kept []kmsg.Record, dropped map[string][]kmsg.Record) []kmsg.Record {
	all := append([]kmsg.Record(nil), kept...)
	for _, rs := range dropped {
		all = append(all, rs...)
	}
	return all
}

// nextAfter is where the next comparison starts once the first n kept
// records are taken: at the first kept record not taken, so that the
// filtered records before it are not read twice; after everything read
// when all were taken.
func nextAfter(all, kept []kmsg.Record, n int, cur uint64) uint64 {
	if n < len(kept) {
		return kept[n].Seq
	}
	next := cur
	for _, r := range all {
		if r.Seq+1 > next {
			next = r.Seq + 1
		}
	}
	return next
}

// logFiltered shows in the transcript the records each filter dropped,
// and counts them.
func logFiltered(ts *testscript.TestScript, dropped map[string][]kmsg.Record, norm kmsg.Normalizer) map[string]int {
	counts := map[string]int{}
	for f, rs := range dropped {
		counts[f] = len(rs)
		for _, rec := range rs {
			ts.Logf("[kmsg filter %s] %s", f, norm.Line(rec.Text))
		}
	}
	return counts
}

func filteredNote(f map[string]int) string {
	if len(f) == 0 {
		return ""
	}
	var parts []string
	for name, n := range f {
		parts = append(parts, fmt.Sprintf("%s %d", name, n))
	}
	sort.Strings(parts)
	return "; filtered: " + strings.Join(parts, ", ")
}

// selectFilters returns the default filters less those named in keep.
func selectFilters(keep string) ([]kmsg.Filter, error) {
	all := kmsg.DefaultFilters()
	skip := map[string]bool{}
	for _, name := range strings.Split(keep, ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		found := false
		for _, f := range all {
			found = found || f.Name == name
		}
		if !found {
			return nil, fmt.Errorf("unknown filter %q", name)
		}
		skip[name] = true
	}
	var fs []kmsg.Filter
	for _, f := range all {
		if !skip[f.Name] {
			fs = append(fs, f)
		}
	}
	return fs, nil
}

func (cfg *Config) kmsgTimeout() time.Duration {
	if cfg.KmsgTimeout > 0 {
		return cfg.KmsgTimeout
	}
	return 15 * time.Second
}
