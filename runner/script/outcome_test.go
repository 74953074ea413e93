package script

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestScriptPos: a command learns the case file and the line it runs on
// from testscript's TestScript (scriptPos reads what its API does not
// give); and a check's line reads back from the file.
func TestScriptPos(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pos.txtar")
	if err := os.WriteFile(file, []byte("# a comment\nwhere\n\nexists pos.txt\nwhere\n-- pos.txt --\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var lines []int
	var files []string
	t.Run("script", func(t *testing.T) { // returns once its parallel subtest has run
		testscript.Run(t, testscript.Params{
			Files: []string{file},
			Cmds: map[string]func(*testscript.TestScript, bool, []string){
				"where": func(ts *testscript.TestScript, neg bool, args []string) {
					f, l := scriptPos(ts)
					files, lines = append(files, f), append(lines, l)
				},
			},
		})
	})
	if len(lines) != 2 || lines[0] != 2 || lines[1] != 5 || files[0] != file {
		t.Errorf("positions %v %v, want lines 2 and 5 of %s", files, lines, file)
	}
	if got := sourceLine(file, 4); got != "exists pos.txt" {
		t.Errorf("line 4 reads %q", got)
	}
}
