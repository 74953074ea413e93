package kernel

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/cache"
)

// Settings of the archive kernels are fetched from, read from the
// environment: a mirror, a proxy or another Debian-format archive.
const (
	EnvArchive = "KMODCHECK_ARCHIVE" // the archive's URL; default: the Debian archive the host's apt uses
	EnvSuites  = "KMODCHECK_SUITES"  // the suites searched, separated by spaces or commas
	EnvKeyring = "KMODCHECK_KEYRING" // the keyring its Release files are signed with
	// EnvSecurity is the URL of the archive of the suites' security
	// updates (SUITE-security); default: the one the host's apt uses.
	EnvSecurity = "KMODCHECK_SECURITY_ARCHIVE"
)

// DefaultSuites are the suites searched unless EnvSuites says otherwise:
// every Debian line a reader runs a kernel of.
func DefaultSuites() []string {
	return []string{"bullseye", "bullseye-security", "bookworm", "bookworm-security", "bookworm-backports",
		"trixie", "trixie-security", "trixie-backports", "sid"}
}

const defaultKeyring = "/usr/share/keyrings/debian-archive-keyring.gpg"

// An Archive is a Debian-format archive and the suites kmodcheck searches
// for kernels in it. Each suite has an apt state of kmodcheck's own in the
// cache (its sources list, package lists and downloads): the host's apt
// sources and state are never read or changed.
type Archive struct {
	URL         string
	SecurityURL string // of the SUITE-security suites; "": they are not searched
	Suites      []string
	Keyring     string
	Cache       cache.Dir
	// MaxAge is how old a suite's package lists may be before they are
	// fetched again; 0 means a day.
	MaxAge time.Duration
}

// NewArchive returns the archive the environment names, or the Debian
// archive the host's apt sources use, with DefaultSuites.
func NewArchive(c cache.Dir) (*Archive, error) {
	a := &Archive{URL: os.Getenv(EnvArchive), SecurityURL: os.Getenv(EnvSecurity), Keyring: os.Getenv(EnvKeyring), Cache: c}
	if a.URL == "" {
		a.URL = HostDebianURL(readHostSources(), false)
	}
	if a.SecurityURL == "" {
		a.SecurityURL = HostDebianURL(readHostSources(), true)
	}
	if a.URL == "" {
		return nil, fmt.Errorf("no Debian archive: the host's apt sources name none; set %s to the URL of Debian's archive or a mirror of it", EnvArchive)
	}
	a.Suites = DefaultSuites()
	if s := os.Getenv(EnvSuites); s != "" {
		a.Suites = strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' })
	}
	if a.SecurityURL == "" {
		var kept []string
		for _, s := range a.Suites {
			if !strings.HasSuffix(s, "-security") {
				kept = append(kept, s)
			}
		}
		a.Suites = kept
	}
	if a.Keyring == "" {
		a.Keyring = defaultKeyring
	}
	return a, nil
}

// readHostSources returns the host's apt source files by name.
func readHostSources() map[string][]byte {
	files := map[string][]byte{}
	names, _ := filepath.Glob("/etc/apt/sources.list.d/*")
	for _, n := range append([]string{"/etc/apt/sources.list"}, names...) {
		if b, err := os.ReadFile(n); err == nil {
			files[n] = b
		}
	}
	return files
}

// debianSuiteNames are the words that mark a source as Debian's archive
// (or a mirror of it) rather than a third party's.
var debianSuiteNames = []string{"buster", "bullseye", "bookworm", "trixie", "forky", "sid", "unstable", "testing", "stable"}

// HostDebianURL finds, in apt source files (one-line .list or deb822
// .sources), the URL of a Debian archive: one that serves a Debian suite,
// or with security, the archive of a Debian suite's security updates. ""
// when there is none, as on Ubuntu.
func HostDebianURL(files map[string][]byte, security bool) string {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, src := range parseSources(files[n]) {
			if src.debian(security) {
				return strings.TrimSuffix(src.url, "/")
			}
		}
	}
	return ""
}

type source struct {
	url    string
	suites []string
}

func (s source) debian(security bool) bool {
	for _, suite := range s.suites {
		if strings.HasSuffix(suite, "-security") != security {
			continue
		}
		base, _, _ := strings.Cut(suite, "-")
		for _, d := range debianSuiteNames {
			if base == d {
				return true
			}
		}
	}
	return false
}

// parseSources reads both formats of apt's sources: "deb [opts] URL SUITE
// COMPONENTS" lines and deb822 stanzas with Types, URIs and Suites.
func parseSources(data []byte) []source {
	var out []source
	stanza := map[string]string{}
	flush := func() {
		if strings.Contains(" "+stanza["types"]+" ", " deb ") && stanza["enabled"] != "no" {
			for _, u := range strings.Fields(stanza["uris"]) {
				out = append(out, source{url: u, suites: strings.Fields(stanza["suites"])})
			}
		}
		stanza = map[string]string{}
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			flush()
			continue
		}
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = strings.TrimSpace(line[:i]) // a comment does not end a stanza
		}
		switch {
		case line == "":
		case strings.HasPrefix(line, "deb ") || strings.HasPrefix(line, "deb\t"):
			f := strings.Fields(line)[1:]
			if len(f) > 0 && strings.HasPrefix(f[0], "[") {
				for len(f) > 0 && !strings.HasSuffix(f[0], "]") {
					f = f[1:]
				}
				if len(f) > 0 {
					f = f[1:]
				}
			}
			if len(f) >= 2 {
				out = append(out, source{url: f[0], suites: []string{f[1]}})
			}
		default:
			if k, v, ok := strings.Cut(line, ":"); ok && !strings.Contains(k, " ") {
				stanza[strings.ToLower(k)] = strings.TrimSpace(v)
			}
		}
	}
	flush()
	return out
}

// BaseSuite is the distribution a suite belongs to: trixie for
// trixie-backports, sid for sid.
func BaseSuite(suite string) string {
	for _, s := range []string{"-backports", "-updates", "-security", "-proposed-updates"} {
		if b, ok := strings.CutSuffix(suite, s); ok {
			return b
		}
	}
	return suite
}

// SourceLines are the apt source lines of a suite: the suite itself and,
// for backports and security updates, the distribution it builds on.
func (a *Archive) SourceLines(suite string) []string {
	suites := []string{suite}
	if b := BaseSuite(suite); b != suite {
		suites = []string{b, suite}
	}
	return a.lines(suites)
}

// RootSourceLines are the sources of a reader's machine of suite's
// distribution: the distribution with its security updates, and the suite
// itself when it is backports.
func (a *Archive) RootSourceLines(suite string) []string {
	b := BaseSuite(suite)
	suites := []string{b}
	if a.SecurityURL != "" && b != "sid" && b != "unstable" {
		suites = append(suites, b+"-security")
	}
	if suite != b && !strings.HasSuffix(suite, "-security") {
		suites = append(suites, suite)
	}
	return a.lines(suites)
}

func (a *Archive) lines(suites []string) []string {
	var lines []string
	for _, s := range suites {
		url := a.URL
		if strings.HasSuffix(s, "-security") {
			url = a.SecurityURL
		}
		lines = append(lines, fmt.Sprintf("deb [arch=amd64 signed-by=%s] %s %s main", a.Keyring, url, s))
	}
	return lines
}

// stateDir is the apt state of one suite, named by the archive too, so
// that another archive gets lists of its own.
func (a *Archive) stateDir(suite string) string {
	return a.Cache.Path("apt", suite+"-"+cache.Key(a.URL, a.SecurityURL, a.Keyring)[:8])
}

// AptOptions make apt-get and apt-cache use the suite's own state only:
// its sources, lists and downloads, an empty dpkg status and no host
// preferences, so the host's apt neither shows nor changes.
func (a *Archive) AptOptions(suite string) []string {
	d := a.stateDir(suite)
	opts := []string{
		"Dir::Etc::SourceList=" + filepath.Join(d, "sources.list"),
		"Dir::Etc::SourceParts=-",
		"Dir::Etc::Preferences=/dev/null",
		"Dir::Etc::PreferencesParts=-",
		"Dir::State::Lists=" + filepath.Join(d, "lists"),
		"Dir::State::status=" + filepath.Join(d, "status"),
		"Dir::Cache=" + filepath.Join(d, "cache"),
		"APT::Architecture=amd64",
		"APT::Architectures=amd64",
		// A mirror or snapshot of the archive may serve suites whose
		// Release files are past their Valid-Until (sid's are, a week on).
		"Acquire::Check-Valid-Until=false",
	}
	if os.Geteuid() == 0 {
		// apt's _apt user cannot write a root-owned cache directory.
		opts = append(opts, "APT::Sandbox::User=root")
	}
	var args []string
	for _, o := range opts {
		args = append(args, "-o", o)
	}
	return args
}

// Update fetches the package lists of every suite whose lists are missing
// or older than MaxAge (all of them when force), all suites at once,
// printing a line each.
func (a *Archive) Update(ctx context.Context, run runFunc, out io.Writer, force bool) error {
	maxAge := a.MaxAge
	if maxAge == 0 {
		maxAge = 24 * time.Hour
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, suite := range a.Suites {
		stamp := filepath.Join(a.stateDir(suite), "updated")
		if st, err := os.Stat(stamp); err == nil && !force && time.Since(st.ModTime()) < maxAge {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			err := a.update(ctx, run, suite)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			fmt.Fprintf(out, "apt-get update: %s in %s (%s of lists)\n", suite, time.Since(start).Round(100*time.Millisecond), Size(dirSize(filepath.Join(a.stateDir(suite), "lists"))))
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// update writes a suite's apt state and fetches its lists.
func (a *Archive) update(ctx context.Context, run runFunc, suite string) error {
	d := a.stateDir(suite)
	for _, sub := range []string{"lists/partial", "cache/archives/partial"} {
		if err := os.MkdirAll(filepath.Join(d, sub), 0o755); err != nil {
			return err
		}
	}
	if err := cache.WriteFile(filepath.Join(d, "sources.list"), []byte(strings.Join(a.SourceLines(suite), "\n")+"\n")); err != nil {
		return err
	}
	if err := touch(filepath.Join(d, "status")); err != nil {
		return err
	}
	if err := run(ctx, "", io.Discard, "apt-get", append(a.AptOptions(suite), "-q", "update")...); err != nil {
		return fmt.Errorf("update the package lists of %s: %w", suite, err)
	}
	return cache.WriteFile(filepath.Join(d, "updated"), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"))
}

func touch(file string) error {
	f, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

// SpanName is the kernel name that stands for the span: the newest plain
// kernel of each suite in EnvSpan.
const SpanName = "span"

// EnvSpan lists the suites whose newest kernel the span takes.
const EnvSpan = "KMODCHECK_SPAN"

// DefaultSpan is every Debian kernel line a reader runs: the LTS of each
// release and the newest of backports and unstable.
func DefaultSpan() []string {
	return []string{"bullseye", "bookworm", "trixie", "trixie-backports", "sid"}
}

// SpanSuites returns the span's suites, from EnvSpan or DefaultSpan.
func SpanSuites() []string {
	if s := os.Getenv(EnvSpan); s != "" {
		return strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' })
	}
	return DefaultSpan()
}

// Span returns, for each span suite, the kernel a reader of it installs:
// the release the suite's linux-image-amd64 depends on (with the suite's
// security updates, and for backports with the suite as the default
// release, as apt install -t SUITE does), oldest line first.
func (f *Fetcher) Span(ctx context.Context) ([]Offer, error) {
	if f.Archive == nil {
		return nil, errors.New("the span needs an archive")
	}
	if err := f.Update(ctx, false); err != nil {
		return nil, err
	}
	var span []Offer
	seen := map[string]bool{}
	for _, suite := range SpanSuites() {
		o, err := f.metaKernel(ctx, suite)
		if err != nil {
			return nil, err
		}
		if !seen[o.Release] {
			seen[o.Release] = true
			span = append(span, o)
		}
	}
	sort.SliceStable(span, func(i, j int) bool { return newer(span[j].Release, span[i].Release) })
	return span, nil
}

// metaKernel is the kernel suite's linux-image-amd64 depends on.
func (f *Fetcher) metaKernel(ctx context.Context, suite string) (Offer, error) {
	state := suite
	if slices.Contains(f.Archive.Suites, suite+"-security") {
		state = suite + "-security" // its lists hold the suite's too
	}
	if !slices.Contains(f.Archive.Suites, state) {
		return Offer{}, fmt.Errorf("the span's suite %s is not among the archive's (%s; set %s or %s)", suite, strings.Join(f.Archive.Suites, ", "), EnvSpan, EnvSuites)
	}
	args := f.Archive.AptOptions(state)
	if BaseSuite(suite) != suite {
		// A backports suite's packages yield to its base suite's unless
		// asked for, as apt install -t SUITE does; security updates do not.
		args = append(args, "-o", "APT::Default-Release="+suite)
	}
	args = append(args, "show", "--no-all-versions", "linux-image-amd64")
	out, err := f.output(ctx, "apt-cache", args...)
	if err != nil {
		return Offer{}, fmt.Errorf("the kernel of %s: %w", suite, err)
	}
	rel := metaRelease(out)
	if rel == "" {
		return Offer{}, fmt.Errorf("the kernel of %s: its linux-image-amd64 depends on no kernel release", suite)
	}
	return Offer{Release: rel, Suite: suite}, nil
}

// metaRelease reads apt-cache show's stanza of a meta-package
// (linux-image-amd64): the release of the first kernel image it depends
// on, read as the suite's offers are (imageRelease), "" if none.
func metaRelease(show []byte) string {
	for _, p := range parseShow(show) {
		for _, group := range strings.Split(p.Depends, ",") {
			for _, n := range dependAlternatives(group) {
				if rel, _, ok := imageRelease(n); ok {
					return rel
				}
			}
		}
	}
	return ""
}
