package targettest

import (
	"flag"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// Commands are testscript commands with which a case scripts its own
// session, each about the next step:
//
//	next [-exit N] [-stdout TEXT] [-stderr TEXT] [-timedout] [-bash] [RECORD...]
//	    the next step's result, and the kernel records it logs (Step)
//	later DURATION RECORD...
//	    records the kernel logs DURATION after the next step ends (Later)
//	sent LINE
//	    the line the last step gave the target was exactly LINE
func (f *Target) Commands() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	return map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"next": func(ts *testscript.TestScript, neg bool, args []string) {
			fs := flag.NewFlagSet("next", flag.ContinueOnError)
			var st Step
			fs.IntVar(&st.Exit, "exit", 0, "")
			fs.StringVar(&st.Stdout, "stdout", "", "")
			fs.StringVar(&st.Stderr, "stderr", "", "")
			fs.BoolVar(&st.TimedOut, "timedout", false, "")
			fs.BoolVar(&st.Bash, "bash", false, "")
			if err := fs.Parse(args); err != nil {
				ts.Fatalf("next: %v", err)
			}
			st.Records = fs.Args()
			f.Session(ts.Name()).Next(st)
		},
		"later": func(ts *testscript.TestScript, neg bool, args []string) {
			if len(args) < 2 {
				ts.Fatalf("usage: later duration record...")
			}
			d, err := time.ParseDuration(args[0])
			ts.Check(err)
			f.Session(ts.Name()).Later(d, args[1:]...)
		},
		"sent": func(ts *testscript.TestScript, neg bool, args []string) {
			if len(args) != 1 {
				ts.Fatalf("usage: sent line")
			}
			sent := f.Session(ts.Name()).Sent()
			if len(sent) == 0 {
				ts.Fatalf("sent: no step has run")
			}
			if got := sent[len(sent)-1]; got != args[0] {
				ts.Fatalf("the target was sent %q, want %q", got, args[0])
			}
		},
	}
}
