package report

import (
	"fmt"
	"github.com/kmodcheck/kmodcheck/runner/script"
	"html/template"
	"io"
	"strings"
)

// The -html report: one self-contained page (its style inline, no script,
// nothing fetched), well-formed XML as well as HTML, with the compatibility table, whose cells link to a
// section per case × kernel below it: the reason, the golden diff coloured
// as a diff reader expects, the failure's text and the transcript.

// htmlPage is the page's data.
type htmlPage struct {
	Title   string
	Kernels []string
	Rows    []htmlRow
	Cells   []htmlCell // the sections, in table order
}

type htmlRow struct {
	Case  string
	Cells []htmlCell
}

type htmlCell struct {
	ID, Case, Kernel, Status string
	Ran                      bool
	Reason                   string
	Diff                     []htmlDiffLine
	Failure                  string
	Transcript               string
	Duration                 float64
}

type htmlDiffLine struct{ Class, Text string }

// WriteHTML writes the page for pairs; kernels (the run's plan) are
// columns even where no case ran.
func WriteHTML(w io.Writer, title string, pairs []Pair, kernels ...string) error {
	t := NewTable(pairs, kernels...)
	page := htmlPage{Title: title, Kernels: t.Kernels}
	for _, c := range t.Cases {
		row := htmlRow{Case: c}
		for _, k := range t.Kernels {
			cell := htmlCell{ID: CellID(c, k), Case: c, Kernel: k, Status: "-"}
			if p, ok := t.Cell(c, k); ok {
				cell = cellOf(p)
				page.Cells = append(page.Cells, cell)
			}
			row.Cells = append(row.Cells, cell)
		}
		page.Rows = append(page.Rows, row)
	}
	if err := htmlTemplate.Execute(w, page); err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	return nil
}

// CellID is the anchor of a case × kernel's section: "cell-CASE-KERNEL",
// with what an id cannot hold replaced.
func CellID(caseName, kernel string) string {
	return "cell-" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, caseName+"--"+kernel)
}

func cellOf(p Pair) htmlCell {
	c := p.Case
	cell := htmlCell{ID: CellID(c.Case, c.Kernel), Case: c.Case, Kernel: c.Kernel, Status: string(c.Status), Ran: true,
		Transcript: xmlText(c.Transcript), Duration: c.Duration}
	if c.Status == script.Fail || c.Status == script.Broken {
		cell.Reason = xmlText(ReasonLine(p))
		cell.Failure = xmlText(p.FailureText())
		cell.Diff = diffLines(xmlText(p.Diff()))
	}
	return cell
}

// diffLines classes a unified diff's lines for colour.
func diffLines(diff string) []htmlDiffLine {
	if diff == "" {
		return nil
	}
	var out []htmlDiffLine
	for _, l := range strings.Split(strings.TrimRight(diff, "\n"), "\n") {
		class := "ctx"
		switch {
		case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"), strings.HasPrefix(l, "diff "):
			class = "file"
		case strings.HasPrefix(l, "@@"):
			class = "hunk"
		case strings.HasPrefix(l, "+"):
			class = "add"
		case strings.HasPrefix(l, "-"):
			class = "del"
		}
		out = append(out, htmlDiffLine{class, l})
	}
	return out
}

var htmlTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"/>
<title>{{.Title}}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #1f2328; }
table.matrix { border-collapse: collapse; }
table.matrix th, table.matrix td { border: 1px solid #d0d7de; padding: .3em .7em; text-align: left; }
table.matrix th { background: #f6f8fa; }
td.PASS { background: #dafbe1; } td.FAIL { background: #ffebe9; } td.SKIP { background: #f6f8fa; color: #57606a; }
td.INTERRUPTED, td.BROKEN { background: #fff8c5; } td.none { color: #8c959f; }
td a { color: inherit; font-weight: 600; }
ul.reasons li { margin: .2em 0; }
section { border-top: 1px solid #d0d7de; margin-top: 1.5em; }
pre { background: #f6f8fa; padding: .6em; overflow-x: auto; font-size: 90%; }
pre.diff span { display: block; white-space: pre; }
.add { background: #dafbe1; color: #116329; } .del { background: #ffebe9; color: #82071e; }
.hunk { color: #0550ae; } .file { font-weight: 600; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<table class="matrix">
<tr><th>case</th>{{range .Kernels}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr><th>{{.Case}}</th>{{range .Cells}}{{if .Ran}}<td class="{{.Status}}"><a href="#{{.ID}}">{{.Status}}</a></td>{{else}}<td class="none">–</td>{{end}}{{end}}</tr>
{{end}}</table>
<ul class="reasons">
{{range .Cells}}{{if .Reason}}<li><a href="#{{.ID}}">{{.Reason}}</a></li>
{{end}}{{end}}</ul>
{{range .Cells}}<section id="{{.ID}}">
<h2>{{.Case}} on {{.Kernel}}: {{.Status}} ({{printf "%.1f" .Duration}}s)</h2>
{{if .Reason}}<p class="reason">{{.Reason}}</p>{{end}}
{{if .Diff}}<h3>golden diff</h3>
<pre class="diff">{{range .Diff}}<span class="{{.Class}}">{{.Text}}</span>{{end}}</pre>{{end}}
{{if .Failure}}<h3>failure</h3>
<pre class="failure">{{.Failure}}</pre>{{end}}
{{if .Transcript}}<details{{if .Reason}} open="open"{{end}}><summary>transcript</summary>
<pre class="transcript">{{.Transcript}}</pre></details>{{end}}
</section>
{{end}}</body>
</html>
`))
