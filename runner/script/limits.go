package script

import (
	"fmt"
	"io"
	"os"
	"slices"
	"unicode/utf8"

	"github.com/kmodcheck/kmodcheck/runner/golden"
	"github.com/kmodcheck/kmodcheck/runner/target"
)

// MaxCaseFile is the largest case file, its archive's files (a module's
// sources) included; Check refuses a larger one before reading it.
const MaxCaseFile = 4 << 20

// checkCaseSize refuses a case file over MaxCaseFile.
func checkCaseSize(file string) error {
	fi, err := os.Stat(file)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if fi.Size() > MaxCaseFile {
		return fmt.Errorf("%s: a case file of %d bytes: the most is %d", file, fi.Size(), MaxCaseFile)
	}
	return nil
}

// checkTargetLine says what makes a target command's line impossible to
// run as written ("" if nothing): a typed line longer than a terminal
// passes, or text that is not UTF-8, which the protocol to the guest (JSON)
// would change.
func checkTargetLine(l scriptLine) string {
	if l.name != "sh" && l.name != "make" && !slices.Contains(TargetTools, l.name) {
		return ""
	}
	typed := l.raw
	if l.name != "sh" && l.raw != "" {
		typed = l.name + " " + l.raw
	}
	if len(typed) > target.MaxLine {
		return fmt.Sprintf("%s: the line typed on the target is %d bytes; a terminal passes at most %d: put the command in an archive file and run it with sh bash ./script.sh", l.name, len(typed), target.MaxLine)
	}
	if !utf8.ValidString(l.text) {
		return fmt.Sprintf("%s: the line is not valid UTF-8, which the protocol to the target (JSON) cannot carry unchanged", l.name)
	}
	return ""
}

// readGolden reads a golden file, refusing one over golden.MaxFile
// without reading it whole. A missing file's error is os.Open's.
func readGolden(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > golden.MaxFile {
		return nil, fmt.Errorf("%s: a golden file of more than %d bytes: the most is %d", path, golden.MaxFile, golden.MaxFile)
	}
	data, err := io.ReadAll(io.LimitReader(f, golden.MaxFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > golden.MaxFile {
		return nil, fmt.Errorf("%s: a golden file of more than %d bytes: the most is %d", path, golden.MaxFile, golden.MaxFile)
	}
	return data, nil
}
