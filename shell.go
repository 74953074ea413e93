package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"

	"github.com/rogpeppe/go-internal/txtar"
	"golang.org/x/sys/unix"

	"github.com/kmodcheck/kmodcheck/runner/qemu"
	"github.com/kmodcheck/kmodcheck/runner/scratch"
	"github.com/kmodcheck/kmodcheck/runner/setup"
	"github.com/kmodcheck/kmodcheck/runner/suite"
	"github.com/kmodcheck/kmodcheck/runner/target"
)

// shellCmd boots the VM a case would get and gives an interactive shell in
// it; the command exits with the shell's exit status.
func shellCmd(ctx context.Context, args []string, std stdio) error {
	stdin, stdout, stderr := std.in, std.out, std.err
	fs := flag.NewFlagSet("shell", flag.ContinueOnError)
	fs.SetOutput(stderr)
	opts := setup.Options{Target: "qemu"}
	fs.StringVar(&opts.Kernel, "kernel", "", "kernel `release` or pattern (default: newest complete)")
	fs.StringVar(&opts.Accel, "accel", "auto", "qemu accelerator: auto (probe KVM, else TCG), kvm or tcg")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: kmodcheck shell [flags] [case.txtar]\n\n"+
			"Boots the VM a case gets and runs an interactive shell in it, in a new work\n"+
			"directory holding the case's archive files. Exiting the shell powers the VM\n"+
			"off; the exit status is the shell's.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	if fs.NArg() > 1 {
		fs.Usage()
		return errUsage("")
	}
	fail := func(err error) error {
		if sig, ok := interruptedBy(ctx); ok {
			err = fmt.Errorf("%s stopped the shell", signalName(sig))
		}
		return failed("", 2, err)
	}

	work, err := scratch.Dir("shell")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(work)
	name := "shell"
	if fs.NArg() == 1 {
		name = suite.CaseName(fs.Arg(0))
		if err := unpackShellCase(fs.Arg(0), work, stderr); err != nil {
			return fail(err)
		}
	}

	vm, err := bootShell(ctx, opts, target.Case{Name: name, WorkDir: work}, stderr)
	if err != nil {
		return fail(err)
	}
	defer vm.Close(ctx) // at once when ctx is done: a stop signal

	sh := qemu.Shell{Dir: work, Term: "dumb", Stdin: stdin, Stdout: stdout, Piped: true}
	restore, err := attachTerminal(stdin, &sh)
	if err != nil {
		return fail(err)
	}
	defer restore()
	code, err := vm.Shell(ctx, sh)
	restore()
	if err != nil {
		fmt.Fprintln(stderr) // the shell's last line may be unfinished
		return fail(err)
	}
	if code != 0 {
		return statusError(code)
	}
	return nil
}

// shellSession is a VM's session that gives an interactive shell.
type shellSession interface {
	target.Session
	Shell(context.Context, qemu.Shell) (int, error)
	HostBuild(line string) string
}

// bootShell boots the VM a case gets for its shell, saying so on stderr,
// and how to build for its kernel on the host.
func bootShell(ctx context.Context, opts setup.Options, c target.Case, stderr io.Writer) (shellSession, error) {
	tg, err := opts.NewTarget()
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "kmodcheck: booting %s...\n", tg.(*qemu.Target).Kernel.Release)
	s, err := tg.Start(ctx, c)
	if err != nil {
		return nil, err
	}
	vm, ok := s.(shellSession)
	if !ok {
		s.Close(ctx)
		return nil, errors.New("the target has no shell")
	}
	info, err := s.Ready(ctx)
	if err != nil {
		s.Close(ctx)
		return nil, err
	}
	fmt.Fprintf(stderr, "kmodcheck: %s %s, %s: ready in %.1fs\n", info.Target, info.Release, info.Accel, info.Boot.Seconds())
	fmt.Fprintf(stderr, "kmodcheck: work directory %s (the same path on the host; removed when the shell exits)\n", c.WorkDir)
	fmt.Fprintf(stderr, "kmodcheck: make is slow in the guest; on the host, this builds for the guest's kernel:\n  cd %s && %s\n", c.WorkDir, vm.HostBuild("make"))
	return vm, nil
}

// unpackShellCase writes a case's archive files into the shell's work
// directory, and says which module lines it does not follow.
func unpackShellCase(file, work string, stderr io.Writer) error {
	modules, err := unpackCase(file, work)
	if err != nil {
		return err
	}
	for _, m := range modules {
		fmt.Fprintf(stderr, "kmodcheck: the case's \"module %s\" is not run; copy modules/%s/* into the work directory to have it\n", m, m)
	}
	return nil
}

// attachTerminal gives the guest's shell stdin's terminal, if it is one:
// its type and size, raw mode, and its size again when the window changes.
// restore gives the terminal back as it was; it may be called twice.
func attachTerminal(stdin *os.File, sh *qemu.Shell) (restore func(), err error) {
	fd := int(stdin.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return func() {}, nil // not a terminal: the shell is piped
	}
	sh.Piped = false
	if t := os.Getenv("TERM"); t != "" {
		sh.Term = t
	}
	sh.Rows, sh.Cols = windowSize(fd)
	if err := makeRaw(fd, *old); err != nil {
		return nil, fmt.Errorf("terminal: %w", err)
	}
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	resize := make(chan qemu.WindowSize, 1)
	sh.Resize = resize
	go func() {
		for range winch {
			rows, cols := windowSize(fd)
			select {
			case <-resize: // replace a size not sent yet
			default:
			}
			resize <- qemu.WindowSize{Rows: rows, Cols: cols}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			signal.Stop(winch)
			close(winch)
			unix.IoctlSetTermios(fd, unix.TCSETS, old)
		})
	}, nil
}

// unpackCase writes a case's archive files into dir and returns the module
// directories its script names: the shell copies none of them.
func unpackCase(file, dir string) (modules []string, err error) {
	ar, err := txtar.ParseFile(file)
	if err != nil {
		return nil, err
	}
	for _, f := range ar.Files {
		name := filepath.Clean(f.Name)
		if filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return nil, fmt.Errorf("%s: archive file %s is outside the work directory", file, f.Name)
		}
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, f.Data, 0o644); err != nil {
			return nil, err
		}
	}
	for _, m := range moduleLine.FindAllStringSubmatch(string(ar.Comment), -1) {
		modules = append(modules, m[1])
	}
	return modules, nil
}

var moduleLine = regexp.MustCompile(`(?m)^\s*module\s+(\S+)\s*$`)

func windowSize(fd int) (rows, cols int) {
	ws, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
	if err != nil {
		return 0, 0
	}
	return int(ws.Row), int(ws.Col)
}

// makeRaw puts the terminal in raw mode, as cfmakeraw(3) does: every key
// goes to the guest as it is typed, ^C and ^Z included.
func makeRaw(fd int, t unix.Termios) error {
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, &t)
}
