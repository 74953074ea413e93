package script

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/rogpeppe/go-internal/testscript"

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
	fset := flag.NewFlagSet("kmsg", flag.ContinueOnError)
	timeout := fset.Duration("timeout", cfg.kmsgTimeout(), "how long to wait for the golden's lines")
	keep := fset.String("keep", "", "comma-separated named filters not to apply")
	more := fset.Bool("more", false, "the log may go on: lines after the golden's that no later kmsg takes are not a failure")
	var usage bytes.Buffer
	fset.SetOutput(&usage)
	if err := fset.Parse(args); err != nil || fset.NArg() != 1 || neg {
		ts.Fatalf("usage: kmsg [-timeout d] [-keep filter,...] [-more] name\n%s", usage.String())
	}
	name := fset.Arg(0)
	filters, err := selectFilters(*keep)
	if err != nil {
		ts.Fatalf("kmsg: %v", err)
	}
	goldenPath, updatePath := cfg.goldenFor(ts.Name(), name, cfg.Target.Release())
	data, err := readGolden(goldenPath)
	missing := errors.Is(err, fs.ErrNotExist)
	if err != nil && !missing {
		ts.Fatalf("kmsg: %v", err)
	}
	var golden *kmsg.Golden
	if !missing {
		if golden, err = kmsg.ParseGolden(goldenPath, data); err != nil {
			ts.Fatalf("%v", err)
		}
	} else if !cfg.Update {
		st := ts.Value(stateKey{}).(*caseState)
		cfg.fail(ts, st, Failure{Kind: FailKmsg, Step: st.steps + 1, Command: "kmsg " + name,
			Message: fmt.Sprintf("golden file %s does not exist; run with -update to create it from this run's kernel log", goldenPath)})
	}
	// An update rewrites the golden as it was before the first of -count
	// runs, to accept every run's lines.
	var (
		base     *kmsg.Golden
		original []byte
		before   []kmsg.Run
	)
	if cfg.Update {
		if !missing {
			original = data
		}
		if original, before = cfg.UpdateRuns.previous(updatePath, original); original != nil {
			if base, err = kmsg.ParseGolden(goldenPath, original); err != nil {
				ts.Fatalf("%v", err)
			}
		}
	}

	st := cfg.session(ts)
	st.leftover = nil // this kmsg compares what the last one left
	line := strings.Join(append([]string{"kmsg"}, args...), " ")
	st.count(line)
	cfg.begin(ts.Name(), st, Compare, line, "")
	norm := kmsg.Normalizer{Work: st.work}
	began := time.Now()
	deadline := began.Add(*timeout)
	var (
		lines   []string
		klines  []kmsg.Line // lines with the threads that printed them
		kept    []kmsg.Record
		dropped map[string][]kmsg.Record
		m       kmsg.Match
		// In an update, the rewritten golden must see everything the
		// module prints: wait until the rewrite stops changing.
		candidate   []byte
		stableSince time.Time
	)
	for {
		recs, err := st.session.Log(st.ctx, st.next)
		if err != nil {
			ts.Fatalf("kmsg %s: %v", name, err)
		}
		kept, dropped = kmsg.Apply(filters, recs)
		lines = lines[:0]
		for _, r := range kept {
			lines = append(lines, norm.Line(r.Text))
		}
		klines = kmsg.Lines(kept, lines)
		now := time.Now()
		if golden != nil {
			m = golden.MatchLines(klines)
			// Done when the whole log so far fits, or when it cannot fit
			// whatever comes: then its accepted prefix is the window and
			// the rest is the next kmsg's. While it may still fit, wait: a
			// thread may be in the middle of what the golden wants. An
			// update waits for its rewrite to settle instead, whatever the
			// old golden takes: one cut short must not cut the window.
			if !cfg.Update && (accepted(m) || !m.Alive) {
				break
			}
		}
		if now.After(deadline) {
			break
		}
		if cfg.Update {
			next := rewrite(base, append(before, kmsg.Run{Lines: klines, Before: st.taken}))
			if !bytes.Equal(next, candidate) {
				candidate, stableSince = next, now
			} else if now.Sub(stableSince) >= updateSettle {
				break
			}
		}
		time.Sleep(kmsgPoll)
	}

	cmp := &Comparison{Golden: goldenPath, Filtered: map[string]int{}, Waited: time.Since(began)}
	for f, rs := range dropped {
		cmp.Filtered[f] = len(rs)
		for _, r := range rs {
			ts.Logf("[kmsg filter %s] %s", f, norm.Line(r.Text))
		}
	}
	// An update takes every line printed until its rewrite settled: a
	// golden cut short (a tutorial's dmesg pasted part way through a
	// thread's count) leaves none of them to the next kmsg.
	ok := golden != nil && (m.OK || !cfg.Update && accepted(m)) && equalAligned(golden, klines[:m.Accepted])
	window := klines
	if ok {
		cmp.OK = true
		st.next = nextAfter(recs(kept, dropped), kept, m.Accepted, st.next)
		window = klines[:m.Accepted]
		left := ""
		if cmp.Left = len(klines) - m.Accepted; cmp.Left > 0 {
			left = fmt.Sprintf("; %d left for the next kmsg", cmp.Left)
			if !*more {
				st.leftover = &leftover{name: name, golden: golden, data: data, updatePath: updatePath,
					lines: append([]kmsg.Line(nil), klines...), before: st.taken, accepted: m.Accepted}
			}
		}
		ts.Logf("[kmsg %s: %d lines match%s%s%s]", name, m.Accepted, left, filteredNote(cmp.Filtered), unattributedNote(golden, window, cmp))
	} else if len(kept) > 0 {
		st.next = kept[len(kept)-1].Seq + 1
	}
	if cfg.Update {
		_, runs := cfg.UpdateRuns.add(updatePath, original, kmsg.Run{Lines: window, Before: st.taken})
		st.taken = window
		text := rewrite(base, runs)
		cmp.OK = true
		if !bytes.Equal(text, data) || missing {
			cmp.Golden = updatePath
			if err := kmsg.WriteGolden(updatePath, text); err != nil {
				ts.Fatalf("kmsg: update %s: %v", updatePath, err)
			}
			cmp.Updated = true
			ts.Logf("[kmsg %s: updated %s from %d run(s)]", name, updatePath, len(runs))
		}
		cfg.compared(ts.Name(), st, cmp)
		return
	}
	if ok {
		cfg.compared(ts.Name(), st, cmp)
		return
	}
	cmp.Mismatch, cmp.First, cmp.Diff = m.Mismatch, m.First, m.Diff(goldenPath)
	cfg.compared(ts.Name(), st, cmp)
	cfg.fail(ts, st, Failure{Kind: FailKmsg, Step: st.steps, Command: "kmsg " + name,
		Message: "kernel log differs from " + goldenPath, Detail: m.Mismatch + "\n" + m.Diff(goldenPath)})
}

// rewrite is the golden file that -update writes for the lines of one or
// more runs, from g, the golden before the first run (nil if none).
func rewrite(g *kmsg.Golden, runs []kmsg.Run) []byte {
	if g == nil {
		return kmsg.NewRuns(runs)
	}
	return g.UpdateRuns(runs)
}

// equalAligned decides with go-cmp whether the window equals what the golden
// expects once the matcher has aligned the golden to it (repeats expanded,
// interleavings resolved, threads bound to labels).
func equalAligned(g *kmsg.Golden, window []kmsg.Line) bool {
	m := g.MatchLines(window)
	return gocmp.Equal(m.Want, m.Got)
}

// accepted reports whether a comparison passes: the whole log fits the
// golden, or a prefix does and the rest never can (it is the next step's).
func accepted(m kmsg.Match) bool {
	return m.OK || (!m.Alive && m.Accepted >= 0)
}

// unattributedNote counts, for a golden with labels, the lines matched
// whose thread is unknown, which match any label (a kernel whose printk
// trace names no task: 5.10's fires when the console prints, not when the
// module does), and says so.
func unattributedNote(golden *kmsg.Golden, matched []kmsg.Line, cmp *Comparison) string {
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
