package kernel

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/kmodcheck/kmodcheck/runner/cache"
)

// SystemName is the kernel name that no pattern is: the system's newest
// complete kernel.
const SystemName = "system"

// Discover lists the system's kernels and those unpacked in the cache.
func Discover(c cache.Dir) ([]*Kernel, error) {
	ks, err := Scan("/")
	if err != nil {
		return nil, err
	}
	roots, _ := filepath.Glob(c.Path("kernels", "*"))
	for _, r := range roots {
		more, err := Scan(r)
		if err != nil {
			return nil, err
		}
		ks = append(ks, more...)
	}
	return ks, nil
}

// SelectNamed picks the kernel a name or pattern names, as -kernel takes
// it: SystemName names the system's newest complete kernel.
func SelectNamed(ks []*Kernel, name string) (*Kernel, error) {
	if name == SystemName {
		name = ""
	}
	return Select(ks, name)
}

// Obtain expands SpanName among names into the span's releases and, with
// fetch, fetches each name that matches no complete kernel here (showing
// progress on out), returning the names to select. A name of a kernel here
// that lacks a part is an error: someone put it here, and it is not
// replaced.
func Obtain(ctx context.Context, names []string, fetch bool, out io.Writer) ([]string, error) {
	var f *Fetcher
	fetcher := func() (*Fetcher, error) {
		if f != nil {
			return f, nil
		}
		c, err := cache.Default()
		if err != nil {
			return nil, err
		}
		a, err := NewArchive(c)
		if err != nil {
			return nil, err
		}
		f = &Fetcher{Cache: c, Archive: a, Out: out}
		return f, nil
	}
	names, err := expandSpan(ctx, names, fetcher)
	if err != nil || !fetch {
		return names, err
	}
	for i, n := range names {
		if names[i], err = fetchMissing(ctx, n, fetcher); err != nil {
			return nil, err
		}
	}
	return names, nil
}

// expandSpan replaces SpanName among names with the span's releases.
func expandSpan(ctx context.Context, names []string, fetcher func() (*Fetcher, error)) ([]string, error) {
	var out []string
	for _, n := range names {
		if n != SpanName {
			out = append(out, n)
			continue
		}
		f, err := fetcher()
		if err != nil {
			return nil, err
		}
		span, err := f.Span(ctx)
		if err != nil {
			return nil, fmt.Errorf("the kernel span: %w", err)
		}
		for _, s := range span {
			out = append(out, s.Release)
		}
	}
	return out, nil
}

// fetchMissing fetches the kernel name names if no complete kernel here
// matches it, returning the name to select.
func fetchMissing(ctx context.Context, name string, fetcher func() (*Fetcher, error)) (string, error) {
	c, err := cache.Default()
	if err != nil {
		return "", err
	}
	ks, err := Discover(c)
	if err != nil {
		return "", err
	}
	_, err = SelectNamed(ks, name)
	if err == nil || name == SystemName {
		return name, nil
	}
	if namesIncomplete(ks, name) {
		// Someone put it here: say what it lacks rather than replace it.
		return "", err
	}
	f, err := fetcher()
	if err != nil {
		return "", err
	}
	k, err := f.Fetch(ctx, name, false)
	if err != nil {
		return "", fmt.Errorf("kernel %s: not here, and fetching it failed: %w", name, err)
	}
	return k.Release, nil
}

// namesIncomplete reports whether release names a kernel here that lacks
// a part.
func namesIncomplete(ks []*Kernel, release string) bool {
	for _, k := range ks {
		if k.Release == release && !k.Complete() {
			return true
		}
	}
	return false
}
