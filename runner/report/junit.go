package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/script"
)

// JUnit XML, in the form GitHub's test-report actions, GitLab and Jenkins
// read: <testsuites> holds a <testsuite> per kernel, which holds a
// <testcase> per case run on it, named "CASE [KERNEL]" with classname
// "kmodcheck.CASE"; a failure is a <failure> whose message is the FAIL line
// (file:line: step: what went wrong) and whose text has the rest of it (the
// mismatch and diff, the kernel's report), a kernel excerpt and where the
// artifacts are; a <system-out> has the transcript.

// JUnitSuites is the document's root.
type JUnitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"` // seconds
	Suites   []JUnitSuite `xml:"testsuite"`
}

// JUnitSuite is one kernel's cases.
type JUnitSuite struct {
	Name       string          `xml:"name,attr"` // the kernel's release
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []JUnitProperty `xml:"properties>property,omitempty"`
	Cases      []JUnitCase     `xml:"testcase"`
}

// JUnitProperty is a name and a value.
type JUnitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// JUnitCase is one case on one kernel.
type JUnitCase struct {
	Name      string        `xml:"name,attr"`      // CASE [KERNEL]
	Classname string        `xml:"classname,attr"` // kmodcheck.CASE
	Time      string        `xml:"time,attr"`
	File      string        `xml:"file,attr,omitempty"` // the case file
	Line      int           `xml:"line,attr,omitempty"` // of the failing step
	Failure   *JUnitFailure `xml:"failure,omitempty"`
	Error     *JUnitFailure `xml:"error,omitempty"` // the kernel did not boot
	Skipped   *JUnitSkipped `xml:"skipped,omitempty"`
	SystemOut *JUnitText    `xml:"system-out,omitempty"`
}

// JUnitText is an element's text, kept readable as CDATA.
type JUnitText struct {
	Text string `xml:",cdata"`
}

// JUnitFailure is a failure or an error.
type JUnitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"` // kmsg, step, boot, end-of-case
	Text    string `xml:",cdata"`
}

// JUnitSkipped says why a case was skipped.
type JUnitSkipped struct {
	Message string `xml:"message,attr"`
}

// JUnit builds the document for a run's results.
func JUnit(rs []script.Result, took time.Duration, started time.Time) JUnitSuites {
	return JUnitOf(PairsOf(rs), took, started)
}

// JUnitOf builds the document for pairs, from their records alone.
func JUnitOf(pairs []Pair, took time.Duration, started time.Time) JUnitSuites {
	doc := JUnitSuites{Name: "kmodcheck", Time: secs(took)}
	byKernel := map[string]*JUnitSuite{}
	var kernels []string
	dur := map[string]float64{}
	for _, p := range pairs {
		r := p.Case
		s := byKernel[r.Kernel]
		if s == nil {
			s = &JUnitSuite{Name: r.Kernel, Properties: []JUnitProperty{{"kernel", r.Kernel}}}
			if !started.IsZero() {
				s.Timestamp = started.UTC().Format("2006-01-02T15:04:05")
			}
			byKernel[r.Kernel] = s
			kernels = append(kernels, r.Kernel)
		}
		if (r.Accel != "" || r.Boot > 0) && len(s.Properties) == 1 {
			s.Properties = append(s.Properties, JUnitProperty{"accel", accel(r.Accel)})
		}
		s.Tests++
		dur[r.Kernel] += r.Duration
		c := junitCase(p, s)
		s.Cases = append(s.Cases, c)
	}
	sortReleases(kernels)
	for _, k := range kernels {
		s := byKernel[k]
		s.Time = fmt.Sprintf("%.3f", dur[k])
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
		doc.Skipped += s.Skipped
		doc.Suites = append(doc.Suites, *s)
	}
	return doc
}

// junitCase is a pair's testcase, counted in its suite.
func junitCase(p Pair, s *JUnitSuite) JUnitCase {
	r := p.Case
	c := JUnitCase{
		Name: fmt.Sprintf("%s [%s]", r.Case, r.Kernel), Classname: "kmodcheck." + r.Case,
		Time: fmt.Sprintf("%.3f", r.Duration), File: r.File,
	}
	if r.Transcript != "" {
		c.SystemOut = &JUnitText{xmlText(r.Transcript)}
	}
	switch r.Status {
	case script.Fail:
		jf := &JUnitFailure{Message: xmlText(p.Message()), Type: string(r.FailureKind), Text: xmlText(p.FailureText())}
		c.Line = r.Line
		if r.FailureKind == script.FailSetup {
			c.Error = jf
			s.Errors++
		} else {
			c.Failure = jf
			s.Failures++
		}
	case script.Interrupted:
		c.Error = &JUnitFailure{Message: "interrupted", Type: "interrupted",
			Text: xmlText("a stop signal ended the run " + r.Interrupted + "\n")}
		s.Errors++
	case script.Skip:
		msg := r.Skip
		if msg == "" {
			msg = "skipped"
		}
		c.Skipped = &JUnitSkipped{Message: msg}
		s.Skipped++
	}
	return c
}

// WriteJUnit writes the document, indented, with an XML declaration.
func WriteJUnit(w io.Writer, doc JUnitSuites) error {
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("junit report: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// xmlText replaces what XML cannot hold (control characters a module or a
// tool may print, invalid UTF-8) with U+FFFD.
func xmlText(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r',
			r >= 0x20 && r <= 0xD7FF,
			r >= 0xE000 && r <= 0xFFFD,
			r >= 0x10000 && r <= 0x10FFFF:
			return r
		}
		return '\uFFFD'
	}, s)
}

func secs(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }
