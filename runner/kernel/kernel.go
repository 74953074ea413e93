// Package kernel finds the kernels kmodcheck can test against: an image to
// boot, the modules it needs at boot, and the headers a tutorial's Makefile
// builds against, all of one release.
package kernel

import (
	"bufio"
	"context"
	"encoding/json"
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
	Release  string   // uname -r, e.g. 6.1.0-56-amd64
	Flavour  string   // e.g. amd64, rt-amd64
	Root     string   // "/" for the system's kernels, else the unpacked packages' root
	Image    string   // the bootable image (bzImage)
	Modules  string   // the modules directory, with modules.dep
	Headers  string   // the build directory the Makefile's `make -C` uses, resolved within Root
	Missing  []string // what is absent, as the package that provides it
	Mismatch []string // parts that are present but of another release

	// Suite is the archive suite a fetched kernel came from, Needs what
	// its headers need to build (the compiler and kbuild's libraries):
	// its release root is made from them (root.go). Both are empty for
	// the system's kernels, which build and run on the host's own root.
	Suite string
	Needs []string
}

// metaFile is where a fetched kernel's root records what Fetch learnt.
const metaFile = "kmodcheck.json"

// Meta is what Fetch records beside a kernel it unpacked.
type Meta struct {
	Suite string   `json:"suite"`
	Needs []string `json:"needs"`
}

func writeMeta(root string, m Meta) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(root, metaFile), append(b, '\n'), 0o644)
}

func readMeta(root string) (Meta, error) {
	var m Meta
	b, err := os.ReadFile(filepath.Join(root, metaFile))
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%s: %w", filepath.Join(root, metaFile), err)
	}
	return m, nil
}

// Complete reports whether the kernel can be booted and built for: nothing
// is missing and image, modules and headers are all of its release.
func (k *Kernel) Complete() bool { return len(k.Missing) == 0 && len(k.Mismatch) == 0 }

// System reports whether the kernel is installed on this machine, as opposed
// to unpacked under a root of its own (kmodcheck kernels fetch).
func (k *Kernel) System() bool { return k.Root == "/" || k.Root == "" }

// Source says where the kernel came from, for listings.
func (k *Kernel) Source() string {
	if k.System() {
		return "system"
	}
	return k.Root
}

// Problem says why an incomplete kernel cannot be used; "" when it can.
func (k *Kernel) Problem() string {
	var parts []string
	if len(k.Missing) > 0 {
		parts = append(parts, "missing "+strings.Join(k.Missing, ", "))
	}
	if len(k.Mismatch) > 0 {
		parts = append(parts, "parts of another release: "+strings.Join(k.Mismatch, "; "))
	}
	return strings.Join(parts, "; ")
}

func (k *Kernel) String() string { return k.Release }

// Scan lists the kernels under root, complete or not, newest first.
func Scan(root string) ([]*Kernel, error) {
	root = filepath.Clean(root)
	releases := map[string]bool{}
	images, _ := filepath.Glob(filepath.Join(root, "boot", "vmlinuz-*"))
	for _, img := range images {
		releases[strings.TrimPrefix(filepath.Base(img), "vmlinuz-")] = true
	}
	images, _ = filepath.Glob(filepath.Join(root, "usr", "lib", "modules", "*", "vmlinuz"))
	for _, img := range images {
		releases[filepath.Base(filepath.Dir(img))] = true
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

// inspect looks at release rel under root: what is missing, then whether
// what is there belongs together. Paths inside a root other than "/" are
// resolved as if it were "/" (InRoot), since Debian's packages link with
// absolute paths (/lib/modules/REL/build -> /usr/src/linux-headers-REL).
func inspect(root, rel string) *Kernel {
	k := &Kernel{
		Release: rel,
		Flavour: Flavour(rel),
		Root:    root,
		Image:   filepath.Join(root, "boot", "vmlinuz-"+rel),
		Modules: filepath.Join(root, "lib", "modules", rel),
		Headers: InRoot(root, "/lib/modules/"+rel+"/build"),
	}
	if root == "/" {
		k.Headers = filepath.Join(k.Modules, "build")
	}
	// Debian's split 7.x packages install the image with the modules
	// (merged /usr), not in /boot.
	if _, err := os.Stat(k.Image); err != nil {
		if img := filepath.Join(root, "usr", "lib", "modules", rel, "vmlinuz"); fileExists(img) {
			k.Image = img
		}
	}
	if !k.System() {
		m, err := readMeta(root)
		if err != nil {
			k.Missing = append(k.Missing, metaFile+" (fetched by an older kmodcheck: fetch it again)")
		}
		k.Suite, k.Needs = m.Suite, m.Needs
	}
	where := func(p string) string { return p }
	if !k.System() {
		where = func(p string) string { return "/" + strings.TrimPrefix(strings.TrimPrefix(p, root), "/") }
	}
	haveImage, haveModules, haveHeaders := true, true, true
	if _, err := os.Stat(k.Image); err != nil {
		haveImage = false
		k.Missing = append(k.Missing, "linux-image-"+rel+" (no "+where(k.Image)+")")
	}
	if _, err := os.Stat(filepath.Join(k.Modules, "modules.dep")); err != nil {
		haveModules = false
		_, derr := os.Stat(k.Modules)
		switch {
		case derr == nil && !k.System():
			k.Missing = append(k.Missing, "modules.dep (run depmod -b "+root+" "+rel+")")
		case haveImage:
			k.Missing = append(k.Missing, "linux-image-"+rel+" (no "+where(k.Modules)+"/modules.dep)")
		}
	}
	if _, err := os.Stat(filepath.Join(k.Headers, "Makefile")); err != nil {
		haveHeaders = false
		k.Missing = append(k.Missing, "linux-headers-"+rel+" (no "+where(k.Modules)+"/build/Makefile)")
	} else {
		for _, m := range headersMissing(root, k.Headers) {
			haveHeaders = false
			k.Missing = append(k.Missing, m)
		}
	}
	verify(context.Background(), k, haveImage, haveModules, haveHeaders)
	return k
}

// headersMissing checks the packages a Debian headers directory leans on:
// the -common headers its Makefile includes by absolute path, and the
// linux-kbuild scripts its scripts link points at.
func headersMissing(root, headers string) []string {
	var missing []string
	f, err := os.Open(filepath.Join(headers, "Makefile"))
	if err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			inc, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "include ")
			if !ok || !filepath.IsAbs(inc) {
				continue
			}
			if _, err := os.Stat(InRoot(root, inc)); err != nil {
				pkg := filepath.Base(filepath.Dir(inc))
				if !strings.HasPrefix(pkg, "linux-headers-") {
					pkg = "headers"
				}
				missing = append(missing, pkg+" (no "+inc+")")
			}
		}
		f.Close()
	}
	scripts := filepath.Join(headers, "scripts")
	if _, err := os.Lstat(scripts); err != nil {
		return missing // not a Debian split: scripts are built in place
	}
	fixdep := filepath.Join(headers, "scripts", "basic", "fixdep")
	if root != "/" {
		rel := strings.TrimPrefix(headers, filepath.Clean(root))
		fixdep = InRoot(root, rel+"/scripts/basic/fixdep")
	}
	if _, err := os.Stat(fixdep); err != nil {
		pkg := "linux-kbuild"
		if target, err := os.Readlink(scripts); err == nil {
			for _, c := range strings.Split(target, "/") {
				if strings.HasPrefix(c, "linux-kbuild-") {
					pkg = c
				}
			}
		}
		missing = append(missing, pkg+" (no scripts/basic/fixdep in "+scripts+")")
	}
	return missing
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
// glob (6.12.*-rt-amd64), an exact release, a version prefix that ends at a
// dot or dash (6.1 selects 6.1.0-56-amd64, not 6.12.57+deb13-amd64), or a
// version prefix and a flavour prefix (6.12-rt selects 6.12.57+deb13-rt-amd64,
// 6.12-amd64 only the plain flavour).
func Match(pattern, release string) bool {
	if strings.ContainsAny(pattern, "*?[") {
		ok, _ := path.Match(pattern, release)
		return ok
	}
	if versionPrefix(pattern, release) {
		return true
	}
	fl := Flavour(release)
	if fl == "" || !strings.HasSuffix(release, "-"+fl) {
		return false
	}
	version := strings.TrimSuffix(release, "-"+fl)
	for i := 0; i < len(pattern); i++ {
		if pattern[i] != '-' {
			continue
		}
		pv, pf := pattern[:i], pattern[i+1:]
		if pv != "" && pf != "" && versionPrefix(pv, version) && versionPrefix(pf, fl) {
			return true
		}
	}
	return false
}

// versionPrefix reports whether s starts with prefix, ending at a dot, dash
// or plus in s (or at its end).
func versionPrefix(prefix, s string) bool {
	if !strings.HasPrefix(s, prefix) {
		return false
	}
	rest := s[len(prefix):]
	return rest == "" || rest[0] == '.' || rest[0] == '-' || rest[0] == '+'
}

// Select picks the kernel a user's pattern names among ks: the complete
// matching kernels, preferring the plain flavour over -rt and others unless
// the pattern names it, then the newest. An empty pattern selects the newest
// complete system kernel, or when the system has none, the newest complete
// kernel of the cache: a fetched kernel is used when named, never instead of
// the system's.
func Select(ks []*Kernel, pattern string) (*Kernel, error) {
	if pattern == "" {
		var sys []*Kernel
		for _, k := range ks {
			if k.System() && k.Complete() {
				sys = append(sys, k)
			}
		}
		if len(sys) > 0 {
			ks = sys
		}
	}
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
			fix := "install linux-image-" + k.Release + " and linux-headers-" + k.Release
			if !k.System() {
				fix = "fetch it again: kmodcheck kernels fetch " + k.Release
			}
			return nil, fmt.Errorf("kernel %s (%s) cannot be used: %s (%s)", k.Release, k.Source(), k.Problem(), fix)
		}
		return nil, fmt.Errorf("no kernel matches %q: install linux-image-amd64 and linux-headers-amd64 (make setup), fetch one into the cache (kmodcheck kernels fetch %s), or see `kmodcheck kernels`", name, fetchHint(pattern))
	}
	best := sortPreferred(matched, func(k *Kernel) string { return k.Release })
	return best[0], nil
}

func fetchHint(pattern string) string {
	if pattern == "" {
		return "6.12"
	}
	return pattern
}

// sortPreferred orders items by their releases as Select prefers them: the
// plain amd64 flavour first, then the newest, system kernels before others
// of the same release.
func sortPreferred[T any](items []T, release func(T) string) []T {
	sort.SliceStable(items, func(i, j int) bool {
		ri, rj := release(items[i]), release(items[j])
		pi, pj := Flavour(ri) == "amd64", Flavour(rj) == "amd64"
		if pi != pj {
			return pi
		}
		return newer(ri, rj)
	})
	return items
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

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
