package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/kmodcheck/kmodcheck/runner/cache"
	"github.com/kmodcheck/kmodcheck/runner/kernel"
)

const kernelsUsage = `usage: kmodcheck kernels               list the kernels kmodcheck can boot and build for, and their release roots
       kmodcheck kernels available [PATTERN]
                                       list the kernels the archive's suites have
       kmodcheck kernels fetch [-n] NAME...
                                       get a Debian kernel and its headers into the cache
       kmodcheck kernels update        fetch the archive's package lists again
       kmodcheck kernels rm NAME...    remove fetched kernels or release roots (by name, "roots" for all,
                                       "unused" for userlands no machine is made from)

NAME is a release (6.12.111+deb12-rt-amd64), a version (6.12), a version and
a flavour (6.12-rt), a glob (6.12.*-rt-amd64) or "span" (the newest kernel of
each suite in KMODCHECK_SPAN); the newest matching release any suite has is
fetched, the plain amd64 flavour unless NAME names another. -n only shows what
would be downloaded. The archive is KMODCHECK_ARCHIVE (default: the Debian
archive the host's apt sources use), its suites KMODCHECK_SUITES.
`

// kernelsCmd runs kmodcheck kernels and its subcommands.
func kernelsCmd(ctx context.Context, args []string, std stdio) error {
	stdout := std.out
	if len(args) == 0 {
		return kernelsList(stdout)
	}
	switch args[0] {
	case "fetch":
		return kernelsFetch(ctx, args[1:], stdout)
	case "available":
		return kernelsAvailable(ctx, args[1:], stdout)
	case "update":
		return kernelsUpdate(ctx, stdout)
	case "rm":
		return kernelsRm(ctx, args[1:], stdout)
	case "-h", "-help", "--help", "help":
		return errHelp(kernelsUsage)
	}
	return errUsage(kernelsUsage)
}

func kernelsList(stdout io.Writer) error {
	c, err := cache.Default()
	if err != nil {
		return setupError(err)
	}
	ks, err := kernel.Discover(c)
	if err != nil {
		return setupError(err)
	}
	if len(ks) == 0 {
		fmt.Fprintln(stdout, "no kernels: install linux-image-amd64 and linux-headers-amd64 (make setup), or fetch one (kmodcheck kernels fetch 6.12)")
		return nil
	}
	defer listRoots(c, stdout)
	fmt.Fprintf(stdout, "%-28s %-12s %-10s %s\n", "RELEASE", "FLAVOUR", "STATUS", "SOURCE")
	for _, k := range ks {
		status := "complete"
		switch {
		case len(k.Mismatch) > 0:
			status = "mismatch"
		case !k.Complete():
			status = "incomplete"
		}
		source := k.Source()
		if !k.System() {
			source = "cache " + source + " (" + k.Suite + ")"
		}
		fmt.Fprintf(stdout, "%-28s %-12s %-10s %s\n", k.Release, k.Flavour, status, source)
		for _, m := range k.Missing {
			fmt.Fprintf(stdout, "    missing %s\n", m)
		}
		for _, m := range k.Mismatch {
			fmt.Fprintf(stdout, "    mismatch: %s\n", m)
		}
		if !k.Complete() && !k.System() {
			fmt.Fprintf(stdout, "    fetch it again: kmodcheck kernels fetch %s\n", k.Release)
		}
	}
	return nil
}

func kernelsFetch(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("kernels fetch", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dryRun := fs.Bool("n", false, "only show what would be downloaded")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return errHelp(kernelsUsage)
		}
		return errUsage(err.Error() + "\n" + kernelsUsage)
	}
	if fs.NArg() == 0 {
		return errUsage(kernelsUsage)
	}
	f, err := newFetcher(stdout)
	if err != nil {
		return err
	}
	names, err := expandSpan(ctx, f, fs.Args())
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range names {
		k, err := f.Fetch(ctx, name, *dryRun)
		if err != nil {
			errs = append(errs, fmt.Errorf("fetch %s: %s", name, strings.TrimSpace(err.Error())))
			continue
		}
		if k != nil {
			fmt.Fprintf(stdout, "use it: kmodcheck run -kernel %s cases/\n", k.Release)
		}
	}
	return errors.Join(errs...)
}

// newFetcher returns a fetcher into the user's cache of the archive the
// environment names, its progress to out.
func newFetcher(out io.Writer) (*kernel.Fetcher, error) {
	c, err := cache.Default()
	if err != nil {
		return nil, setupError(err)
	}
	a, err := kernel.NewArchive(c)
	if err != nil {
		return nil, setupError(err)
	}
	return &kernel.Fetcher{Cache: c, Archive: a, Out: out}, nil
}

// expandSpan replaces the name "span" with the releases it stands for.
func expandSpan(ctx context.Context, f *kernel.Fetcher, names []string) ([]string, error) {
	var out []string
	for _, n := range names {
		if n != kernel.SpanName {
			out = append(out, n)
			continue
		}
		span, err := f.Span(ctx)
		if err != nil {
			return nil, err
		}
		for _, o := range span {
			out = append(out, o.Release)
		}
	}
	return out, nil
}

func kernelsAvailable(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) > 1 {
		return errUsage(kernelsUsage)
	}
	f, err := newFetcher(io.Discard)
	if err != nil {
		return err
	}
	offers, err := f.Available(ctx, true)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%-30s %-20s %-10s %10s\n", "RELEASE", "SUITE", "FLAVOUR", "DOWNLOAD")
	for _, o := range offers {
		if len(args) == 1 && !kernel.Match(args[0], o.Release) {
			continue
		}
		fmt.Fprintf(stdout, "%-30s %-20s %-10s %10s\n", o.Release, o.Suite, kernel.Flavour(o.Release), kernel.Size(o.Size))
	}
	return nil
}

func kernelsUpdate(ctx context.Context, stdout io.Writer) error {
	f, err := newFetcher(stdout)
	if err != nil {
		return err
	}
	return f.Update(ctx, true)
}

func kernelsRm(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errUsage(kernelsUsage)
	}
	c, err := cache.Default()
	if err != nil {
		return setupError(err)
	}
	roots := &kernel.Roots{Cache: c}
	var errs []error
	for _, name := range args {
		var names []string
		switch {
		case name == "roots":
			for _, r := range roots.List() {
				names = append(names, r.Name)
			}
		case name == "unused":
			for _, r := range roots.List() {
				if r.Unused {
					names = append(names, r.Name)
				}
			}
		case kernel.FetchedRoot(c, name) != "":
			dir := kernel.FetchedRoot(c, name)
			if err := os.RemoveAll(dir); err != nil {
				errs = append(errs, fmt.Errorf("rm %s: %w", name, err))
				continue
			}
			fmt.Fprintf(stdout, "removed %s\n", dir)
			names = append(names, name) // its machine root, if any
		default:
			names = append(names, name)
		}
		for _, n := range names {
			err := roots.Remove(ctx, n)
			switch {
			case err == nil:
				fmt.Fprintf(stdout, "removed the root %s\n", n)
			case n == name && kernel.FetchedRoot(c, name) == "" && name != "roots" && name != "unused":
				errs = append(errs, fmt.Errorf("rm %s: %w", n, err))
			}
		}
	}
	return errors.Join(errs...)
}

// listRoots lists the release roots in the cache, with their sizes.
func listRoots(c cache.Dir, stdout io.Writer) {
	roots := (&kernel.Roots{Cache: c}).List()
	if len(roots) == 0 {
		return
	}
	fmt.Fprintf(stdout, "\n%-36s %-16s %10s  %s\n", "ROOT", "KIND", "SIZE", "DIRECTORY")
	var unused int64
	for _, r := range roots {
		size, kind := kernel.Size(r.Size), r.Kind
		if r.Kind == "machine" {
			size = "(links)"
		}
		if r.Unused {
			kind += ", unused"
			unused += r.Size
		}
		fmt.Fprintf(stdout, "%-36s %-16s %10s  %s\n", r.Name, kind, size, r.Dir)
	}
	fmt.Fprintln(stdout, "remove one with kmodcheck kernels rm NAME, all with kmodcheck kernels rm roots")
	if unused > 0 {
		fmt.Fprintf(stdout, "%s in userlands no machine is made from (replaced by a newer package list): kmodcheck kernels rm unused\n", kernel.Size(unused))
	}
}
