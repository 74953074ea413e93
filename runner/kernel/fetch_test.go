package kernel

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/cache"
)

// aptFixtures answers apt-cache and dpkg-query from testdata/apt, which
// holds what they printed on a Debian 12 machine (apt-cache show trimmed to
// the fields Resolve reads). installed lists what dpkg-query says is there.
type aptFixtures struct {
	t         testing.TB
	dir       string
	installed map[string]bool
	show      string // the show fixture; testdata/apt/show.txt if empty
	pkgnames  map[string]string
	calls     []string
}

func (a *aptFixtures) run(ctx context.Context, dir string, stdout io.Writer, name string, args ...string) error {
	a.calls = append(a.calls, name+" "+strings.Join(args, " "))
	switch {
	case name == "apt-cache" && args[0] == "pkgnames":
		if s, ok := a.pkgnames[args[1]]; ok {
			io.WriteString(stdout, s)
			return nil
		}
		data, err := os.ReadFile(filepath.Join(a.dir, "pkgnames-"+args[1]+".txt"))
		if err != nil {
			return err
		}
		stdout.Write(data)
		return nil
	case name == "apt-cache" && args[0] == "show":
		show := a.show
		if show == "" {
			data, err := os.ReadFile(filepath.Join(a.dir, "show.txt"))
			if err != nil {
				return err
			}
			show = string(data)
		}
		var missing []string
		for _, n := range args[2:] {
			found := false
			for _, st := range strings.Split(show, "\n\n") {
				if strings.HasPrefix(strings.TrimSpace(st), "Package: "+n+"\n") {
					fmt.Fprintf(stdout, "%s\n\n", strings.TrimSpace(st))
					found = true
				}
			}
			if !found {
				missing = append(missing, n)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("exit status 100: E: No packages found")
		}
		return nil
	case name == "dpkg-query":
		var unknown bool
		for _, n := range args[3:] {
			if a.installed[n] {
				fmt.Fprintf(stdout, "%s ii \n", n)
			} else if n == "pahole" {
				fmt.Fprintf(stdout, "%s un \n", n)
			} else {
				unknown = true
			}
		}
		if unknown {
			return fmt.Errorf("exit status 1")
		}
		return nil
	}
	a.t.Errorf("unexpected command: %s %s", name, strings.Join(args, " "))
	return fmt.Errorf("unexpected command %s", name)
}

func newFixtures(t testing.TB) *aptFixtures {
	return &aptFixtures{t: t, dir: "testdata/apt", installed: map[string]bool{
		"gcc-12": true, "libc6": true, "libelf1": true, "libssl3": true, "zlib1g": true,
		"linux-compiler-gcc-12-x86": true,
	}}
}

func TestResolve(t *testing.T) {
	names := func(p *Plan) []string {
		var ns []string
		for _, pkg := range p.Packages {
			ns = append(ns, pkg.Name)
		}
		return ns
	}
	generic := []string{"linux-image-6.12.117+deb12-amd64", "linux-headers-6.12.117+deb12-amd64", "linux-headers-6.12.117+deb12-common", "linux-kbuild-6.12.117+deb12"}
	rt := []string{"linux-image-6.12.117+deb12-rt-amd64", "linux-headers-6.12.117+deb12-rt-amd64", "linux-headers-6.12.117+deb12-common-rt", "linux-kbuild-6.12.117+deb12"}
	tests := []struct {
		name    string
		release string
		pkgs    []string
	}{
		{"6.12", "6.12.117+deb12-amd64", generic},
		{"6.12-amd64", "6.12.117+deb12-amd64", generic},
		{"6.12-rt", "6.12.117+deb12-rt-amd64", rt},
		{"6.12.*-rt-amd64", "6.12.117+deb12-rt-amd64", rt},
		{"6.12.111+deb12-rt-amd64", "6.12.111+deb12-rt-amd64", []string{"linux-image-6.12.111+deb12-rt-amd64", "linux-headers-6.12.111+deb12-rt-amd64", "linux-headers-6.12.111+deb12-common-rt", "linux-kbuild-6.12.111+deb12"}},
		{"6.1", "6.1.0-56-amd64", []string{"linux-image-6.1.0-56-amd64", "linux-headers-6.1.0-56-amd64", "linux-headers-6.1.0-56-common", "linux-kbuild-6.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newFixtures(t)
			f := &Fetcher{Cache: cache.Dir(t.TempDir()), Run: a.run}
			p, err := f.Resolve(context.Background(), tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if p.Release != tt.release {
				t.Errorf("release %s, want %s", p.Release, tt.release)
			}
			if got := names(p); !reflect.DeepEqual(got, tt.pkgs) {
				t.Errorf("packages %q\nwant %q", got, tt.pkgs)
			}
			for _, pkg := range p.Packages {
				if pkg.Version == "" || pkg.Size == 0 || !strings.HasSuffix(pkg.DebName(), ".deb") {
					t.Errorf("package %+v lacks a version, size or file name", pkg)
				}
			}
			if !(slices.Contains(p.Needs, "gcc-12") || slices.Contains(p.Needs, "linux-compiler-gcc-12-x86")) || (strings.HasPrefix(tt.release, "6.12") && !slices.Contains(p.Needs, "pahole")) {
				t.Errorf("needs %q, want the headers' compiler and, for 6.12, pahole", p.Needs)
			}
		})
	}
}

func TestResolveErrors(t *testing.T) {
	tests := []struct{ name, want string }{
		{"7.1", `no Debian kernel package matches "7.1" in apt-cache; there are 6.12.117+deb12-amd64, `},
		{"6.12.100+deb12-amd64", `no Debian kernel package matches "6.12.100+deb12-amd64"`},
		{"6.12-foo", `no Debian kernel package matches "6.12-foo"`},
	}
	for _, tt := range tests {
		a := newFixtures(t)
		f := &Fetcher{Cache: cache.Dir(t.TempDir()), Run: a.run}
		_, err := f.Resolve(context.Background(), tt.name)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Resolve(%q) = %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
	a := newFixtures(t)
	a.pkgnames = map[string]string{"linux-image-": "", "linux-headers-": ""}
	f := &Fetcher{Cache: cache.Dir(t.TempDir()), Run: a.run}
	if _, err := f.Resolve(context.Background(), "6.12"); err == nil || !strings.Contains(err.Error(), "apt-get update") {
		t.Errorf("Resolve with an empty apt cache: %v, want advice to run apt-get update", err)
	}
}

// TestParseShowOddStanzas: what FuzzParseShow found. A stanza without a
// name is no package; a Depends field folded from an empty first line
// reads as the same field unfolded; a negative size is unknown.
func TestParseShowOddStanzas(t *testing.T) {
	got := parseShow([]byte("Package:\nVersion: 1\nSize: 5\n\nPackage: a\nDepends:\n b (>= 1),\n c\nSize: -1\n"))
	want := []Package{{Name: "a", Depends: "b (>= 1), c"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseShow = %+v\nwant %+v", got, want)
	}
}

// TestDependAlternatives: a name ends at a blank or a bracket, as in apt
// and dpkg (FuzzDependAlternatives found "a(>= 1)" read as "a(>=").
func TestDependAlternatives(t *testing.T) {
	for group, want := range map[string][]string{
		"initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool": {"initramfs-tools", "linux-initramfs-tool"},
		" libc6(>= 2.38)|python3:any(>= 3.11~) | perl:any":         {"libc6", "python3", "perl"},
		" | (>= 1) | :any": nil,
	} {
		if got := dependAlternatives(group); !reflect.DeepEqual(got, want) {
			t.Errorf("dependAlternatives(%q) = %q, want %q", group, got, want)
		}
	}
}

func TestImageReleases(t *testing.T) {
	got := imageReleases([]string{
		"linux-image-amd64", "linux-image-6.12-amd64", "linux-image-6.12-amd64-dbg",
		"linux-image-6.12-amd64-signed-template", "linux-image-6.12.111+deb12-amd64-dbg",
		"linux-image-6.12.111+deb12-amd64-unsigned", "linux-image-6.12.111+deb12-amd64",
		"linux-image-6.12.111+deb12-rt-amd64-unsigned", "linux-image-6.1.0-56-amd64",
	})
	want := map[string]string{
		"6.12.111+deb12-amd64":    "linux-image-6.12.111+deb12-amd64",
		"6.12.111+deb12-rt-amd64": "linux-image-6.12.111+deb12-rt-amd64-unsigned",
		"6.1.0-56-amd64":          "linux-image-6.1.0-56-amd64",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("imageReleases = %v\nwant %v", got, want)
	}
}

// TestImageReleasesOddNames: what FuzzImageReleases found. A release is
// made of the characters of a package name, so never a path of the cache;
// REL-dbg-unsigned is no release's image; and of two unsigned images of
// one release, the same is taken whatever apt's order.
func TestImageReleasesOddNames(t *testing.T) {
	names := []string{
		"linux-image-6.1.0-56-AMD64", "linux-image-1.2.3/../../../x-amd64", "linux-image-6.1.0-56-amd64-dbg-unsigned",
		"linux-image-6.1.0-56-amd64-unsigned-unsigned",
		"linux-image-unsigned-6.8.0-31-generic", "linux-image-6.8.0-31-generic-unsigned",
	}
	want := map[string]string{"6.8.0-31-generic": "linux-image-6.8.0-31-generic-unsigned"}
	for range 2 {
		if got := imageReleases(names); !reflect.DeepEqual(got, want) {
			t.Errorf("imageReleases(%q) = %v\nwant %v", names, got, want)
		}
		slices.Reverse(names)
	}
}

// TestFetchFake runs the whole fetch (download, unpack, depmod, verify,
// move into place, no-op the second time) with apt answered by fixtures
// and .debs built here with dpkg-deb from a fake root.
func TestFetchFake(t *testing.T) {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("no dpkg-deb")
	}
	rel := "6.12.999+deb12-amd64"
	ver := "6.12.999+deb12"
	src := t.TempDir()
	makeFakeRoot(t, src, whole(rel))
	// Split the fake root into the four packages, as Debian does.
	parts := map[string][]string{
		"linux-image-" + rel:               {"boot", "lib/modules/" + rel + "/kernel", "lib/modules/" + rel + "/modules.order"},
		"linux-headers-" + rel:             {"lib/modules/" + rel + "/build", "usr/src/linux-headers-" + rel},
		"linux-headers-" + ver + "-common": {"usr/src/linux-headers-" + ver + "-common"},
		"linux-kbuild-" + ver:              {"usr/lib/linux-kbuild-" + ver},
	}
	debDir := t.TempDir()
	var show strings.Builder
	order := []string{"linux-image-" + rel, "linux-headers-" + rel, "linux-headers-" + ver + "-common", "linux-kbuild-" + ver}
	for _, pkg := range order {
		dir := filepath.Join(t.TempDir(), pkg)
		os.MkdirAll(filepath.Join(dir, "DEBIAN"), 0o755)
		os.WriteFile(filepath.Join(dir, "DEBIAN/control"), []byte("Package: "+pkg+"\nVersion: 6.12.999-1\nArchitecture: amd64\nMaintainer: t <t@t>\nDescription: test\n"), 0o644)
		for _, p := range parts[pkg] {
			os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
			if out, err := exec.Command("cp", "-a", filepath.Join(src, p), filepath.Join(dir, p)).CombinedOutput(); err != nil {
				t.Fatalf("cp: %v: %s", err, out)
			}
		}
		deb := filepath.Join(debDir, pkg+"_6.12.999-1_amd64.deb")
		if out, err := exec.Command("dpkg-deb", "--root-owner-group", "-Zgzip", "-b", dir, deb).CombinedOutput(); err != nil {
			t.Fatalf("dpkg-deb -b: %v: %s", err, out)
		}
		st, _ := os.Stat(deb)
		deps := ""
		if pkg == "linux-headers-"+rel {
			deps = "Depends: linux-base (>= 4.12~), linux-headers-" + ver + "-common (= 6.12.999-1), linux-image-" + rel + " (= 6.12.999-1) | linux-image-" + rel + "-unsigned (= 6.12.999-1), linux-kbuild-" + ver + ", gcc-12\n"
		}
		if pkg == "linux-kbuild-"+ver {
			deps = "Depends: libc6 (>= 2.34), pahole\n"
		}
		fmt.Fprintf(&show, "Package: %s\nVersion: 6.12.999-1\n%sFilename: pool/main/l/linux/%s\nSize: %d\n\n", pkg, deps, filepath.Base(deb), st.Size())
	}
	a := newFixtures(t)
	a.show = show.String()
	a.pkgnames = map[string]string{
		"linux-image-":   "linux-image-" + rel + "\nlinux-image-" + rel + "-dbg\nlinux-image-amd64\n",
		"linux-headers-": "linux-headers-" + rel + "\nlinux-headers-" + ver + "-common\n",
	}
	downloads := 0
	run := func(ctx context.Context, dir string, stdout io.Writer, name string, args ...string) error {
		switch filepath.Base(name) {
		case "apt-get":
			downloads++
			for _, a := range args {
				if pkg, _, ok := strings.Cut(a, "="); ok && !strings.Contains(pkg, ":") {
					data, err := os.ReadFile(filepath.Join(debDir, pkg+"_6.12.999-1_amd64.deb"))
					if err != nil {
						return err
					}
					os.WriteFile(filepath.Join(dir, pkg+"_6.12.999-1_amd64.deb"), data, 0o644)
					fmt.Fprintf(stdout, "Get:1 fake %s\n", pkg)
				}
			}
			return nil
		case "dpkg-deb":
			out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
			if err != nil {
				return fmt.Errorf("%v: %s", err, out)
			}
			return nil
		case "depmod":
			// depmod -b ROOT REL
			return os.WriteFile(filepath.Join(args[1], "lib/modules", args[2], "modules.dep"), []byte("kernel/fs/9p/9p.ko:\n"), 0o644)
		}
		return a.run(ctx, dir, stdout, name, args...)
	}
	c := cache.Dir(t.TempDir())
	var out bytes.Buffer
	f := &Fetcher{Cache: c, Out: &out, Run: run}
	// A leftover, incomplete root of the same release is replaced.
	os.MkdirAll(filepath.Join(f.Root(rel), "boot"), 0o755)

	start := time.Now()
	k, err := f.Fetch(context.Background(), "6.12", false)
	t.Logf("fetch took %s:\n%s", time.Since(start), out.String())
	if err != nil {
		t.Fatal(err)
	}
	if k.Release != rel || k.Root != f.Root(rel) || !k.Complete() {
		t.Fatalf("fetched %+v", k)
	}
	for _, s := range []string{"looking for 6.12 in ", "fetching " + rel, "linux-kbuild-" + ver, "downloading 4 packages", "Get:1 fake linux-image-" + rel,
		"unpacking linux-image-" + rel, "depmod " + rel, "verified", "replacing the incomplete", "complete in " + f.Root(rel)} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("progress does not say %q", s)
		}
	}
	if _, err := os.Stat(c.Path("debs", rel)); err == nil {
		t.Errorf("the downloaded .debs are still in %s", c.Path("debs", rel))
	}
	if left, _ := filepath.Glob(c.Path("unpack", "*")); len(left) > 0 {
		t.Errorf("staging directories left: %v", left)
	}
	ks, _ := Scan(f.Root(rel))
	if len(ks) != 1 || !ks[0].Complete() {
		t.Errorf("Scan of the fetched root: %v", ks)
	}

	out.Reset()
	if k, err := f.Fetch(context.Background(), rel, false); err != nil || k == nil || !strings.Contains(out.String(), "already complete") {
		t.Errorf("second fetch: %v, %v, %q; want a no-op that says so", k, err, out.String())
	}
	out.Reset()
	if _, err := f.Fetch(context.Background(), "6.12", false); err != nil || !strings.Contains(out.String(), "already complete") {
		t.Errorf("second fetch by pattern: %v, %q", err, out.String())
	}
	if downloads != 1 {
		t.Errorf("%d downloads, want 1", downloads)
	}
}

// TestFetchMismatchRefused checks that packages whose parts are of
// different releases are not moved into the cache.
func TestFetchMismatchRefused(t *testing.T) {
	rel := "6.12.998+deb12-amd64"
	c := cache.Dir(t.TempDir())
	f := &Fetcher{Cache: c, Out: io.Discard, Run: func(ctx context.Context, dir string, stdout io.Writer, name string, args ...string) error {
		switch filepath.Base(name) {
		case "dpkg-deb":
			makeFakeRoot(t, args[2], fakeKernel{release: rel, image: rel, modules: rel, headers: "6.12.997+deb12-amd64"})
			return nil
		case "depmod":
			return nil
		}
		return fmt.Errorf("unexpected %s", name)
	}}
	plan := &Plan{Release: rel, Packages: []Package{{Name: "linux-image-" + rel}}}
	err := f.unpack(context.Background(), plan, []string{"x.deb"}, f.Root(rel))
	if err == nil || !strings.Contains(err.Error(), "headers in") || !strings.Contains(err.Error(), "6.12.997+deb12-amd64") {
		t.Fatalf("unpack of mismatched packages: %v", err)
	}
	if _, err := os.Stat(f.Root(rel)); err == nil {
		t.Errorf("a mismatched kernel was moved into %s", f.Root(rel))
	}
}

// TestFetchReal downloads a real kernel; it runs only when
// KMODCHECK_TEST_FETCH names one (e.g. 6.12.111+deb12-amd64), as it
// downloads about 120 MB. The cache is a temporary directory unless
// KMODCHECK_CACHE is set.
func TestFetchReal(t *testing.T) {
	name := os.Getenv("KMODCHECK_TEST_FETCH")
	if name == "" {
		t.Skip("set KMODCHECK_TEST_FETCH=RELEASE-or-pattern to download a kernel")
	}
	dir := cache.Dir(t.TempDir())
	if d := os.Getenv(cache.EnvDir); d != "" {
		dir = cache.Dir(d)
	}
	var out bytes.Buffer
	f := &Fetcher{Cache: dir, Out: &out}
	k, err := f.Fetch(context.Background(), name, false)
	t.Log(out.String())
	if err != nil {
		t.Fatal(err)
	}
	if !k.Complete() || !Match(name, k.Release) {
		t.Fatalf("fetched %s: %s", k.Release, k.Problem())
	}
	out.Reset()
	if _, err := f.Fetch(context.Background(), k.Release, false); err != nil || !strings.Contains(out.String(), "nothing to fetch") {
		t.Errorf("second fetch: %v, %q", err, out.String())
	}
}

// TestRunStopsProcessGroup: a program stopped by its context is stopped
// with everything it started, at once, though a child of it holds its
// output open (mmdebstrap's forks, apt and dpkg).
func TestRunStopsProcessGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		var f Fetcher
		done <- f.run(ctx, "", io.Discard, "sh", "-c", `sleep 100 & echo $! > `+pidFile+`; wait`)
	}()
	var pid int
	for pid == 0 && time.Since(start) < 10*time.Second {
		b, _ := os.ReadFile(pidFile)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		time.Sleep(10 * time.Millisecond)
	}
	if pid == 0 {
		t.Fatal("the program's child did not start")
	}
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Error("run of a stopped program: no error")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("run did not return once stopped: it waits for the child's output")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || strings.Contains(string(stat), ") Z ") {
			break // gone, or dead and not yet reaped
		}
		if time.Now().After(deadline) {
			t.Fatalf("the program's child %d still runs", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
