package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/kmodcheck/kmodcheck/runner/cache"
	"github.com/kmodcheck/kmodcheck/runner/suite"
)

func kernelsCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "usage: kmodcheck kernels\n")
		return 2
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
		fmt.Fprintln(stdout, "no kernels: install linux-image-amd64 and linux-headers-amd64 (make setup)")
		return 0
	}
	fmt.Fprintf(stdout, "%-28s %-10s %-9s %s\n", "RELEASE", "FLAVOUR", "STATUS", "SOURCE")
	for _, k := range ks {
		status := "complete"
		if !k.Complete() {
			status = "missing " + strings.Join(k.Missing, ", ")
		}
		fmt.Fprintf(stdout, "%-28s %-10s %-9s %s\n", k.Release, k.Flavour, status, k.Source())
	}
	return 0
}
