package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// stopSignals are the signals that stop a command cleanly: Ctrl-C, a CI
// job's cancel, a closed terminal.
var stopSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP}

// An interruption is the cause of a command's context when a signal
// stopped it.
type interruption struct{ sig syscall.Signal }

func (i interruption) Error() string { return "interrupted by " + signalName(i.sig) }

// signalName is the signal's conventional name, SIGINT for interrupt.
func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	}
	return s.String()
}

// withStopSignals returns a context that the first stop signal cancels,
// with an interruption as its cause, so that every VM, step and request
// under it ends and the command can still write its reports. A second
// stop signal ends the process at once, with the shell's status for that
// signal; QEMU dies with it (see runner/qemu's reaper). stop releases the
// signals.
func withStopSignals(parent context.Context) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, stopSignals...)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			cancel(interruption{s.(syscall.Signal)})
		case <-done:
			return
		}
		select {
		case s := <-sigs:
			fmt.Fprintf(os.Stderr, "\nkmodcheck: %s again: stopping at once\n", signalName(s.(syscall.Signal)))
			os.Exit(exitStatus(s.(syscall.Signal)))
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel(nil)
	}
}

// interruptedBy returns the signal that stopped ctx's command, if one did.
func interruptedBy(ctx context.Context) (syscall.Signal, bool) {
	var i interruption
	if errors.As(context.Cause(ctx), &i) {
		return i.sig, true
	}
	return 0, false
}

// exitStatus is the status a shell gives a process a signal ended: 128+n.
func exitStatus(s syscall.Signal) int { return 128 + int(s) }
