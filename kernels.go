package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/kmodcheck/kmodcheck/runner/cache"
	"github.com/kmodcheck/kmodcheck/runner/kernel"
	"github.com/kmodcheck/kmodcheck/runner/suite"
)

const kernelsUsage = `usage: kmodcheck kernels               list the kernels kmodcheck can boot and build for, and their release roots
       kmodcheck kernels available [PATTERN]
                                       list the kernels the archive's suites have
       kmodcheck kernels fetch [-n] NAME...
                                       get a Debian kernel and its headers into the cache
       kmodcheck kernels update        fetch the archive's package lists again
       kmodcheck kernels rm NAME...    remove fetched kernels or release roots (by name, or "roots")

NAME is a release (6.12.111+deb12-rt-amd64), a version (6.12), a version and
a flavour (6.12-rt), a glob (6.12.*-rt-amd64) or "span" (the newest kernel of
each suite in KMODCHECK_SPAN); the newest matching release any suite has is
fetched, the plain amd64 flavour unless NAME names another. -n only shows what
would be downloaded. The archive is KMODCHECK_ARCHIVE (default: the Debian
archive the host's apt sources use), its suites KMODCHECK_SUITES.
`

func kernelsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "fetch":
			return kernelsFetchCmd(ctx, args[1:], stdout, stderr)
		case "available":
			return kernelsAvailableCmd(ctx, args[1:], stdout, stderr)
		case "update":
			return kernelsUpdateCmd(ctx, stdout, stderr)
		case "rm":
			return kernelsRmCmd(ctx, args[1:], stdout, stderr)
		}
	}
	if len(args) > 0 {
		code := 2
		if args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
			code = 0
		}
		fmt.Fprint(stderr, kernelsUsage)
		return code
	}
	c, err := cache.Default()
	if err != nil {
		fmt.Fprintf(stderr, "kmodcheck: %v\n", err)
		return 2
	}
	ks, err := suite.Kernels(c)
	if err != nil {
		fmt.Fprintf(stderr, "kmodcheck: %v\n", err)
		return 2
	}
	if len(ks) == 0 {
		fmt.Fprintln(stdout, "no kernels: install linux-image-amd64 and linux-headers-amd64 (make setup), or fetch one (kmodcheck kernels fetch 6.12)")
		return 0
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
	return 0
}

func kernelsFetchCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kernels fetch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, kernelsUsage) }
	dryRun := fs.Bool("n", false, "only show what would be downloaded")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprint(stderr, kernelsUsage)
		return 2
	}
	c, err := cache.Default()
	if err != nil {
		fmt.Fprintf(stderr, "kmodcheck: %v\n", err)
		return 2
	}
	f, err := newFetcher(c, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "kmodcheck: %v\n", err)
		return 2
	}
	names, err := expandSpan(ctx, f, fs.Args())
	if err != nil {
		fmt.Fprintf(stderr, "kmodcheck: %v\n", err)
		return 1
	}
	status := 0
	for _, name := range names {
		k, err := f.Fetch(ctx, name, *dryRun)
		if err != nil {
			fmt.Fprintf(stderr, "kmodcheck: fetch %s: %v\n", name, strings.TrimSpace(err.Error()))
			status = 1
			continue
		}
		if k != nil {
			fmt.Fprintf(stdout, "use it: kmodcheck run -kernel %s cases/\n", k.Release)
		}
	}
	return status
}

// newFetcher returns a fetcher of the archive the environment names.
func newFetcher(c cache.Dir, out io.Writer) (*kernel.Fetcher, error) {
	a, err := kernel.NewArchive(c)
	if err != nil {
		return nil, err
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

func kernelsAvailableCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 1 {
		fmt.Fprint(stderr, kernelsUsage)
		return 2
	}
	c, err := cache.Default()
	if err != nil {
		fmt.Fprintf(stderr, "kmodcheck: %v\n", err)
		return 2
	}
	f, err := newFetcher(c, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "kmodcheck: %v\n", err)
		return 2
	}
	offers, err := f.Available(ctx, true)
	if err != nil {
		fmt.Fprintf(stderr, "kmodcheck: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%-30s %-20s %-10s %10s\n", "RELEASE", "SUITE", "FLAVOUR", "DOWNLOAD")
	for _, o := range offers {
		if len(args) == 1 && !kernel.Match(args[0], o.Release) {
			continue
		}
		fmt.Fprintf(stdout, "%-30s %-20s %-10s %10s\n", o.Release, o.Suite, kernel.Flavour(o.Release), kernel.Size(o.Size))
	}
	return 0
}

func kernelsUpdateCmd(ctx context.Context, stdout, stderr io.Writer) int {
	c, err := cache.Default()
	if err != nil {
		fmt.Fprintf(stderr, "kmodcheck: %v\n", err)
		return 2
	}
	f, err := newFetcher(c, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "kmodcheck: %v\n", err)
		return 2
	}
	if err := f.Update(ctx, true); err != nil {
		fmt.Fprintf(stderr, "kmodcheck: %v\n", err)
		return 1
	}
	return 0
}

func kernelsRmCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, kernelsUsage)
		return 2
	}
	c, err := cache.Default()
	if err != nil {
		fmt.Fprintf(stderr, "kmodcheck: %v\n", err)
		return 2
	}
	roots := &kernel.Roots{Cache: c}
	status := 0
	for _, name := range args {
		var names []string
		switch {
		case name == "roots":
			for _, r := range roots.List() {
				names = append(names, r.Name)
			}
		case kernel.FetchedRoot(c, name) != "":
			dir := kernel.FetchedRoot(c, name)
			if err := os.RemoveAll(dir); err != nil {
				fmt.Fprintf(stderr, "kmodcheck: rm %s: %v\n", name, err)
				status = 1
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
			case n == name && kernel.FetchedRoot(c, name) == "" && name != "roots":
				fmt.Fprintf(stderr, "kmodcheck: rm %s: %v\n", n, err)
				status = 1
			}
		}
	}
	return status
}

// listRoots lists the release roots in the cache, with their sizes.
func listRoots(c cache.Dir, stdout io.Writer) {
	roots := (&kernel.Roots{Cache: c}).List()
	if len(roots) == 0 {
		return
	}
	fmt.Fprintf(stdout, "\n%-36s %-9s %10s  %s\n", "ROOT", "KIND", "SIZE", "DIRECTORY")
	for _, r := range roots {
		size := kernel.Size(r.Size)
		if r.Kind == "machine" {
			size = "(links)"
		}
		fmt.Fprintf(stdout, "%-36s %-9s %10s  %s\n", r.Name, r.Kind, size, r.Dir)
	}
	fmt.Fprintln(stdout, "remove one with kmodcheck kernels rm NAME, all with kmodcheck kernels rm roots")
}
