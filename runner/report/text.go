// Package report turns case results into what people and CI systems read:
// a line per case, the failing step with its diff, and a summary; live
// progress on a terminal, a line per event elsewhere; JUnit XML, JSON
// records and a markdown summary for CI.
package report

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/script"
)

// Line prints one case's outcome; for a failure, or with verbose, its
// transcript follows, indented.
func Line(w io.Writer, r script.Result, verbose bool) {
	kernel := " [" + r.Kernel + "]"
	if b := r.Record.Boot; b != nil {
		kernel = fmt.Sprintf(" [%s %s]", b.Release, accel(b.Accel))
	}
	fmt.Fprintf(w, "%s\t%s%s\t%.1fs\n", r.Status, r.Case, kernel, r.Duration.Seconds())
	if r.Status == script.Fail || verbose {
		for _, l := range strings.Split(strings.TrimRight(r.Log, "\n"), "\n") {
			fmt.Fprintf(w, "    %s\n", l)
		}
	}
}

func accel(a string) string {
	if a == "" {
		return "host"
	}
	return a
}

// Summary prints the goldens an update rewrote, then the counts and the
// total time.
func Summary(w io.Writer, rs []script.Result, took time.Duration) {
	counts := map[script.Status]int{}
	for _, r := range rs {
		counts[r.Status]++
		for _, s := range r.Record.Steps {
			if s.Compare != nil && s.Compare.Updated {
				fmt.Fprintf(w, "updated %s\n", s.Compare.Golden)
			}
		}
	}
	if table := Matrix(rs); table != "" {
		fmt.Fprint(w, table)
	}
	status := "ok"
	if counts[script.Fail] > 0 {
		status = string(script.Fail)
	}
	fmt.Fprintf(w, "total %.1fs\n", took.Seconds())
	interrupted := ""
	if n := counts[script.Interrupted]; n > 0 {
		status = string(script.Interrupted)
		interrupted = fmt.Sprintf(", %d interrupted", n)
		for _, r := range rs {
			if r.Status == script.Interrupted {
				fmt.Fprintf(w, "interrupted: %s [%s] (%s)\n", r.Case, r.Kernel, interruptedWhere(r))
			}
		}
	}
	if n := counts[script.Broken]; n > 0 {
		interrupted += fmt.Sprintf(", %d known broken", n)
	}
	fmt.Fprintf(w, "%s: %d passed, %d failed, %d skipped%s\n", status, counts[script.Pass], counts[script.Fail], counts[script.Skip], interrupted)
}

// interruptedWhere says how far an interrupted case had got: not started,
// booting, or the last step it began.
func interruptedWhere(r script.Result) string {
	switch steps := r.Record.Steps; {
	case len(steps) > 0:
		return "during " + steps[len(steps)-1].Line
	case r.Record.Booting:
		return "while booting"
	}
	return "not started"
}

// Matrix is the compatibility table of results, when they are of more
// than one kernel; of one kernel, the reasons of its failures alone.
func Matrix(rs []script.Result) string {
	t := NewTable(PairsOf(rs))
	if len(t.Kernels) < 2 {
		return t.reasonsText()
	}
	return t.Text()
}

// Artifacts names the run's output directory, then, for each failure, the
// files to read first: its transcript, the diffs of goldens that did not
// match, its steps, the kernel's console and log.
func Artifacts(w io.Writer, dir string, rs []script.Result) {
	fmt.Fprintf(w, "artifacts: %s\n", dir)
	for _, r := range rs {
		if r.Status != script.Fail || r.Dir == "" {
			continue
		}
		fmt.Fprintf(w, "failed: %s [%s]\n", r.Case, r.Kernel)
		steps := false
		for _, f := range r.Files {
			if filepath.Base(filepath.Dir(f)) == StepsDir {
				steps = true
				continue
			}
			fmt.Fprintf(w, "    %s\n", f)
		}
		if steps {
			fmt.Fprintf(w, "    %s%c\n", filepath.Join(r.Dir, StepsDir), filepath.Separator)
		}
		for _, name := range []string{"console.log", "kernel.log"} {
			if p := filepath.Join(r.Dir, name); exists(p) {
				fmt.Fprintf(w, "    %s\n", p)
			}
		}
		if r.ArtifactErr != nil {
			fmt.Fprintf(w, "    (not all written: %v)\n", r.ArtifactErr)
		}
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
