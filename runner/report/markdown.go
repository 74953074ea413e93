package report

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/suite"
)

// maxMarkdownFailureLines bounds each failure's text in the summary:
// GitHub keeps at most 1 MiB of a step's summary.
const maxMarkdownFailureLines = 60

// Markdown is a run's summary for a CI page: the counts, a case × kernel
// table, and each failure's message and text, folded.
func Markdown(rs []suite.Result, took time.Duration, title string) string {
	counts := map[string]int{}
	cases, kernels := axes(rs)
	cell := map[[2]string]string{}
	for _, r := range rs {
		counts[r.Status]++
		cell[[2]string{r.Case, r.Kernel}] = fmt.Sprintf("%s %s %.1fs", icon(r.Status), r.Status, r.Duration.Seconds())
	}
	sort.Strings(kernels)
	sort.Strings(cases)
	status := "ok"
	if counts["FAIL"] > 0 {
		status = "FAIL"
	}
	interrupted := ""
	if n := counts["INTERRUPTED"]; n > 0 {
		status, interrupted = "INTERRUPTED", fmt.Sprintf(", %d interrupted", n)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "### %s: %s\n\n", title, status)
	fmt.Fprintf(&b, "%d passed, %d failed, %d skipped%s in %.1fs\n\n", counts["PASS"], counts["FAIL"], counts["SKIP"], interrupted, took.Seconds())
	if len(rs) == 0 {
		b.WriteString("No case ran.\n\n")
		return b.String()
	}
	b.WriteString("| case |")
	for _, k := range kernels {
		fmt.Fprintf(&b, " %s |", mdCell(k))
	}
	b.WriteString("\n|---|")
	for range kernels {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, c := range cases {
		fmt.Fprintf(&b, "| `%s` |", c)
		for _, k := range kernels {
			v := cell[[2]string{c, k}]
			if v == "" {
				v = "–"
			}
			fmt.Fprintf(&b, " %s |", v)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	for _, r := range rs {
		f, ok := FailureOf(r)
		if !ok {
			continue
		}
		text := f.Text
		if lines := strings.Split(strings.TrimRight(text, "\n"), "\n"); len(lines) > maxMarkdownFailureLines {
			text = strings.Join(lines[:maxMarkdownFailureLines], "\n") + fmt.Sprintf("\n... %d more lines", len(lines)-maxMarkdownFailureLines)
		}
		fence := codeFence(text)
		fmt.Fprintf(&b, "<details><summary>%s <code>%s</code> on <code>%s</code>: %s</summary>\n\n", icon("FAIL"), htmlEscape(r.Case), htmlEscape(r.Kernel), htmlEscape(f.Message))
		fmt.Fprintf(&b, "%s\n%s\n%s\n\n", fence, strings.TrimRight(text, "\n"), fence)
		if r.Dir != "" {
			fmt.Fprintf(&b, "Artifacts: `%s`\n\n", r.Dir)
		}
		b.WriteString("</details>\n\n")
	}
	return b.String()
}

// AppendStepSummary appends the summary to the file $GITHUB_STEP_SUMMARY
// names, if it names one.
func AppendStepSummary(rs []suite.Result, took time.Duration, title string) error {
	path := os.Getenv("GITHUB_STEP_SUMMARY")
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("GITHUB_STEP_SUMMARY: %w", err)
	}
	_, err = io.WriteString(f, Markdown(rs, took, title))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("GITHUB_STEP_SUMMARY: %w", err)
	}
	return nil
}

func icon(status string) string {
	switch status {
	case "PASS":
		return "✅"
	case "FAIL":
		return "❌"
	case "INTERRUPTED":
		return "⏹️"
	}
	return "⏭️"
}

// codeFence is a fence of backticks longer than any run of them in text.
func codeFence(text string) string {
	longest, run := 0, 0
	for _, r := range text {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return strings.Repeat("`", max(3, longest+1))
}

func mdCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
