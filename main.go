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
//
// kmodcheck help prints every command; each command's -h its flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/kmodcheck/kmodcheck/runner/guest"
	"github.com/kmodcheck/kmodcheck/runner/host"
	"github.com/kmodcheck/kmodcheck/runner/setup"
)

func main() {
	if guest.IsGuest() {
		guest.Main()
	}
	if host.IsGuard() {
		host.GuardMain()
	}
	ctx, stop := withStopSignals(context.Background())
	code := kmodcheck(ctx, os.Args[1:], stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr})
	stop()
	os.Exit(code)
}

// stdio is a command's standard streams.
type stdio struct {
	in       *os.File
	out, err io.Writer
}

// A command is one of kmodcheck's subcommands: the lines the usage text
// shows for it, and what runs it. Every command returns an error, which
// exitCode alone turns into a message and an exit status.
type command struct {
	name  string
	lines []usageLine
	run   func(ctx context.Context, args []string, std stdio) error
}

// A usageLine is one line of the usage text: a command line and what it does.
type usageLine struct{ args, does string }

// commands is kmodcheck's command table; the usage text is made from it,
// so the two cannot disagree.
func commands() []command {
	return []command{
		{"run", []usageLine{{"run [flags] cases/ | case.txtar ...", "run cases (kmodcheck run -h for flags)"}}, runCmd},
		{"kernels", []usageLine{
			{"kernels", "list the kernels it can boot and build for"},
			{"kernels fetch NAME...", "get a Debian kernel and its headers into the cache"},
		}, kernelsCmd},
		{"shell", []usageLine{{"shell [-kernel K] [case.txtar]", "an interactive shell in the VM a case gets"}}, shellCmd},
		{"import", []usageLine{{"import [flags] session.txt", "write a case from a pasted terminal session"}}, importCmd},
		{"report", []usageLine{{"report [flags] shard.json ...", "merge the -json reports of a run's shards into one table and reports"}}, reportCmd},
		{"bisect", []usageLine{{"bisect [flags] CASE GOOD BAD", "find the first release between two kernels where a case fails"}}, bisectCmd},
		{"help", []usageLine{{"help", "this text"}}, helpCmd},
	}
}

// usage is kmodcheck's usage text, from the command table.
func usage() string {
	var b strings.Builder
	b.WriteString("kmodcheck proves kernel-module tutorials still work.\n\nUsage:\n")
	for _, c := range commands() {
		for _, l := range c.lines {
			fmt.Fprintf(&b, "\t%-47s %s\n", "kmodcheck "+l.args, l.does)
		}
	}
	b.WriteString(`
Exit status: 0 all cases passed, 1 a case failed, 2 usage or set-up error;
128+N when signal N stopped it (130 SIGINT, 143 SIGTERM, 129 SIGHUP).
`)
	return b.String()
}

// kmodcheck runs the command args name and returns its exit status. A
// command that a stop signal interrupted exits as the shell says a process
// that signal ended does (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP),
// once it has cleaned up and written what it could.
func kmodcheck(ctx context.Context, args []string, std stdio) int {
	code := exitCode(dispatch(ctx, args, std), std.err)
	if sig, ok := interruptedBy(ctx); ok {
		return exitStatus(sig)
	}
	return code
}

// dispatch runs the command args[0] names with the rest of args.
func dispatch(ctx context.Context, args []string, std stdio) error {
	if len(args) == 0 {
		return errUsage(usage())
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help":
		name = "help"
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(ctx, args[1:], std)
		}
	}
	return errUsage(fmt.Sprintf("kmodcheck: unknown command %q\n\n%s", args[0], usage()))
}

// helpCmd is kmodcheck help: the usage text and kmodcheck run's flags.
func helpCmd(_ context.Context, _ []string, std stdio) error {
	fmt.Fprint(std.out, usage())
	fmt.Fprintln(std.out)
	runHelp(std.out)
	return nil
}

// usageError is a command line that names no command the subcommand has:
// its text (the subcommand's usage, if not printed already) goes to
// stderr, and kmodcheck exits 2, or 0 when help was asked for.
type usageError struct {
	text string
	help bool
}

func (e *usageError) Error() string { return e.text }

func errUsage(text string) error { return &usageError{text: text} }
func errHelp(text string) error  { return &usageError{text: text, help: true} }

// flagError is the error of a command's flag.FlagSet.Parse, which has
// already printed what was wrong, or the usage when -h asked for it.
func flagError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return errHelp("")
	}
	return errUsage("")
}

// setupError marks an error of the machine's set-up (no cache, no archive):
// kmodcheck exits 2 rather than 1.
func setupError(err error) error { return &setup.Error{Err: err} }

// commandError is a command's failure as it is to be printed, each error on
// a line of its own after prefix, and the exit status it gives.
type commandError struct {
	prefix string
	code   int
	errs   []error
}

// failed is a failure of the named command ("kmodcheck report: ...", or
// "kmodcheck: ..." for no name) with exit status code.
func failed(name string, code int, errs ...error) error {
	prefix := "kmodcheck: "
	if name != "" {
		prefix = "kmodcheck " + name + ": "
	}
	return &commandError{prefix: prefix, code: code, errs: errs}
}

func (e *commandError) Error() string {
	lines := make([]string, len(e.errs))
	for i, err := range e.errs {
		lines[i] = e.prefix + err.Error()
	}
	return strings.Join(lines, "\n")
}

func (e *commandError) Unwrap() []error { return e.errs }

// statusError ends a command with a status of its own and no message: what
// it had to say (a run's results, a shell's session) is said.
type statusError int

func (e statusError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// exitCode prints err, if any, and maps it to kmodcheck's exit status: 0
// none, 2 usage or set-up, the status a command chose, 1 any other failure.
func exitCode(err error, stderr io.Writer) int {
	var (
		usage    *usageError
		setupErr *setup.Error
		named    *commandError
		settled  statusError
	)
	switch {
	case err == nil:
		return 0
	case errors.As(err, &usage):
		fmt.Fprint(stderr, usage.text)
		if usage.help {
			return 0
		}
		return 2
	case errors.As(err, &settled):
		return int(settled)
	case errors.As(err, &named):
		fmt.Fprintln(stderr, named.Error())
		return named.code
	case errors.As(err, &setupErr):
		fmt.Fprintf(stderr, "kmodcheck: %v\n", err)
		return 2
	}
	fmt.Fprintf(stderr, "kmodcheck: %v\n", err)
	return 1
}
