package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/kmodcheck/kmodcheck/runner/cache"
	"github.com/kmodcheck/kmodcheck/runner/kernel"
	"github.com/kmodcheck/kmodcheck/runner/suite"
)

const kernelsUsage = `usage: kmodcheck kernels               list the kernels kmodcheck can boot and build for
       kmodcheck kernels fetch [-n] NAME...
                                       get a Debian kernel and its headers into the cache

NAME is a release (6.12.111+deb12-rt-amd64), a version (6.12), a version and
a flavour (6.12-rt) or a glob (6.12.*-rt-amd64); the newest matching release
apt-cache knows is fetched, the plain amd64 flavour unless NAME names another.
-n only shows what would be downloaded.
`

func kernelsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "fetch" {
		return kernelsFetchCmd(ctx, args[1:], stdout, stderr)
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
			source = "cache " + source
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
	f := &kernel.Fetcher{Cache: c, Out: stdout}
	status := 0
	for _, name := range fs.Args() {
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
