package kernel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/kmodcheck/kmodcheck/runner/cache"
)

func TestHostDebianURL(t *testing.T) {
	deb822 := `Types: deb
# http://snapshot.example/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
`
	thirdParty := "deb https://vendor.example/apt cloud-sdk-bookworm main\n"
	oneLine := "# deb http://old.example/debian buster main\ndeb [arch=amd64 signed-by=/k.gpg] http://one.example/debian/ trixie main\n"
	ubuntu := "deb http://archive.example/ubuntu noble main universe\ndeb http://security.example/ubuntu noble-security main\n"
	tests := []struct {
		files          map[string]string
		main, security string
	}{
		{map[string]string{"a.list": thirdParty, "debian.sources": deb822}, "http://mirror.example/debian", "http://mirror.example/debian-security"},
		{map[string]string{"sources.list": oneLine}, "http://one.example/debian", ""},
		{map[string]string{"sources.list": ubuntu}, "", ""},
	}
	for i, tt := range tests {
		files := map[string][]byte{}
		for n, s := range tt.files {
			files[n] = []byte(s)
		}
		if got := HostDebianURL(files, false); got != tt.main {
			t.Errorf("%d: archive %q, want %q", i, got, tt.main)
		}
		if got := HostDebianURL(files, true); got != tt.security {
			t.Errorf("%d: security archive %q, want %q", i, got, tt.security)
		}
	}
}

// fakeArchive answers apt-cache and apt-get for an Archive's suites from
// stanzas per suite; the suite is told by the sources list option.
type fakeArchive struct {
	t      testing.TB
	suites map[string][]Package // by suite
	// meta is the release linux-image-amd64 depends on, by the state's
	// suite and the default release asked for ("" for none).
	meta  map[[2]string]string
	mu    sync.Mutex
	calls []string
}

func (a *fakeArchive) suiteOf(args []string) (suite, defaultRelease string, rest []string) {
	for len(args) >= 2 && args[0] == "-o" {
		if v, ok := strings.CutPrefix(args[1], "Dir::Etc::SourceList="); ok {
			d := filepath.Base(filepath.Dir(v))
			suite = d[:strings.LastIndexByte(d, '-')]
		}
		if v, ok := strings.CutPrefix(args[1], "APT::Default-Release="); ok {
			defaultRelease = v
		}
		args = args[2:]
	}
	return suite, defaultRelease, args
}

func (a *fakeArchive) run(ctx context.Context, dir string, stdout io.Writer, name string, args ...string) error {
	suite, defaultRelease, rest := a.suiteOf(args)
	a.mu.Lock()
	a.calls = append(a.calls, name+" "+suite+" "+strings.Join(rest, " "))
	a.mu.Unlock()
	pkgs, ok := a.suites[suite]
	if !ok {
		return fmt.Errorf("%s: no apt state for suite %q", name, suite)
	}
	switch {
	case name == "apt-get" && rest[len(rest)-1] == "update":
		return nil
	case name == "apt-cache" && rest[0] == "pkgnames":
		for _, p := range pkgs {
			if strings.HasPrefix(p.Name, rest[1]) {
				fmt.Fprintln(stdout, p.Name)
			}
		}
		return nil
	case name == "apt-cache" && rest[0] == "show" && rest[2] == "linux-image-amd64":
		rel, ok := a.meta[[2]string{suite, defaultRelease}]
		if !ok {
			return fmt.Errorf("E: No packages found")
		}
		fmt.Fprintf(stdout, "Package: linux-image-amd64\nVersion: 1\nDepends: linux-image-%s (= 1)\n\n", rel)
		return nil
	case name == "apt-cache" && rest[0] == "show":
		for _, n := range rest[2:] {
			for _, p := range pkgs {
				if p.Name == n {
					fmt.Fprintf(stdout, "Package: %s\nVersion: %s\nSize: %d\nFilename: pool/%s.deb\nDepends: %s\n\n", p.Name, p.Version, p.Size, p.Name, p.Depends)
				}
			}
		}
		return nil
	}
	return fmt.Errorf("unexpected %s %v", name, rest)
}

// kernelPackages are the packages of one Debian kernel release: a split
// 7.x image (image, base, binary, modules) or one image package.
func kernelPackages(rel, ver, compiler string, split bool) []Package {
	img := Package{Name: "linux-image-" + rel, Version: ver, Size: 1000, Depends: "kmod, linux-base (>= 4.3~), initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool"}
	pkgs := []Package{img}
	if split {
		pkgs[0].Depends += ", linux-binary-" + rel + " (= " + ver + "), linux-modules-" + rel + " (= " + ver + ")"
		pkgs = append(pkgs, Package{Name: "linux-binary-" + rel, Version: ver, Size: 14e6}, Package{Name: "linux-modules-" + rel, Version: ver, Size: 107e6})
	}
	common := strings.TrimSuffix(rel, "-amd64")
	pkgs = append(pkgs,
		Package{Name: "linux-headers-" + rel, Version: ver, Size: 2e6, Depends: "linux-headers-" + common + "-common (= " + ver + "), linux-kbuild-" + common + " (= " + ver + "), " + compiler},
		Package{Name: "linux-headers-" + common + "-common", Version: ver, Size: 10e6},
		Package{Name: "linux-kbuild-" + common, Version: ver, Size: 1e6, Depends: "libc6 (>= 2.38), libelf1t64 (>= 0.144)"},
	)
	return pkgs
}

func spanArchive(t testing.TB) (*Fetcher, *fakeArchive) {
	trixie := kernelPackages("6.12.117+deb13-amd64", "6.12.117-1", "gcc-14", false)
	fa := &fakeArchive{t: t, suites: map[string][]Package{
		"bullseye": kernelPackages("5.10.0-32-amd64", "5.10.223-1", "linux-compiler-gcc-10-x86", false),
		"trixie":   trixie,
		// A backports suite's state lists its base suite's packages too.
		"trixie-backports": append(append(kernelPackages("7.3.4+deb13-amd64", "7.3.4-1~bpo13+1", "gcc-14-for-host", true),
			kernelPackages("7.2.12+deb13-amd64", "7.2.12-1~bpo13+1", "gcc-14-for-host", true)...), trixie...),
		"sid": kernelPackages("7.2.13+deb14-amd64", "7.2.13-1", "gcc-16-for-host", true),
	}, meta: map[[2]string]string{
		{"bullseye", ""}: "5.10.0-32-amd64",
		{"trixie", ""}:   "6.12.117+deb13-amd64",
		// Without -t, a backports state's candidate is the base suite's.
		{"trixie-backports", ""}:                 "6.12.117+deb13-amd64",
		{"trixie-backports", "trixie-backports"}: "7.3.4+deb13-amd64",
		{"sid", ""}:                              "7.2.13+deb14-amd64",
	}}
	c := cache.Dir(t.TempDir())
	a := &Archive{URL: "http://archive.example/debian", Suites: []string{"bullseye", "trixie", "trixie-backports", "sid"}, Keyring: "/k.gpg", Cache: c}
	return &Fetcher{Cache: c, Archive: a, Run: fa.run}, fa
}

func TestResolveAcrossSuites(t *testing.T) {
	f, fa := spanArchive(t)
	ctx := context.Background()
	tests := []struct {
		name, release, suite string
		pkgs                 []string
		needs                []string
	}{
		{"7.3", "7.3.4+deb13-amd64", "trixie-backports",
			[]string{"linux-image-7.3.4+deb13-amd64", "linux-headers-7.3.4+deb13-amd64", "linux-binary-7.3.4+deb13-amd64", "linux-modules-7.3.4+deb13-amd64", "linux-headers-7.3.4+deb13-common", "linux-kbuild-7.3.4+deb13"},
			[]string{"gcc-14-for-host", "libc6", "libelf1t64"}},
		{"5.10", "5.10.0-32-amd64", "bullseye",
			[]string{"linux-image-5.10.0-32-amd64", "linux-headers-5.10.0-32-amd64", "linux-headers-5.10.0-32-common", "linux-kbuild-5.10.0-32"},
			[]string{"linux-compiler-gcc-10-x86", "libc6", "libelf1t64"}},
		{"6.12", "6.12.117+deb13-amd64", "trixie", nil, nil},
		{"7.2", "7.2.13+deb14-amd64", "sid", nil, nil},
	}
	for _, tt := range tests {
		p, err := f.Resolve(ctx, tt.name)
		if err != nil {
			t.Fatalf("Resolve(%s): %v", tt.name, err)
		}
		if p.Release != tt.release || p.Suite != tt.suite {
			t.Errorf("Resolve(%s) = %s from %s, want %s from %s", tt.name, p.Release, p.Suite, tt.release, tt.suite)
		}
		var names []string
		for _, pkg := range p.Packages {
			names = append(names, pkg.Name)
		}
		if tt.pkgs != nil && !reflect.DeepEqual(names, tt.pkgs) {
			t.Errorf("Resolve(%s) packages %q\nwant %q", tt.name, names, tt.pkgs)
		}
		if tt.needs != nil && !reflect.DeepEqual(p.Needs, tt.needs) {
			t.Errorf("Resolve(%s) needs %q, want %q", tt.name, p.Needs, tt.needs)
		}
	}
	if _, err := f.Resolve(ctx, "6.1"); err == nil || !strings.Contains(err.Error(), "bullseye, trixie, trixie-backports, sid") {
		t.Errorf("Resolve(6.1) = %v, want an error naming the suites searched", err)
	}
	// The lists were fetched once per suite, with the suite's own state.
	var updates []string
	for _, c := range fa.calls {
		if strings.HasSuffix(c, " -q update") {
			updates = append(updates, c)
		}
	}
	if len(updates) != 4 {
		t.Errorf("apt-get update ran %d times, want once per suite: %q", len(updates), updates)
	}
	src, err := os.ReadFile(filepath.Join(f.Archive.stateDir("trixie-backports"), "sources.list"))
	if err != nil || !strings.Contains(string(src), "http://archive.example/debian trixie main") || !strings.Contains(string(src), " trixie-backports main") {
		t.Errorf("trixie-backports sources.list: %q, %v", src, err)
	}
}

func TestSpan(t *testing.T) {
	f, _ := spanArchive(t)
	t.Setenv(EnvSpan, "bullseye trixie trixie-backports sid")
	span, err := f.Span(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range span {
		got = append(got, o.Release+"@"+o.Suite)
	}
	want := []string{"5.10.0-32-amd64@bullseye", "6.12.117+deb13-amd64@trixie", "7.2.13+deb14-amd64@sid", "7.3.4+deb13-amd64@trixie-backports"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("span %q\nwant %q", got, want)
	}
	t.Setenv(EnvSpan, "bullseye bookworm")
	if _, err := f.Span(context.Background()); err == nil || !strings.Contains(err.Error(), "suite bookworm is not among") {
		t.Errorf("a span suite the archive lacks: %v", err)
	}
}

// TestMetaRelease: the span's release is read as the suite's offers are,
// so that fetching it by name finds it (FuzzMetaRelease found
// linux-image-0.0.0-0A taken, which no offer is).
func TestMetaRelease(t *testing.T) {
	for show, want := range map[string]string{
		"Package: linux-image-amd64\nDepends: linux-image-6.1.0-56-amd64 (= 6.1.192-2)\n":                                                  "6.1.0-56-amd64",
		"Package: linux-image-amd64\nDepends: linux-image-6.12.117+deb13-amd64-unsigned (= 6.12.117-1)\n":                                  "6.12.117+deb13-amd64",
		"Package: linux-image-amd64\nDepends: linux-image-1.2.3-unsigned | linux-image-6.1.0-56-AMD64,\n linux-image-7.2.13+deb14-amd64\n": "7.2.13+deb14-amd64",
		"Package: linux-image-amd64\nDepends: linux-image-6.1.0-56-amd64-dbg\n":                                                            "",
	} {
		if got := metaRelease([]byte(show)); got != want {
			t.Errorf("metaRelease(%q) = %q, want %q", show, got, want)
		}
	}
}

// fakeMmdebstrap stands in for mmdebstrap: it writes a root of the suite
// into its target, or fails when told to.
type fakeMmdebstrap struct {
	mu      sync.Mutex
	calls   [][]string
	fail    error
	tmpdirs []string // the TMPDIRs it was given, where it made its gpg home
}

func (m *fakeMmdebstrap) run(ctx context.Context, dir string, stdout io.Writer, name string, args ...string) error {
	if name == "unshare" || name == "env" { // as root, in a mount namespace of its own; with a TMPDIR of kmodcheck's
		i := slices.Index(args, "mmdebstrap")
		if i < 0 {
			return fmt.Errorf("%s %q runs no mmdebstrap", name, args)
		}
		for _, a := range args[:i] {
			if tmp, ok := strings.CutPrefix(a, "TMPDIR="); ok {
				os.Mkdir(filepath.Join(tmp, "mmdebstrap.gpghome.fake"), 0o700) // as mmdebstrap does, and leaves when killed
				m.mu.Lock()
				m.tmpdirs = append(m.tmpdirs, tmp)
				m.mu.Unlock()
			}
		}
		name, args = args[i], args[i+1:]
	}
	if name != "mmdebstrap" {
		return fmt.Errorf("unexpected %s", name)
	}
	m.mu.Lock()
	m.calls = append(m.calls, args)
	fail := m.fail
	m.mu.Unlock()
	var suite, target string
	for i, a := range args {
		if !strings.HasPrefix(a, "-") {
			suite, target = a, args[i+1]
			break
		}
	}
	os.MkdirAll(filepath.Join(target, "usr/bin"), 0o755)
	os.WriteFile(filepath.Join(target, "usr/bin/sh"), []byte("a shell of "+suite), 0o755)
	os.Symlink("usr/lib", filepath.Join(target, "lib"))
	os.MkdirAll(filepath.Join(target, "usr/lib"), 0o755)
	os.MkdirAll(filepath.Join(target, "var/lib/dpkg"), 0o755)
	os.WriteFile(filepath.Join(target, baseSentinel), []byte("Package: "+strings.Join(args, " ")+"\n"), 0o644)
	return fail
}

// TestRootsReleaseDefaults: a bullseye kernel's root holds rsyslog, as
// Debian 11's default install does, and a trixie one's does not; a machine
// made before its userland root's packages changed is made again.
func TestRootsReleaseDefaults(t *testing.T) {
	if p := ReleasePackages("bullseye-security"); !slices.Contains(p, "rsyslog") {
		t.Errorf("bullseye-security packages %q lack rsyslog", p)
	}
	for _, suite := range []string{"bookworm", "bookworm-backports", "trixie", "trixie-backports", "sid"} {
		if p := ReleasePackages(suite); slices.Contains(p, "rsyslog") || !reflect.DeepEqual(p, ReaderPackages()) {
			t.Errorf("%s packages %q: want ReaderPackages", suite, p)
		}
	}
	c := cache.Dir(t.TempDir())
	rel := "5.10.0-46-amd64"
	kroot := filepath.Join(string(c), "kernels", rel)
	makeFakeRoot(t, kroot, fakeKernel{release: rel, image: rel, modules: rel, headers: rel})
	os.WriteFile(filepath.Join(kroot, metaFile), []byte(`{"suite":"bullseye-security"}`), 0o644)
	k := inspect(kroot, rel)
	fm := &fakeMmdebstrap{}
	a := &Archive{URL: "http://archive.example/debian", SecurityURL: "http://archive.example/debian-security", Keyring: "/k.gpg", Cache: c}
	r := &Roots{Archive: a, Cache: c, Run: fm.run}
	ctx := context.Background()

	// A machine made from the root of another package set (before rsyslog).
	old := *k
	old.Needs = []string{"an-older-set"}
	m, err := r.Machine(ctx, &old)
	if err != nil {
		t.Fatal(err)
	}
	if m2, err := r.Machine(ctx, &old); err != nil || m2 != m || len(fm.calls) != 1 {
		t.Fatalf("a machine made again from its own root: %s, %v, mmdebstrap ran %d times", m2, err, len(fm.calls))
	}
	m2, err := r.Machine(ctx, k)
	if err != nil || m2 != m {
		t.Fatalf("Machine: %s, %v", m2, err)
	}
	if len(fm.calls) != 2 || !strings.Contains(strings.Join(fm.calls[1], " "), "rsyslog") {
		t.Fatalf("mmdebstrap calls %q: want a second, with rsyslog", fm.calls)
	}
	b, err := os.ReadFile(filepath.Join(m, baseSentinel))
	if err != nil || !strings.Contains(string(b), "rsyslog") || strings.Contains(string(b), "an-older-set") {
		t.Errorf("the machine was not made again from the new root: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(m, "boot", "vmlinuz-"+rel)); err != nil {
		t.Errorf("the machine made again lacks the kernel: %v", err)
	}
}

func TestRootsMachine(t *testing.T) {
	c := cache.Dir(t.TempDir())
	rel := "7.3.4+deb13-amd64"
	kroot := filepath.Join(string(c), "kernels", rel)
	makeFakeRoot(t, kroot, fakeKernel{release: rel, image: rel, modules: rel, headers: rel})
	os.WriteFile(filepath.Join(kroot, metaFile), []byte(`{"suite":"trixie-backports","needs":["gcc-14-for-host"]}`), 0o644)
	k := inspect(kroot, rel)
	if k.Suite != "trixie-backports" || !reflect.DeepEqual(k.Needs, []string{"gcc-14-for-host"}) {
		t.Fatalf("kernel's suite and needs: %q %q", k.Suite, k.Needs)
	}
	fm := &fakeMmdebstrap{fail: errors.New("exit status 1: E: cannot resolve")}
	a := &Archive{URL: "http://archive.example/debian", SecurityURL: "http://archive.example/debian-security", Keyring: "/k.gpg", Cache: c}
	r := &Roots{Archive: a, Cache: c, Run: fm.run}
	ctx := context.Background()

	// A root that fails half-way is never used, nor left behind.
	if _, err := r.Machine(ctx, k); err == nil || !strings.Contains(err.Error(), "cannot resolve") {
		t.Fatalf("Machine with a failing mmdebstrap: %v", err)
	}
	if left, _ := filepath.Glob(c.Path("roots", "*")); len(filterLocks(left)) > 0 {
		t.Errorf("a failed root was left: %v", left)
	}
	// So are mmdebstrap's temporary files.
	if len(fm.tmpdirs) == 0 {
		t.Error("mmdebstrap was given no TMPDIR of kmodcheck's")
	}
	for _, d := range fm.tmpdirs {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("mmdebstrap's TMPDIR %s was left", d)
		}
	}

	// Concurrent callers make it once.
	fm.fail = nil
	var wg sync.WaitGroup
	dirs := make([]string, 3)
	errs := make([]error, 3)
	for i := range dirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dirs[i], errs[i] = r.Machine(ctx, k)
		}()
	}
	wg.Wait()
	for i := range dirs {
		if errs[i] != nil || dirs[i] != r.MachineDir(k) {
			t.Fatalf("Machine: %s, %v", dirs[i], errs[i])
		}
	}
	if len(fm.calls) != 2 { // the failure, then one
		t.Errorf("mmdebstrap ran %d times, want once after the failure", len(fm.calls)-1)
	}
	args := strings.Join(fm.calls[1], " ")
	for _, want := range []string{"--variant=minbase", "build-essential", "gcc-14-for-host", "sudo", " trixie " + r.BaseDir(k) + ".tmp ",
		"http://archive.example/debian trixie main", "http://archive.example/debian-security trixie-security main", "trixie-backports main"} {
		if !strings.Contains(args, want) {
			t.Errorf("mmdebstrap %s\nlacks %q", args, want)
		}
	}
	if strings.Contains(args, "rsyslog") {
		t.Errorf("mmdebstrap %s: trixie's default install has no rsyslog", args)
	}
	// The machine holds the userland and the kernel at their usual paths.
	m := r.MachineDir(k)
	for _, p := range []string{"usr/bin/sh", "boot/vmlinuz-" + rel, "lib/modules/" + rel + "/modules.dep", "usr/src/linux-headers-" + rel + "/Makefile"} {
		if _, err := os.Stat(filepath.Join(m, p)); err != nil {
			t.Errorf("machine root lacks %s: %v", p, err)
		}
	}
	if fi, err := os.Lstat(filepath.Join(m, "lib")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the userland's lib -> usr/lib link was not kept: %v", err)
	}
	if _, err := os.Stat(filepath.Join(m, metaFile)); err == nil {
		t.Errorf("the kernel's %s is in the machine root", metaFile)
	}
	names := []string{}
	for _, ri := range r.List() {
		names = append(names, ri.Kind+" "+ri.Name)
	}
	if !slices.Contains(names, "machine "+rel) || len(names) != 2 {
		t.Errorf("List = %q, want the userland and the machine", names)
	}
	for _, ri := range r.List() {
		if ri.Unused {
			t.Errorf("List: %s unused while the machine is made from it", ri.Name)
		}
	}
	if err := r.Remove(ctx, rel); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(m); err == nil {
		t.Errorf("Remove left %s", m)
	}
	// With its machine gone, the userland is no one's: kernels rm unused.
	if l := r.List(); len(l) != 1 || l[0].Kind != "userland" || !l[0].Unused {
		t.Errorf("List after removing the machine = %+v, want the userland, unused", l)
	}
	if _, err := os.Stat(filepath.Join(kroot, "boot", "vmlinuz-"+rel)); err != nil {
		t.Errorf("removing the machine root removed the kernel's own files: %v", err)
	}
}

func filterLocks(paths []string) []string {
	var out []string
	for _, p := range paths {
		if !strings.HasSuffix(p, ".lock") {
			out = append(out, p)
		}
	}
	return out
}

// TestResolveUbuntu resolves a kernel in an Ubuntu-format archive (fixture
// stanzas in Ubuntu's naming: the modules in a package of their own, the
// unsigned image as linux-image-unsigned-REL, the generic flavour). It
// could not be tried against Ubuntu's archive from here.
func TestResolveUbuntu(t *testing.T) {
	rel, ver := "6.8.0-31-generic", "6.8.0-31.31"
	fa := &fakeArchive{t: t, suites: map[string][]Package{"noble": {
		{Name: "linux-image-unsigned-" + rel, Version: ver, Size: 15e6, Depends: "linux-modules-" + rel},
		{Name: "linux-image-" + rel, Version: ver, Size: 15e6, Depends: "linux-modules-" + rel + ", linux-base (>= 4.5ubuntu1~16.04.1)"},
		{Name: "linux-modules-" + rel, Version: ver, Size: 40e6},
		{Name: "linux-headers-" + rel, Version: ver, Size: 3e6, Depends: "linux-headers-6.8.0-31, libc6 (>= 2.34), libelf1t64 (>= 0.144), libssl3t64 (>= 3.0.0)"},
		{Name: "linux-headers-6.8.0-31", Version: ver, Size: 13e6},
	}}}
	c := cache.Dir(t.TempDir())
	f := &Fetcher{Cache: c, Run: fa.run, Archive: &Archive{URL: "http://ubuntu.example/ubuntu", Suites: []string{"noble"}, Keyring: "/k.gpg", Cache: c}}
	p, err := f.Resolve(context.Background(), "6.8")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, pkg := range p.Packages {
		names = append(names, pkg.Name)
	}
	want := []string{"linux-image-" + rel, "linux-headers-" + rel, "linux-modules-" + rel, "linux-headers-6.8.0-31"}
	if p.Release != rel || !reflect.DeepEqual(names, want) {
		t.Errorf("Resolve(6.8) = %s %q\nwant %s %q", p.Release, names, rel, want)
	}
	if got := imageReleases([]string{"linux-image-unsigned-" + rel}); got[rel] != "linux-image-unsigned-"+rel {
		t.Errorf("Ubuntu's unsigned image alone: %v", got)
	}
	if Flavour(rel) != "generic" || !reflect.DeepEqual(p.Needs, []string{"libc6", "libelf1t64", "libssl3t64"}) {
		t.Errorf("flavour %q, needs %q", Flavour(rel), p.Needs)
	}
}
