package report

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kmodcheck/kmodcheck/runner/script"
)

// Artifact files of a case × kernel, in its directory DIR/KERNEL/CASE (beside
// the console.log and kernel.log the target keeps there):
//
//	transcript.txt           the script's transcript, as a failure prints it
//	steps/NN-COMMAND.txt     each step's command, exit status, duration,
//	                         stdout, stderr and kernel records; each kmsg
//	                         comparison's golden, outcome, mismatch and diff
//	NAME.kmsg.diff           the diff of a kmsg comparison that failed
const (
	TranscriptFile = "transcript.txt"
	StepsDir       = "steps"
	DiffExt        = ".diff"
)

// WriteArtifacts writes a finished case's transcript, steps and diffs into
// dir (its directory DIR/KERNEL/CASE), returning the files it wrote, or the
// first error. The Reporter writes them as each case ends.
func WriteArtifacts(dir string, r script.Result) ([]string, error) {
	var files []string
	write := func(name string, data []byte) error {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
		files = append(files, p)
		return nil
	}
	if err := write(TranscriptFile, []byte(r.Log)); err != nil {
		return files, err
	}
	for _, s := range r.Record.Ran() {
		var text string
		switch s.Kind {
		case script.Command:
			text = stepText(s)
		case script.Compare:
			text = compareText(s)
			if c := s.Compare; !c.OK && c.Diff != "" {
				if err := write(filepath.Base(c.Golden)+DiffExt, []byte(c.Diff)); err != nil {
					return files, err
				}
			}
		}
		name := fmt.Sprintf("%02d-%s.txt", s.N, slug(s.Line))
		if err := write(filepath.Join(StepsDir, name), []byte(text)); err != nil {
			return files, err
		}
	}
	return files, nil
}

func stepText(s script.Step) string {
	res := s.Result
	var b strings.Builder
	fmt.Fprintf(&b, "command: %s\n", res.Step.Line)
	fmt.Fprintf(&b, "where: %s\n", res.Step.Where)
	fmt.Fprintf(&b, "exit: %d\n", res.Exit)
	fmt.Fprintf(&b, "duration: %.3fs\n", res.Duration.Seconds())
	if res.TimedOut {
		fmt.Fprintf(&b, "timed out: after %v\n", res.Step.Timeout)
	}
	if s.Err != nil {
		fmt.Fprintf(&b, "error: %v\n", s.Err)
	}
	section(&b, "stdout", string(res.Stdout))
	section(&b, "stderr", string(res.Stderr))
	var k strings.Builder
	for _, r := range res.Log {
		src := "kernel"
		if r.Facility != 0 {
			src = "user"
		}
		if th := r.ThreadLabel(); th != "" {
			src += " " + th
		}
		if r.Waiting { // its level is not known: it is in no reader's log yet
			fmt.Fprintf(&k, "[%12.6f] <?> %s: %s (no newline yet: from the printk trace)\n", r.Time.Seconds(), src, r.Text)
			continue
		}
		fmt.Fprintf(&k, "[%12.6f] <%d> %s: %s\n", r.Time.Seconds(), r.Level, src, r.Text)
	}
	if res.Dropped > 0 {
		fmt.Fprintf(&k, "... %d records dropped to bound memory: kernel.log has them all\n", res.Dropped)
	}
	section(&b, fmt.Sprintf("kernel (%d records)", len(res.Log)), k.String())
	return b.String()
}

func compareText(s script.Step) string {
	c := s.Compare
	var b strings.Builder
	fmt.Fprintf(&b, "command: %s\n", s.Line)
	fmt.Fprintf(&b, "golden: %s\n", c.Golden)
	outcome := "ok"
	switch {
	case c.Updated:
		outcome = "updated"
	case !c.OK:
		outcome = "mismatch"
	}
	fmt.Fprintf(&b, "outcome: %s\n", outcome)
	fmt.Fprintf(&b, "waited: %.3fs\n", c.Waited.Seconds())
	if len(c.Filtered) > 0 {
		var fs []string
		for name, n := range c.Filtered {
			fs = append(fs, fmt.Sprintf("%s %d", name, n))
		}
		sort.Strings(fs)
		fmt.Fprintf(&b, "filtered: %s\n", strings.Join(fs, ", "))
	}
	if c.Mismatch != "" {
		section(&b, "mismatch", c.Mismatch+"\n")
	}
	if c.Diff != "" {
		section(&b, "diff", c.Diff)
	}
	return b.String()
}

func section(b *strings.Builder, name, text string) {
	fmt.Fprintf(b, "--- %s\n", name)
	b.WriteString(text)
	if text != "" && !strings.HasSuffix(text, "\n") {
		b.WriteString("\n")
	}
}

// slug is a command line made fit for a file name: letters, digits, dots,
// dashes; the rest runs of underscores; at most 40 bytes.
func slug(line string) string {
	var b strings.Builder
	under := false
	for _, r := range strings.ReplaceAll(line, "./", "") {
		ok := r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-')
		if !ok {
			if !under && b.Len() > 0 {
				b.WriteByte('_')
			}
			under = true
			continue
		}
		under = false
		b.WriteRune(r)
	}
	s := strings.Trim(b.String(), "_.")
	if len(s) > 40 {
		s = strings.TrimRight(s[:40], "_.")
	}
	if s == "" {
		s = "step"
	}
	return s
}
