// Command kmodcheck proves that kernel-module tutorials still work: it runs
// each tutorial step in a real kernel and compares what the kernel printed
// with golden files.
//
// Usage:
//
//	kmodcheck run [flags] cases/ | case.txtar ...
//	kmodcheck kernels
//	kmodcheck report [flags] shard.json ...
//	kmodcheck bisect [flags] CASE GOOD BAD
//	kmodcheck help
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/kmodcheck/kmodcheck/runner/guest"
)

func main() {
	if guest.IsGuest() {
		guest.Main()
	}
	ctx, stop := withStopSignals(context.Background())
	code := kmodcheck(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `kmodcheck proves kernel-module tutorials still work.

Usage:
	kmodcheck run [flags] cases/ | case.txtar ...   run cases (kmodcheck run -h for flags)
	kmodcheck kernels                               list the kernels it can boot and build for
	kmodcheck kernels fetch NAME...                 get a Debian kernel and its headers into the cache
	kmodcheck shell [-kernel K] [case.txtar]        an interactive shell in the VM a case gets
	kmodcheck import [flags] session.txt            write a case from a pasted terminal session
	kmodcheck report [flags] shard.json ...         merge the -json reports of a run's shards into one table and reports
	kmodcheck bisect [flags] CASE GOOD BAD          find the first release between two kernels where a case fails
	kmodcheck help                                  this text

Exit status: 0 all cases passed, 1 a case failed, 2 usage or set-up error;
128+N when signal N stopped it (130 SIGINT, 143 SIGTERM, 129 SIGHUP).
`

// kmodcheck runs the command args name. A command that a stop signal
// interrupted exits as the shell says a process that signal ended does
// (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP), once it has cleaned up
// and written what it could.
func kmodcheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	code := command(ctx, args, stdout, stderr)
	if sig, ok := interruptedBy(ctx); ok {
		return exitStatus(sig)
	}
	return code
}

func command(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
		return runCmd(ctx, args[1:], stdout, stderr)
	case "shell":
		return shellCmd(ctx, args[1:], os.Stdin, stdout, stderr)
	case "kernels":
		return kernelsCmd(ctx, args[1:], stdout, stderr)
	case "import":
		return importCmd(args[1:], stdout, stderr)
	case "report":
		return reportCmd(args[1:], stdout, stderr)
	case "bisect":
		return bisectCmd(ctx, args[1:], stdout, stderr, archiveBisect(stderr))
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		fmt.Fprintln(stdout)
		runHelp(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "kmodcheck: unknown command %q\n\n%s", args[0], usage)
	return 2
}
