package script

import (
	"errors"
	"io/fs"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/kmodcheck/kmodcheck/runner/golden"
)

// A goldenFile is the golden a kmsg or out command compares with: where
// it is read and where -update writes it, its text, and its parse (nil
// when it is missing).
type goldenFile struct {
	path, updatePath string
	data             []byte
	missing          bool
	parsed           *golden.Golden
}

// loadGolden reads the golden at path, which -update rewrites at
// updatePath, and parses it with parse. An unreadable or malformed golden
// stops the command cmd; a missing one is the caller's to report or, with
// -update, to write.
func loadGolden(ts *testscript.TestScript, cmd, path, updatePath string, parse func(path string, data []byte) (*golden.Golden, error)) goldenFile {
	gf := goldenFile{path: path, updatePath: updatePath}
	data, err := readGolden(path)
	gf.missing = errors.Is(err, fs.ErrNotExist)
	if err != nil && !gf.missing {
		ts.Fatalf("%s: %v", cmd, err)
	}
	gf.data = data
	if !gf.missing {
		if gf.parsed, err = parse(path, data); err != nil {
			ts.Fatalf("%v", err)
		}
	}
	return gf
}

// write writes text as the golden's update, or stops the command cmd.
func (gf goldenFile) write(ts *testscript.TestScript, cmd string, text []byte) {
	if err := golden.Write(gf.updatePath, text); err != nil {
		ts.Fatalf("%s: update %s: %v", cmd, gf.updatePath, err)
	}
}
