package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/report"
	"github.com/kmodcheck/kmodcheck/runner/script"
	"github.com/kmodcheck/kmodcheck/runner/suite"
)

// reportUsage heads `kmodcheck report -h`; the flags follow it.
const reportUsage = `Usage: kmodcheck report [-matrix FILE] [-html FILE] [-junit FILE] shard.json ...

Merges the -json reports of the shards of one run (kmodcheck run -shard
I/N -json FILE) into one case × kernel table, printed, and the reports the
flags ask for; when $GITHUB_STEP_SUMMARY names a file, the markdown summary
is appended to it. It refuses reports of different runs (another -run-id,
other kernels, cases, case files or goldens, another shard count), a shard
given twice or missing, and a pair in two reports; see docs/reports.md.

Exit status: 0 every case passed, 1 a case failed, 2 usage error, a report
that cannot be read or written, or reports refused.

Flags:
`

// reportCmd is kmodcheck report.
func reportCmd(_ context.Context, args []string, std stdio) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(std.err)
	a := &runArgs{}
	fs.StringVar(&a.matrixFile, "matrix", "", "write the table, with each failure's step and reason, to `file` as markdown")
	fs.StringVar(&a.htmlFile, "html", "", "write the HTML report to `file`")
	fs.StringVar(&a.junitFile, "junit", "", "write a JUnit XML report to `file`")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), reportUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errUsage("")
	}
	fail := func(errs ...error) error { return failed("report", 2, errs...) }
	merged, err := mergeFiles(fs.Args())
	if err != nil {
		return fail(err)
	}
	rep, err := openReports(a)
	if err != nil {
		return fail(err)
	}
	defer rep.close()
	out := tableReports{pairs: merged.Pairs, kernels: merged.Run.Kernels, title: "kmodcheck", took: took(merged.Pairs)}
	out.started, _ = time.Parse(time.RFC3339, merged.Run.Started)
	fmt.Fprint(std.out, report.NewTable(out.pairs, out.kernels...).Text())
	if errs := out.write(rep); len(errs) > 0 {
		return fail(errs...)
	}
	for _, p := range merged.Pairs {
		if p.Case.Status == script.Fail {
			return statusError(1)
		}
	}
	return nil
}

// mergeFiles reads and merges the JSON reports.
func mergeFiles(names []string) (report.Merged, error) {
	var inputs []report.Input
	for _, name := range names {
		f, err := os.Open(name)
		if err != nil {
			return report.Merged{}, err
		}
		recs, err := report.ReadJSON(f)
		f.Close()
		if err != nil {
			return report.Merged{}, fmt.Errorf("%s: %w", name, err)
		}
		inputs = append(inputs, report.Input{Name: name, Records: recs})
	}
	return report.Merge(inputs)
}

// took is the sum of the pairs' times: what one machine would have spent.
func took(pairs []report.Pair) time.Duration {
	var s float64
	for _, p := range pairs {
		s += p.Case.Duration
	}
	return time.Duration(s * float64(time.Second))
}

// tableReports are what the reports made at the end of a run, or of a
// merge, are made from.
type tableReports struct {
	pairs   []report.Pair
	kernels []string // the plan's: columns even where no case ran
	title   string
	took    time.Duration
	started time.Time
}

// write writes the reports of -junit, -matrix and -html that rep has open,
// closing them, and appends the step summary; it returns what failed.
func (t tableReports) write(rep *runReports) []error {
	var errs []error
	write := func(f *os.File, fn func(io.Writer) error) {
		if f == nil {
			return
		}
		if err := fn(f); err != nil {
			errs = append(errs, err)
		}
		if err := f.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	write(rep.junit, func(w io.Writer) error {
		return report.WriteJUnit(w, report.JUnitOf(t.pairs, t.took, t.started))
	})
	write(rep.matrix, func(w io.Writer) error {
		_, err := fmt.Fprintf(w, "### %s\n\n%s", t.title, report.NewTable(t.pairs, t.kernels...).Markdown())
		return err
	})
	write(rep.html, func(w io.Writer) error { return report.WriteHTML(w, t.title, t.pairs, t.kernels...) })
	rep.junit, rep.matrix, rep.html = nil, nil, nil
	if err := report.AppendStepSummaryText(report.MarkdownOf(t.pairs, t.took, t.title, t.kernels...)); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// kernels are the releases of the plan's targets.
func (p *runPlan) kernels() []string {
	var out []string
	for _, t := range p.targets {
		out = append(out, t.Release())
	}
	return out
}

// writeRunRecord starts the JSON report with the run's record: its id,
// what it planned, and a digest of the case files and their goldens, so
// that kmodcheck report can tell shards of one run from those of others.
func (p *runPlan) writeRunRecord(rep *runReports) error {
	if rep.json == nil {
		return nil
	}
	digest, err := planDigest(p.files, p.args.golden, p.kernels())
	if err != nil {
		return err
	}
	var cases []string
	for _, f := range p.files {
		cases = append(cases, suite.CaseName(f))
	}
	rec := report.RunRecord(p.args.runID, digest, cases, p.kernels(), p.args.part, time.Now().UTC().Format(time.RFC3339))
	enc := json.NewEncoder(rep.json)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(rec); err != nil {
		return fmt.Errorf("json report: %w", err)
	}
	return nil
}

// planDigest is a SHA-256 of the kernels, and of each case file and the
// files of its golden directory, by name and content.
func planDigest(files []string, golden string, kernels []string) (string, error) {
	h := sha256.New()
	ks := slices.Clone(kernels)
	slices.Sort(ks)
	for _, k := range ks {
		fmt.Fprintf(h, "kernel %s\n", k)
	}
	for _, f := range files {
		name := suite.CaseName(f)
		paths, _ := filepath.Glob(filepath.Join(golden, name, "*"))
		for _, path := range append([]string{f}, paths...) {
			if st, err := os.Stat(path); err == nil && st.IsDir() {
				continue
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return "", fmt.Errorf("plan digest: %w", err)
			}
			rel, _ := filepath.Rel(filepath.Dir(filepath.Dir(path)), path)
			fmt.Fprintf(h, "file %s %d\n", filepath.ToSlash(rel), len(data))
			h.Write(data)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}
