package report

import (
	"fmt"
	"github.com/kmodcheck/kmodcheck/runner/script"
	"io"
	"os"
	"strings"
	"time"
)

// maxMarkdownFailureLines bounds each failure's text in the summary:
// GitHub keeps at most 1 MiB of a step's summary.
const maxMarkdownFailureLines = 60

// Markdown is a run's summary for a CI page: the counts, the case ×
// kernel table with its reasons, and each failure's message and text,
// folded.
func Markdown(rs []script.Result, took time.Duration, title string) string {
	return MarkdownOf(PairsOf(rs), took, title)
}

// MarkdownOf is the summary of pairs, from their records alone.
func MarkdownOf(pairs []Pair, took time.Duration, title string, kernels ...string) string {
	counts := map[script.Status]int{}
	for _, p := range pairs {
		counts[p.Case.Status]++
	}
	status := "ok"
	if counts[script.Fail] > 0 {
		status = string(script.Fail)
	}
	interrupted := ""
	if n := counts[script.Interrupted]; n > 0 {
		status, interrupted = string(script.Interrupted), fmt.Sprintf(", %d interrupted", n)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "### %s: %s\n\n", title, status)
	fmt.Fprintf(&b, "%d passed, %d failed, %d skipped%s in %.1fs\n\n", counts[script.Pass], counts[script.Fail], counts[script.Skip], interrupted, took.Seconds())
	if len(pairs) == 0 {
		b.WriteString("No case ran.\n\n")
		return b.String()
	}
	t := NewTable(pairs, kernels...)
	b.WriteString(t.Markdown())
	b.WriteString("\n")
	for _, p := range t.Failures() {
		writeFolded(&b, p)
	}
	return b.String()
}

// writeFolded writes a failure's text, bounded, in a <details> block.
func writeFolded(b *strings.Builder, p Pair) {
	text := p.failText()
	if lines := strings.Split(strings.TrimRight(text, "\n"), "\n"); len(lines) > maxMarkdownFailureLines {
		text = strings.Join(lines[:maxMarkdownFailureLines], "\n") + fmt.Sprintf("\n... %d more lines", len(lines)-maxMarkdownFailureLines)
	}
	fence := codeFence(text)
	fmt.Fprintf(b, "<details><summary>%s <code>%s</code> on <code>%s</code>: %s</summary>\n\n", icon(p.Case.Status), htmlEscape(p.Case.Case), htmlEscape(p.Case.Kernel), htmlEscape(p.Case.Failure))
	fmt.Fprintf(b, "%s\n%s\n%s\n\n", fence, strings.TrimRight(text, "\n"), fence)
	if p.Case.Dir != "" {
		fmt.Fprintf(b, "Artifacts: `%s`\n\n", p.Case.Dir)
	}
	b.WriteString("</details>\n\n")
}

// AppendStepSummary appends the summary to the file $GITHUB_STEP_SUMMARY
// names, if it names one.
func AppendStepSummary(rs []script.Result, took time.Duration, title string) error {
	return AppendStepSummaryText(Markdown(rs, took, title))
}

// AppendStepSummaryText appends markdown to the file $GITHUB_STEP_SUMMARY
// names, if it names one.
func AppendStepSummaryText(md string) error {
	path := os.Getenv("GITHUB_STEP_SUMMARY")
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("GITHUB_STEP_SUMMARY: %w", err)
	}
	_, err = io.WriteString(f, md)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("GITHUB_STEP_SUMMARY: %w", err)
	}
	return nil
}

func icon(status script.Status) string {
	switch status {
	case script.Pass:
		return "✅"
	case script.Fail:
		return "❌"
	case script.Interrupted:
		return "⏹️"
	case script.Broken:
		return "🚧"
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
