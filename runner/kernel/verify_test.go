package kernel

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const rel612 = "6.12.111+deb12-amd64"

func whole(rel string) fakeKernel {
	return fakeKernel{release: rel, image: rel, modules: rel, headers: rel}
}

func scanOne(t *testing.T, root, rel string) *Kernel {
	t.Helper()
	ks, err := Scan(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range ks {
		if k.Release == rel {
			return k
		}
	}
	t.Fatalf("Scan(%s) found no %s among %v", root, rel, ks)
	return nil
}

func TestScanCacheRoot(t *testing.T) {
	root := t.TempDir()
	makeFakeRoot(t, root, whole(rel612))
	makeFakeRoot(t, root, whole("6.12.111+deb12-rt-amd64"))
	ks, err := Scan(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(ks) != 2 {
		t.Fatalf("Scan found %v, want two kernels", ks)
	}
	for _, k := range ks {
		if !k.Complete() {
			t.Errorf("%s: not complete: %s", k.Release, k.Problem())
		}
		if k.System() || k.Source() != root {
			t.Errorf("%s: source %q, want %q", k.Release, k.Source(), root)
		}
		if want := filepath.Join(root, "usr/src/linux-headers-"+k.Release); k.Headers != want {
			t.Errorf("%s: headers %s, want %s (the build link resolved inside the root)", k.Release, k.Headers, want)
		}
		if want := filepath.Join(root, "boot/vmlinuz-"+k.Release); k.Image != want {
			t.Errorf("%s: image %s, want %s", k.Release, k.Image, want)
		}
	}
	if ks[0].Flavour != "amd64" && ks[1].Flavour != "amd64" {
		t.Errorf("flavours %s, %s: want an amd64", ks[0].Flavour, ks[1].Flavour)
	}
	k, err := Select(ks, "6.12-rt")
	if err != nil || k.Release != "6.12.111+deb12-rt-amd64" {
		t.Errorf("Select(6.12-rt) = %v, %v", k, err)
	}
	k, err = Select(ks, "6.12")
	if err != nil || k.Release != rel612 {
		t.Errorf("Select(6.12) = %v, %v; want the plain flavour", k, err)
	}
	k, err = Select(ks, "")
	if err != nil || k.Release != rel612 {
		t.Errorf("Select() with only cache kernels = %v, %v; want the newest plain one", k, err)
	}
	// With a complete system kernel, no pattern means the system's.
	sys := &Kernel{Release: "6.1.0-56-amd64", Flavour: "amd64", Root: "/"}
	k, err = Select(append(ks, sys), "")
	if err != nil || k != sys {
		t.Errorf("Select() = %v, %v; want the system's %s over newer cache kernels", k, err, sys.Release)
	}
	k, err = Select(append(ks, sys), "6.12")
	if err != nil || k.Release != rel612 {
		t.Errorf("Select(6.12) beside a system kernel = %v, %v", k, err)
	}
}

func TestScanMismatch(t *testing.T) {
	other := "6.12.107+deb12-amd64"
	tests := []struct {
		name string
		k    fakeKernel
		want string
	}{
		{"image", fakeKernel{release: rel612, image: other, modules: rel612, headers: rel612}, "image"},
		{"modules", fakeKernel{release: rel612, image: rel612, modules: other, headers: rel612}, "modules"},
		{"headers", fakeKernel{release: rel612, image: rel612, modules: rel612, headers: other}, "headers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			makeFakeRoot(t, root, tt.k)
			k := scanOne(t, root, rel612)
			if k.Complete() {
				t.Fatalf("a kernel whose %s is %s counts as complete", tt.name, other)
			}
			if len(k.Missing) != 0 {
				t.Errorf("missing %v; want nothing missing, a mismatch", k.Missing)
			}
			if len(k.Mismatch) != 1 || !strings.HasPrefix(k.Mismatch[0], tt.want+" ") || !strings.Contains(k.Mismatch[0], "release "+other) {
				t.Errorf("mismatch %q; want one about the %s being %s", k.Mismatch, tt.want, other)
			}
			_, err := Select([]*Kernel{k}, rel612)
			if err == nil {
				t.Fatal("Select accepted a kernel of mismatched parts")
			}
			for _, s := range []string{rel612, "another release", other, "kmodcheck kernels fetch " + rel612} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Select's error %q does not say %q", err, s)
				}
			}
		})
	}
}

func TestScanMissing(t *testing.T) {
	tests := []struct {
		name string
		k    fakeKernel
		want string
	}{
		{"image", fakeKernel{release: rel612, modules: rel612, headers: rel612}, "linux-image-" + rel612 + " (no /boot/vmlinuz-" + rel612 + ")"},
		{"headers", fakeKernel{release: rel612, image: rel612, modules: rel612}, "linux-headers-" + rel612 + " (no /lib/modules/" + rel612 + "/build/Makefile)"},
		{"common", fakeKernel{release: rel612, image: rel612, modules: rel612, headers: rel612, common: true}, "linux-headers-6.12.111+deb12-common (no /usr/src/linux-headers-6.12.111+deb12-common/Makefile)"},
		{"kbuild", fakeKernel{release: rel612, image: rel612, modules: rel612, headers: rel612, kbuild: true}, "linux-kbuild-6.12.111+deb12 (no scripts/basic/fixdep"},
		{"depmod", fakeKernel{release: rel612, image: rel612, modules: rel612, headers: rel612, noDep: true}, "modules.dep (run depmod -b "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			makeFakeRoot(t, root, tt.k)
			k := scanOne(t, root, rel612)
			if k.Complete() {
				t.Fatalf("complete without its %s", tt.name)
			}
			if len(k.Missing) != 1 || !strings.HasPrefix(k.Missing[0], tt.want) {
				t.Errorf("missing %q, want one starting %q", k.Missing, tt.want)
			}
			if len(k.Mismatch) != 0 {
				t.Errorf("mismatch %q: parts that are absent are not compared", k.Mismatch)
			}
		})
	}
}

func TestInRoot(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"usr/src/h", "usr/lib/kb/scripts", "real"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	os.Symlink("/usr/src/h", filepath.Join(root, "build"))
	os.Symlink("../../lib/kb/scripts", filepath.Join(root, "usr/src/h/scripts"))
	os.Symlink("../../../../..", filepath.Join(root, "up"))
	os.Symlink("usr/lib", filepath.Join(root, "lib"))
	tests := map[string]string{
		"/build":                 "usr/src/h",
		"/build/scripts/basic/x": "usr/lib/kb/scripts/basic/x",
		"/up/real":               "real",
		"/../../real":            "real",
		"/lib/kb":                "usr/lib/kb",
		"/nonexistent/a/../b":    "nonexistent/b",
	}
	for in, want := range tests {
		if got := InRoot(root, in); got != filepath.Join(root, want) {
			t.Errorf("InRoot(%q) = %s, want %s", in, got, filepath.Join(root, want))
		}
	}
	if got := InRoot("/", "/lib/modules"); got != "/lib/modules" {
		t.Errorf("InRoot(/, /lib/modules) = %s", got)
	}
}

func TestReleases(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "vmlinuz")
	os.WriteFile(img, fakeBzImage("6.1.0-56-amd64 (debian-kernel@lists.debian.org) #1 SMP"), 0o644)
	if rel, err := ImageRelease(img); err != nil || rel != "6.1.0-56-amd64" {
		t.Errorf("ImageRelease = %q, %v", rel, err)
	}
	os.WriteFile(img, []byte("not a kernel at all, and long enough to have a header where one would be"+strings.Repeat(".", 1024)), 0o644)
	if _, err := ImageRelease(img); err == nil || !strings.Contains(err.Error(), "not a bzImage") {
		t.Errorf("ImageRelease of a text file: %v", err)
	}
	// Debian's 6.1 headers put the upstream version in kernel.release;
	// utsrelease.h has the release.
	h := filepath.Join(dir, "h")
	os.MkdirAll(filepath.Join(h, "include/config"), 0o755)
	os.WriteFile(filepath.Join(h, "include/config/kernel.release"), []byte("6.1.192\n"), 0o644)
	if rel, src, err := HeadersRelease(h); err != nil || rel != "6.1.192" || src != "include/config/kernel.release" {
		t.Errorf("HeadersRelease with kernel.release only = %q, %q, %v", rel, src, err)
	}
	os.MkdirAll(filepath.Join(h, "include/generated"), 0o755)
	os.WriteFile(filepath.Join(h, "include/generated/utsrelease.h"), []byte("#define UTS_RELEASE \"6.1.0-56-amd64\"\n"), 0o644)
	if rel, _, err := HeadersRelease(h); err != nil || rel != "6.1.0-56-amd64" {
		t.Errorf("HeadersRelease = %q, %v", rel, err)
	}
	if v, err := modinfo(fakeModule("license=GPL", "vermagic=6.1.0-56-amd64 SMP"), "vermagic"); err != nil || v != "6.1.0-56-amd64 SMP" {
		t.Errorf("modinfo vermagic = %q, %v", v, err)
	}
}

// TestSystemKernels checks that the kernels installed here verify: their
// image, modules (.ko.xz) and headers all name their release.
func TestSystemKernels(t *testing.T) {
	ks, _ := Scan("/")
	if len(ks) == 0 {
		t.Skip("no kernel installed")
	}
	for _, k := range ks {
		if len(k.Mismatch) > 0 {
			t.Errorf("%s: %s", k.Release, k.Problem())
		}
		if _, err := os.Stat(k.Image); err == nil {
			if rel, err := ImageRelease(k.Image); err != nil || rel != k.Release {
				t.Errorf("ImageRelease(%s) = %q, %v", k.Image, rel, err)
			}
		}
		if _, err := os.Stat(filepath.Join(k.Modules, "modules.dep")); err == nil {
			if rel, mod, err := ModulesRelease(context.Background(), k.Modules); err != nil || rel != k.Release {
				t.Errorf("ModulesRelease(%s) = %q (%s), %v", k.Modules, rel, mod, err)
			}
		}
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, release string
		want             bool
	}{
		{"6.12", "6.12.111+deb12-amd64", true},
		{"6.12", "6.12.111+deb12-rt-amd64", true},
		{"6.1", "6.12.111+deb12-amd64", false},
		{"6.1", "6.1.0-56-amd64", true},
		{"6.12-rt", "6.12.111+deb12-rt-amd64", true},
		{"6.12-rt", "6.12.111+deb12-amd64", false},
		{"6.12-amd64", "6.12.111+deb12-amd64", true},
		{"6.12-amd64", "6.12.111+deb12-rt-amd64", false},
		{"6.12-rt-amd64", "6.12.111+deb12-rt-amd64", true},
		{"6.12-r", "6.12.111+deb12-rt-amd64", false},
		{"6.12.111-rt", "6.12.111+deb12-rt-amd64", true},
		{"6.12.111+deb12-rt", "6.12.111+deb12-rt-amd64", true},
		{"6.1-rt", "6.1.0-56-rt-amd64", true},
		{"6.1-rt", "6.12.111+deb12-rt-amd64", false},
		{"6.1.0-56", "6.1.0-56-amd64", true},
		{"6.12.*-rt-amd64", "6.12.111+deb12-rt-amd64", true},
		{"6.12.*-rt-amd64", "6.12.111+deb12-amd64", false},
		{rel612, rel612, true},
	}
	for _, tt := range tests {
		if got := Match(tt.pattern, tt.release); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.pattern, tt.release, got, tt.want)
		}
	}
}
