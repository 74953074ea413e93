package kernel

import (
	"cmp"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// FuzzHostSources reads two apt source files (one-line .list, deb822
// .sources, or neither) as NewArchive does: every source's URL and suites
// are non-empty text of the input outside comments, with no blank or '#',
// and there are no more sources than words; a comment after every line
// and a comment line after every line change nothing; and HostDebianURL
// names, for the main archive and for security updates, the URL of a
// source with such a Debian suite, from the first file (by name) that has
// one.
func FuzzHostSources(f *testing.F) {
	f.Add([]byte("deb http://mirror.example/debian/ bookworm main non-free-firmware\n"), []byte("Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\nComponents: main\n"))
	f.Fuzz(func(t *testing.T, data, more []byte) {
		srcs := parseSources(data)
		var uncommented []string
		for _, line := range strings.Split(string(data), "\n") {
			line, _, _ = strings.Cut(line, "#")
			uncommented = append(uncommented, line)
		}
		text := strings.Join(uncommented, "\n")
		if len(srcs) > len(strings.Fields(text)) {
			t.Fatalf("%d sources from %d words", len(srcs), len(strings.Fields(text)))
		}
		for _, s := range srcs {
			for _, w := range append([]string{s.url}, s.suites...) {
				if w == "" || strings.Contains(w, "#") || strings.IndexFunc(w, unicode.IsSpace) >= 0 || !strings.Contains(text, w) {
					t.Fatalf("source %+v: %q is not a word of the input outside comments", s, w)
				}
			}
		}
		if len(data) <= 1<<18 {
			var commented strings.Builder
			for _, line := range strings.Split(string(data), "\n") {
				commented.WriteString(line)
				if strings.TrimSpace(line) != "" {
					commented.WriteString(" # deb http://comment.example/debian bookworm main")
				}
				commented.WriteString("\n#URIs: http://comment.example/debian\n")
			}
			if again := parseSources([]byte(commented.String())); !equalSources(again, srcs) {
				t.Fatalf("with comments: %+v, not %+v\n%s", again, srcs, commented.String())
			}
		}
		files := map[string][]byte{"/etc/apt/sources.list": data, "/etc/apt/sources.list.d/debian.sources": more}
		for _, security := range []bool{false, true} {
			url := HostDebianURL(files, security)
			first := HostDebianURL(map[string][]byte{"sources.list": data}, security)
			second := HostDebianURL(map[string][]byte{"debian.sources": more}, security)
			if want := cmp.Or(first, second); url != want {
				t.Fatalf("security %v: %q; the files alone: %q, %q", security, url, first, second)
			}
			if first == "" {
				continue
			}
			found := false
			for _, s := range srcs {
				if strings.TrimSuffix(s.url, "/") == first && slices.ContainsFunc(s.suites, func(suite string) bool { return debianSuite(suite, security) }) {
					found = true
				}
			}
			if !found {
				t.Fatalf("security %v: %q is no source's with a Debian suite among %+v", security, first, srcs)
			}
		}
	})
}

// debianSuite tells a Debian suite (for the main archive, or security
// updates) by its name.
func debianSuite(suite string, security bool) bool {
	if strings.HasSuffix(suite, "-security") != security {
		return false
	}
	for _, d := range debianSuiteNames {
		if suite == d || strings.HasPrefix(suite, d+"-") {
			return true
		}
	}
	return false
}

func equalSources(a, b []source) bool {
	return slices.EqualFunc(a, b, func(x, y source) bool { return x.url == y.url && slices.Equal(x.suites, y.suites) })
}

// FuzzMetaRelease reads apt-cache show of a meta-package
// (linux-image-amd64) as Span does: the release is that of the first
// dependency (in order, alternatives included) that imageReleases takes
// for a kernel image, and it is what imageReleases gives for it: the
// span's kernel is one the suite offers, named as it offers it, made of
// the characters of a package name, one path component of the cache.
func FuzzMetaRelease(f *testing.F) {
	f.Add([]byte("Package: linux-image-amd64\nSource: linux-signed-amd64 (6.1.192+2)\nVersion: 6.1.192-2\nDepends: linux-image-6.1.0-56-amd64 (= 6.1.192-2)\n\n"))
	f.Fuzz(func(t *testing.T, show []byte) {
		rel := metaRelease(show)
		var want, image string
	find:
		for _, p := range parseShow(show) {
			for _, group := range strings.Split(p.Depends, ",") {
				for _, n := range dependAlternatives(group) {
					for r := range imageReleases([]string{n}) {
						want, image = r, n
						break find
					}
				}
			}
		}
		if rel != want {
			t.Fatalf("release %q; the first dependency imageReleases takes is %q, of %q", rel, image, want)
		}
		if rel != "" && (!debianName.MatchString(rel) || filepath.Base(rel) != rel || !Match(rel, rel)) {
			t.Fatalf("release %q", rel)
		}
	})
}
