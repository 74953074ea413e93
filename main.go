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
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/kmodcheck/kmodcheck/runner/guest"
	"github.com/kmodcheck/kmodcheck/runner/suite"
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

// usageError is a command line that names no command the subcommand has:
// its text (the subcommand's usage) goes to stderr, and kmodcheck exits 2,
// or 0 when help was asked for.
type usageError struct {
	text string
	help bool
}

func (e *usageError) Error() string { return e.text }

func errUsage(text string) error { return &usageError{text: text} }
func errHelp(text string) error  { return &usageError{text: text, help: true} }

// setupError marks an error of the machine's set-up (no cache, no archive):
// kmodcheck exits 2 rather than 1.
func setupError(err error) error { return &suite.SetupError{Err: err} }

// exitCode prints err, if any, and maps it to kmodcheck's exit status: 0
// none, 2 usage or set-up, 1 any other failure.
func exitCode(err error, stderr io.Writer) int {
	var usage *usageError
	var setup *suite.SetupError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &usage):
		fmt.Fprint(stderr, usage.text)
		if usage.help {
			return 0
		}
		return 2
	case errors.As(err, &setup):
		fmt.Fprintf(stderr, "kmodcheck: %v\n", err)
		return 2
	}
	fmt.Fprintf(stderr, "kmodcheck: %v\n", err)
	return 1
}
