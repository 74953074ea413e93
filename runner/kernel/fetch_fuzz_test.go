package kernel

import (
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// The seed corpora of these targets are in testdata/fuzz/FuzzXxx: apt-cache
// show and pkgnames output of Debian's bookworm, trixie, trixie-backports
// (the split 7.x packages) and sid, and of Ubuntu, as apt prints them.

// FuzzParseShow reads apt-cache show output: every package has a name, and
// each of its fields is text of the input, together no longer than it; a
// stanza is a package exactly when its Package line names one; stanzas are
// read independently (the output twice is the packages twice); and the
// stanzas written from the packages read back as the same packages.
func FuzzParseShow(f *testing.F) {
	f.Add([]byte("Package: linux-image-6.1.0-56-amd64\nVersion: 6.1.192-2\nDepends: kmod, linux-base (>= 4.3~), initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool\nFilename: pool/main/l/linux-signed-amd64/linux-image-6.1.0-56-amd64_6.1.192-2_amd64.deb\nSize: 70550672\n\n"))
	f.Fuzz(func(t *testing.T, out []byte) {
		pkgs := parseShow(out)
		in := string(out)
		total := 0
		for i, p := range pkgs {
			if p.Name == "" || p.Size < 0 {
				t.Fatalf("package %d: %+v", i, p)
			}
			for _, field := range []string{p.Name, p.Version, p.Filename} {
				if !strings.Contains(in, field) || field != strings.TrimSpace(field) {
					t.Fatalf("package %d %+v: field %q is not trimmed text of the input", i, p, field)
				}
			}
			for _, w := range strings.Fields(p.Depends) {
				if !strings.Contains(in, w) {
					t.Fatalf("package %d %+v: Depends holds %q, which the input does not", i, p, w)
				}
			}
			total += len(p.Name) + len(p.Version) + len(p.Filename) + len(p.Depends)
		}
		if total > len(out) {
			t.Fatalf("%d bytes of fields from %d bytes of input: %+v", total, len(out), pkgs)
		}
		if len(out) > 1<<19 {
			return // lines past the scanner's limit end the reading
		}
		named := 0
		for _, line := range strings.Split(in, "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && k == "Package" && strings.TrimSpace(v) != "" {
				named++
			}
		}
		if len(pkgs) != named {
			t.Fatalf("%d packages from %d Package lines naming one: %+v", len(pkgs), named, pkgs)
		}
		twice := parseShow([]byte(in + "\n\n" + in))
		if !slices.Equal(twice, append(slices.Clone(pkgs), pkgs...)) {
			t.Fatalf("the output twice reads as %+v, not %+v twice", twice, pkgs)
		}
		var written strings.Builder
		for _, p := range pkgs {
			fmt.Fprintf(&written, "Package: %s\nVersion: %s\nSize: %d\nFilename: %s\nDepends: %s\n\n", p.Name, p.Version, p.Size, p.Filename, p.Depends)
		}
		if again := parseShow([]byte(written.String())); !slices.Equal(again, pkgs) {
			t.Fatalf("%+v written as stanzas reads back as %+v:\n%s", pkgs, again, written.String())
		}
	})
}

// debianName is a package name as Debian's policy allows (5.6.1).
var debianName = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)

// FuzzDependAlternatives splits a Depends field into groups and reads the
// alternatives of each, as plan does: every name is non-empty text of its
// group with no blank, '|', ',', version constraint or architecture
// qualifier, and there are no more of them than alternatives. Then a group
// is written from the Debian package names among names, each alternative
// shaped by a byte of shape (an architecture qualifier, a version
// constraint with or without a space before it, blanks around '|'), in
// the forms dpkg and apt accept: the names must come back, in order.
func FuzzDependAlternatives(f *testing.F) {
	f.Add("kmod, linux-base (>= 4.3~), initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool", "libc6 libelf1t64 zlib1g", []byte{0x00, 0x05, 0x46})
	f.Fuzz(func(t *testing.T, depends, names string, shape []byte) {
		for _, group := range strings.Split(depends, ",") {
			alts := dependAlternatives(group)
			if len(alts) > strings.Count(group, "|")+1 {
				t.Fatalf("%q: %d names %q", group, len(alts), alts)
			}
			for _, n := range alts {
				if n == "" || !strings.Contains(group, n) || strings.ContainsAny(n, "|,():") || strings.IndexFunc(n, unicode.IsSpace) >= 0 {
					t.Fatalf("%q: name %q among %q", group, n, alts)
				}
			}
		}
		var want []string
		for _, w := range strings.Fields(names) {
			if debianName.MatchString(w) {
				want = append(want, w)
			}
		}
		if len(want) == 0 {
			return
		}
		var group strings.Builder
		for i, n := range want {
			var b byte
			if len(shape) > 0 {
				b = shape[i%len(shape)]
			}
			group.WriteString([]string{"", " ", "\t", "  "}[b>>6])
			group.WriteString(n)
			group.WriteString([]string{"", ":any", ":amd64", ":native"}[b&3])
			group.WriteString([]string{"", " (>= 2.38)", " (= 7.3.4-1~bpo13+1)", "(<< 1:2.3~)"}[b>>2&3])
			if i < len(want)-1 {
				group.WriteString([]string{" | ", "|", "\t|\t", " |"}[b>>4&3])
			}
		}
		if got := dependAlternatives(group.String()); !slices.Equal(got, want) {
			t.Fatalf("%q: names %q, want %q", group.String(), got, want)
		}
	})
}

// FuzzImageReleases reads apt-cache pkgnames linux-image- output as
// suiteOffers does: each release is made of the characters of a package
// name (so it is one path component of the cache, and selects itself),
// has a flavour, and maps to one of the input's names that is its image,
// signed when the input has the signed one and never a -dbg or template
// package; the signed image of each release is read as that release; and
// the map is the same whatever the names' order and with -dbg packages
// added.
func FuzzImageReleases(f *testing.F) {
	f.Add("linux-image-6.12.117+deb13-amd64\nlinux-image-6.12.117+deb13-amd64-dbg\nlinux-image-6.12.117+deb13-amd64-unsigned\nlinux-image-amd64\nlinux-image-6.12-amd64-signed-template\n")
	f.Fuzz(func(t *testing.T, pkgnames string) {
		names := strings.Fields(pkgnames)
		rels := imageReleases(names)
		if len(rels) > len(names) {
			t.Fatalf("%d releases from %d names", len(rels), len(names))
		}
		for rel, n := range rels {
			if !debianName.MatchString(rel) || filepath.Base(rel) != rel || !fullReleaseRE.MatchString(rel) || Flavour(rel) == "" || !Match(rel, rel) {
				t.Fatalf("release %q (of %q) is not a release", rel, n)
			}
			if !slices.Contains(names, n) || strings.HasSuffix(n, "-dbg") || strings.HasSuffix(n, "-template") {
				t.Fatalf("release %q: image %q", rel, n)
			}
			signed := "linux-image-" + rel
			if n != signed && !slices.Contains([]string{signed + "-unsigned", "linux-image-unsigned-" + rel, "linux-image-unsigned-" + rel + "-unsigned"}, n) {
				t.Fatalf("release %q: %q is not its image", rel, n)
			}
			if slices.Contains(names, signed) && n != signed {
				t.Fatalf("release %q: %q, not the signed %q", rel, n, signed)
			}
			if alone := imageReleases([]string{signed}); alone[rel] != signed {
				t.Fatalf("release %q (of %q): its signed image alone reads as %v", rel, n, alone)
			}
		}
		rev := slices.Clone(names)
		slices.Reverse(rev)
		if rev := imageReleases(rev); !maps.Equal(rev, rels) {
			t.Fatalf("names reversed: %v, not %v", rev, rels)
		}
		withDbg := slices.Clone(names)
		for _, n := range names {
			withDbg = append(withDbg, n+"-dbg")
		}
		if dbg := imageReleases(withDbg); !maps.Equal(dbg, rels) {
			t.Fatalf("with -dbg packages: %v, not %v", dbg, rels)
		}
	})
}
