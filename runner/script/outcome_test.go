package script

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/kmodcheck/kmodcheck/runner/kmsg"
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

// A fault's failure names the kernel report's title, the case's work
// directory as $WORK, for the reports' reason.
func TestFaultFailureTitle(t *testing.T) {
	st := &caseState{work: "/tmp/work-1", steps: 3}
	f := faultFailure(st, "insmod ./oops.ko", "the kernel reported an oops:", kmsg.Fault{
		Kind:  "oops",
		Title: "BUG: kernel NULL pointer dereference, address: 0000000000000000",
		Lines: []string{"BUG: kernel NULL pointer dereference, address: 0000000000000000", "RIP: 0010:oops_init+0x5/0x20 [oops]", "loaded from /tmp/work-1/oops.ko"},
	})
	if f.Kind != FailFault || f.Step != 3 || f.Fault != "BUG: kernel NULL pointer dereference, address: 0000000000000000" {
		t.Errorf("fault failure %+v", f)
	}
	f = faultFailure(st, "insmod ./x.ko", "the kernel reported a warning:", kmsg.Fault{Kind: "warning", Title: "WARNING: CPU: 0 PID: 1 at /tmp/work-1/x.c:9 x_init"})
	if f.Fault != "WARNING: CPU: 0 PID: 1 at $WORK/x.c:9 x_init" {
		t.Errorf("fault title %q, want the work directory as $WORK", f.Fault)
	}
}
