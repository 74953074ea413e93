// Package kernel finds the kernels kmodcheck can test against: an image to
// boot, the modules it needs at boot, and the headers a tutorial's Makefile
// builds against, all of one release.
package kernel

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// A Kernel is one release with what it takes to boot it and build for it.
type Kernel struct {
	Release string   // uname -r, e.g. 6.1.0-56-amd64
	Flavour string   // e.g. amd64, rt-amd64
	Root    string   // "/" for the system's kernels, else the unpacked packages' root
	Image   string   // the bootable image (bzImage)
	Modules string   // the modules directory, with modules.dep
	Headers string   // the build directory the Makefile's `make -C` uses
	Missing []string // what is absent, as the package that provides it
}

// Complete reports whether the kernel can be booted and built for.
func (k *Kernel) Complete() bool { return len(k.Missing) == 0 }

// Source says where the kernel came from, for listings.
func (k *Kernel) Source() string {
	if k.Root == "/" {
		return "system"
	}
	return k.Root
}

func (k *Kernel) String() string { return k.Release }

// Scan lists the kernels under root, complete or not, newest first.
func Scan(root string) ([]*Kernel, error) {
	releases := map[string]bool{}
	images, _ := filepath.Glob(filepath.Join(root, "boot", "vmlinuz-*"))
	for _, img := range images {
		releases[strings.TrimPrefix(filepath.Base(img), "vmlinuz-")] = true
	}
	dirs, _ := filepath.Glob(filepath.Join(root, "lib", "modules", "*"))
	for _, d := range dirs {
		releases[filepath.Base(d)] = true
	}
	var ks []*Kernel
	for rel := range releases {
		ks = append(ks, inspect(root, rel))
	}
	sort.Slice(ks, func(i, j int) bool { return newer(ks[i].Release, ks[j].Release) })
	return ks, nil
}

func inspect(root, rel string) *Kernel {
	k := &Kernel{
		Release: rel,
		Flavour: Flavour(rel),
		Root:    root,
		Image:   filepath.Join(root, "boot", "vmlinuz-"+rel),
		Modules: filepath.Join(root, "lib", "modules", rel),
		Headers: filepath.Join(root, "lib", "modules", rel, "build"),
	}
	if _, err := os.Stat(k.Image); err != nil {
		k.Missing = append(k.Missing, "linux-image-"+rel+" (no "+k.Image+")")
	}
	if _, err := os.Stat(filepath.Join(k.Modules, "modules.dep")); err != nil {
		if len(k.Missing) == 0 {
			k.Missing = append(k.Missing, "linux-image-"+rel+" (no "+k.Modules+"/modules.dep)")
		}
	}
	if _, err := os.Stat(filepath.Join(k.Headers, "Makefile")); err != nil {
		k.Missing = append(k.Missing, "linux-headers-"+rel+" (no "+k.Headers+"/Makefile)")
	}
	return k
}

var flavourRE = regexp.MustCompile(`^[0-9][^-]*-(?:[0-9][^-]*-)?(.*)$`)

// Flavour returns the part of a Debian release after its version numbers:
// "amd64" for 6.1.0-56-amd64, "rt-amd64" for 6.12.57+deb13-rt-amd64.
func Flavour(release string) string {
	if m := flavourRE.FindStringSubmatch(release); m != nil {
		return m[1]
	}
	return ""
}

// Match reports whether a kernel name given by a user selects release: a
// glob (6.12.*-rt-amd64), an exact release, or a version prefix that ends at
// a dot or dash (6.1 selects 6.1.0-56-amd64, not 6.12.57+deb13-amd64).
func Match(pattern, release string) bool {
	if strings.ContainsAny(pattern, "*?[") {
		ok, _ := path.Match(pattern, release)
		return ok
	}
	if !strings.HasPrefix(release, pattern) {
		return false
	}
	rest := release[len(pattern):]
	return rest == "" || rest[0] == '.' || rest[0] == '-' || rest[0] == '+'
}

// Select picks the kernel a user's pattern names among ks: the complete
// matching kernels, preferring the plain flavour over -rt and others unless
// the pattern names it, then the newest. An empty pattern selects the newest
// complete kernel.
func Select(ks []*Kernel, pattern string) (*Kernel, error) {
	var matched, incomplete []*Kernel
	for _, k := range ks {
		if pattern != "" && !Match(pattern, k.Release) {
			continue
		}
		if k.Complete() {
			matched = append(matched, k)
		} else {
			incomplete = append(incomplete, k)
		}
	}
	if len(matched) == 0 {
		name := pattern
		if name == "" {
			name = "any"
		}
		if len(incomplete) > 0 {
			k := incomplete[0]
			return nil, fmt.Errorf("kernel %s (%s) is incomplete: missing %s", k.Release, k.Source(), strings.Join(k.Missing, ", "))
		}
		return nil, fmt.Errorf("no kernel matches %q: install linux-image-amd64 and linux-headers-amd64 (make setup), or see `kmodcheck kernels`", name)
	}
	sort.SliceStable(matched, func(i, j int) bool {
		pi, pj := matched[i].Flavour == "amd64", matched[j].Flavour == "amd64"
		if pi != pj {
			return pi
		}
		return newer(matched[i].Release, matched[j].Release)
	})
	return matched[0], nil
}

// newer orders releases by their numbers, newest first.
func newer(a, b string) bool {
	na, nb := numbers(a), numbers(b)
	for i := 0; i < len(na) && i < len(nb); i++ {
		if na[i] != nb[i] {
			return na[i] > nb[i]
		}
	}
	if len(na) != len(nb) {
		return len(na) > len(nb)
	}
	return a > b
}

var numberRE = regexp.MustCompile(`[0-9]+`)

func numbers(s string) []int {
	var ns []int
	for _, m := range numberRE.FindAllString(s, -1) {
		n, _ := strconv.Atoi(m)
		ns = append(ns, n)
	}
	return ns
}
