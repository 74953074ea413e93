package kernel

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"

	"github.com/kmodcheck/kmodcheck/runner/cache"
)

// A Package is one Debian package of a kernel, as apt-cache shows its
// candidate version.
type Package struct {
	Name     string
	Version  string
	Size     int64  // of the .deb, in bytes
	Filename string // in the archive's pool; its base is the downloaded file's name
	Depends  string
}

// DebName is the file name apt-get download gives the package.
func (p Package) DebName() string {
	if p.Filename != "" {
		return filepath.Base(p.Filename)
	}
	return p.Name + "_" + strings.ReplaceAll(p.Version, ":", "%3a") + "_amd64.deb"
}

// A Plan is what fetching one release takes.
type Plan struct {
	Release  string
	Suite    string    // the archive suite it comes from; "" for the host's apt
	Packages []Package // the image first, then the headers and the kernel packages they depend on
	// Needs are the packages the headers depend on that are not kernel
	// packages (the compiler, libraries of kbuild's tools): the release
	// root a build runs in has them.
	Needs []string
}

// Size is the plan's download size in bytes.
func (p *Plan) Size() int64 {
	var n int64
	for _, pkg := range p.Packages {
		n += pkg.Size
	}
	return n
}

// runFunc runs a program in dir, its standard output to stdout.
type runFunc func(ctx context.Context, dir string, stdout io.Writer, name string, args ...string) error

// A Fetcher gets a Debian kernel and its headers from an archive into the
// cache: apt-cache resolves the name in each of the archive's suites,
// apt-get download fetches the .debs as any user may, and dpkg-deb -x
// unpacks them into cache.Path("kernels", RELEASE), a root of its own.
// Nothing is installed, and the host's apt state is not used.
type Fetcher struct {
	Cache   cache.Dir
	Archive *Archive  // where kernels come from; nil: the host's apt sources
	Out     io.Writer // progress; nil discards it

	// Run runs a program in dir, its standard output to stdout; nil runs
	// it for real. Tests answer apt-cache with fixtures through it.
	Run runFunc
}

func (f *Fetcher) out() io.Writer {
	if f.Out == nil {
		return io.Discard
	}
	return f.Out
}

// programWaitDelay bounds the wait for a program's output once it was
// killed or exited: a process it started and left running may hold it.
const programWaitDelay = 5 * time.Second

func (f *Fetcher) run(ctx context.Context, dir string, stdout io.Writer, name string, args ...string) error {
	if f.Run != nil {
		return f.Run(ctx, dir, stdout, name, args...)
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, stdout, &stderr
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	// A stopped run stops the program and all it started (mmdebstrap's
	// apt and dpkg): its process group. Killed alone, mmdebstrap's own
	// forks went on making the root, and held its output open.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = programWaitDelay
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			return fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
		}
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, msg)
	}
	return nil
}

func (f *Fetcher) output(ctx context.Context, name string, args ...string) ([]byte, error) {
	var buf bytes.Buffer
	err := f.run(ctx, "", &buf, name, args...)
	return buf.Bytes(), err
}

// Root is where release is unpacked.
func (f *Fetcher) Root(release string) string { return f.Cache.Path("kernels", release) }

// fullReleaseRE tells a release (6.1.0-56-amd64, 6.12.111+deb12-rt-amd64)
// from the name of a meta-package (linux-image-6.12-amd64, linux-image-amd64).
var fullReleaseRE = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+[^-]*-[a-z0-9]`)

// packageNameRE is what a Debian package name is made of (policy 5.6.1):
// a release read from one is a single component of a cache path, and
// selects itself (Match).
var packageNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)

// imageReleases maps the releases among linux-image-* package names to the
// image package to fetch: the signed linux-image-REL, which Debian
// installs, else linux-image-REL-unsigned.
func imageReleases(names []string) map[string]string {
	rels := map[string]string{}
	for _, n := range names {
		rel, unsigned, ok := imageRelease(n)
		if !ok {
			continue
		}
		// The signed image; of two unsigned ones (both namings), the
		// first by name, whatever order apt lists them in.
		if had, have := rels[rel]; !have || !unsigned || had != "linux-image-"+rel && n < had {
			rels[rel] = n
		}
	}
	return rels
}

// imageRelease reads the name of a kernel image package: the release of
// linux-image-REL, or of an unsigned image, which Debian names
// linux-image-REL-unsigned and Ubuntu linux-image-unsigned-REL. Other
// names (meta-packages, -dbg packages, templates) have none.
func imageRelease(name string) (rel string, unsigned, ok bool) {
	rel, ok = strings.CutPrefix(name, "linux-image-")
	if !ok {
		return "", false, false
	}
	unsigned = strings.HasSuffix(rel, "-unsigned") || strings.HasPrefix(rel, "unsigned-")
	rel = strings.TrimPrefix(strings.TrimSuffix(rel, "-unsigned"), "unsigned-")
	// What is left is the release itself, not the name of another
	// package that it names unsigned (REL-dbg-unsigned).
	if strings.HasSuffix(rel, "-dbg") || strings.HasSuffix(rel, "-template") || strings.HasSuffix(rel, "-unsigned") ||
		!fullReleaseRE.MatchString(rel) || Flavour(rel) == "" || !packageNameRE.MatchString(rel) {
		return "", false, false
	}
	return rel, unsigned, true
}

// An Offer is a kernel release an archive suite has with its headers.
type Offer struct {
	Release string
	Suite   string // "" for the host's apt
	Image   string // the image package to fetch
	Size    int64  // of the image and headers packages; 0 unless asked for
}

// suites are the suites searched: the archive's, or the host's apt ("").
func (f *Fetcher) suites() []string {
	if f.Archive == nil {
		return []string{""}
	}
	return f.Archive.Suites
}

// apt runs an apt tool with the suite's own state.
func (f *Fetcher) apt(ctx context.Context, suite, tool string, args ...string) ([]byte, error) {
	if f.Archive != nil {
		args = append(f.Archive.AptOptions(suite), args...)
	}
	return f.output(ctx, tool, args...)
}

// Update brings the archive's package lists up to date where they are
// missing or old (all of them when force).
func (f *Fetcher) Update(ctx context.Context, force bool) error {
	if f.Archive == nil {
		return nil
	}
	return f.Archive.Update(ctx, f.run, f.out(), force)
}

// Available lists the releases with both an image and a headers package in
// every suite, newest first; with sizes, it asks apt-cache for the size of
// each release's image and headers packages.
func (f *Fetcher) Available(ctx context.Context, sizes bool) ([]Offer, error) {
	if err := f.Update(ctx, false); err != nil {
		return nil, err
	}
	suites := f.suites()
	found := make([][]Offer, len(suites))
	errs := make([]error, len(suites))
	var wg sync.WaitGroup
	for i, suite := range suites {
		wg.Add(1)
		go func() {
			defer wg.Done()
			found[i], errs[i] = f.suiteOffers(ctx, suite, sizes)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var offers []Offer
	listed := map[string]bool{}
	for _, here := range found { // in the suites' order
		for _, o := range here {
			if !listed[o.Release] { // a backports suite lists its base suite's kernels too
				listed[o.Release] = true
				offers = append(offers, o)
			}
		}
	}
	sortPreferred(offers, func(o Offer) string { return o.Release })
	return offers, nil
}

// suiteOffers lists the releases one suite has with headers.
func (f *Fetcher) suiteOffers(ctx context.Context, suite string, sizes bool) ([]Offer, error) {
	out, err := f.apt(ctx, suite, "apt-cache", "pkgnames", "linux-image-")
	if err != nil {
		return nil, err
	}
	images := imageReleases(strings.Fields(string(out)))
	out, err = f.apt(ctx, suite, "apt-cache", "pkgnames", "linux-headers-")
	if err != nil {
		return nil, err
	}
	headers := map[string]bool{}
	for _, n := range strings.Fields(string(out)) {
		headers[n] = true
	}
	var names []string
	var here []Offer
	for rel, img := range images {
		if headers["linux-headers-"+rel] {
			here = append(here, Offer{Release: rel, Suite: suite, Image: img})
			names = append(names, img, "linux-headers-"+rel)
		}
	}
	if sizes && len(names) > 0 {
		out, _ := f.apt(ctx, suite, "apt-cache", append([]string{"show", "--no-all-versions"}, names...)...)
		size := map[string]int64{}
		for _, p := range parseShow(out) {
			size[p.Name] = p.Size
		}
		for i := range here {
			here[i].Size = size[here[i].Image] + size["linux-headers-"+here[i].Release]
		}
	}
	return here, nil
}

// Resolve turns a kernel name (6.12, 6.12-rt, 6.12.*-rt-amd64, or a
// release) into the packages of the newest matching release that has both
// an image and headers in one of the suites, preferring the plain amd64
// flavour unless the name says otherwise, as Select does.
func (f *Fetcher) Resolve(ctx context.Context, name string) (*Plan, error) {
	if name == "" {
		return nil, errors.New("no kernel name")
	}
	offers, err := f.Available(ctx, false)
	if err != nil {
		return nil, err
	}
	var matched []Offer
	for _, o := range offers {
		if Match(name, o.Release) {
			matched = append(matched, o)
		}
	}
	if len(matched) == 0 {
		return nil, f.noMatch(ctx, name, offers)
	}
	best := matched[0] // offers are in preference order
	return f.plan(ctx, best)
}

// where names where kernels are looked for: the archive's suites, or
// the host's apt.
func (f *Fetcher) where() string {
	if f.Archive != nil {
		return fmt.Sprintf("the archive's suites (%s)", strings.Join(f.Archive.Suites, ", "))
	}
	return "apt-cache"
}

// noMatch says why no offer matches name.
func (f *Fetcher) noMatch(ctx context.Context, name string, offers []Offer) error {
	where := f.where()
	if len(offers) == 0 {
		if f.Archive == nil {
			return fmt.Errorf("apt-cache knows no linux-image packages: run apt-get update (as root) first")
		}
		return fmt.Errorf("%s have no linux-image packages with headers", where)
	}
	var avail []string
	for _, o := range offers {
		avail = append(avail, o.Release)
	}
	if len(avail) > 12 {
		avail = avail[:12]
	}
	return fmt.Errorf("no Debian kernel package matches %q in %s; there are %s", name, where, strings.Join(avail, ", "))
}

// plan lists the packages of an offer: its image and what the image pulls
// in of the same release (the modules and binary packages of Debian's
// split 7.x kernels, Ubuntu's linux-modules), its headers and the kernel
// packages they depend on; the headers' other dependencies are Needs.
func (f *Fetcher) plan(ctx context.Context, o Offer) (*Plan, error) {
	plan := &Plan{Release: o.Release, Suite: o.Suite}
	pkgs, err := f.show(ctx, o.Suite, o.Image, "linux-headers-"+o.Release)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, p := range pkgs {
		seen[p.Name] = true
	}
	plan.Packages = pkgs
	var needs []string
	for i := 0; i < len(plan.Packages); i++ {
		var more []string
		for _, group := range strings.Split(plan.Packages[i].Depends, ",") {
			alts := dependAlternatives(group)
			if len(alts) == 0 {
				continue
			}
			n := alts[0]
			switch {
			case seen[n]:
			case strings.Contains(n, o.Release) || strings.HasPrefix(n, "linux-headers-") || strings.HasPrefix(n, "linux-kbuild-"):
				seen[n] = true
				more = append(more, n)
			case i == 0 || anyPrefix(alts, "linux-image-") || n == "linux-base":
				// What the image needs to be installed (initramfs tools,
				// linux-base) is no part of building or booting it here.
			default:
				seen[n] = true
				needs = append(needs, n)
			}
		}
		if len(more) > 0 {
			ps, err := f.show(ctx, o.Suite, more...)
			if err != nil {
				return nil, err
			}
			plan.Packages = append(plan.Packages, ps...)
		}
	}
	plan.Needs = needs
	return plan, nil
}

// dependAlternatives returns the package names of one Depends group,
// "a (>= 1) | b:any" giving a and b. As in apt and dpkg, a name ends at a
// blank or a bracket: "a(>= 1)" is a too.
func dependAlternatives(group string) []string {
	var names []string
	for _, alt := range strings.Split(group, "|") {
		alt = strings.TrimLeftFunc(alt, unicode.IsSpace)
		if end := strings.IndexFunc(alt, endsName); end >= 0 {
			alt = alt[:end]
		}
		if n, _, _ := strings.Cut(alt, ":"); n != "" {
			names = append(names, n)
		}
	}
	return names
}

func endsName(r rune) bool { return unicode.IsSpace(r) || strings.ContainsRune("()[]<>,", r) }

func anyPrefix(names []string, prefix string) bool {
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			return true
		}
	}
	return false
}

// show runs apt-cache show for the candidate versions of names in suite.
func (f *Fetcher) show(ctx context.Context, suite string, names ...string) ([]Package, error) {
	args := append([]string{"show", "--no-all-versions"}, names...)
	out, err := f.apt(ctx, suite, "apt-cache", args...)
	pkgs := parseShow(out)
	byName := map[string]Package{}
	for _, p := range pkgs {
		if _, dup := byName[p.Name]; !dup {
			byName[p.Name] = p
		}
	}
	var res []Package
	for _, n := range names {
		p, ok := byName[n]
		if !ok {
			if err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("apt-cache show %s: no such package", n)
		}
		res = append(res, p)
	}
	return res, nil
}

// parseShow reads apt-cache show's stanzas.
func parseShow(out []byte) []Package {
	var pkgs []Package
	var cur *Package
	var last string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			cur = nil
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if cur != nil && last == "Depends" {
				// deb822 folds a field onto lines that start with a blank;
				// its first line may be empty.
				cur.Depends = strings.TrimSpace(cur.Depends + " " + strings.TrimSpace(line))
			}
			continue
		}
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		last = key
		if key == "Package" {
			cur = nil
			if val != "" { // a stanza without a name is no package's
				pkgs = append(pkgs, Package{Name: val})
				cur = &pkgs[len(pkgs)-1]
			}
			continue
		}
		if cur == nil {
			continue
		}
		switch key {
		case "Version":
			cur.Version = val
		case "Size":
			cur.Size, _ = strconv.ParseInt(val, 10, 64)
			cur.Size = max(cur.Size, 0) // a negative size is none: unknown, 0
		case "Filename":
			cur.Filename = val
		case "Depends":
			cur.Depends = val
		}
	}
	return pkgs
}

// Cached returns the complete kernel of release already unpacked in the
// cache, or nil.
func (f *Fetcher) Cached(release string) *Kernel {
	ks, _ := Scan(f.Root(release))
	for _, k := range ks {
		if k.Release == release && k.Complete() {
			return k
		}
	}
	return nil
}

// Fetch obtains the kernel name selects, unless the cache has it complete
// already, and returns it. dryRun stops after printing the plan.
func (f *Fetcher) Fetch(ctx context.Context, name string, dryRun bool) (*Kernel, error) {
	w := f.out()
	if fullReleaseRE.MatchString(name) && !strings.ContainsAny(name, "*?[") {
		if k := f.Cached(name); k != nil {
			fmt.Fprintf(w, "%s is already complete in %s: nothing to fetch\n", name, k.Root)
			return k, nil
		}
	}
	fmt.Fprintf(w, "looking for %s in %s\n", name, f.where()) // the lists may take a while
	plan, err := f.Resolve(ctx, name)
	if err != nil {
		return nil, err
	}
	rel := plan.Release
	if k := f.Cached(rel); k != nil {
		fmt.Fprintf(w, "%s is already complete in %s: nothing to fetch\n", rel, k.Root)
		return k, nil
	}
	if f.Run == nil {
		sys, _ := Scan("/")
		for _, k := range sys {
			if k.Release == rel && k.Complete() {
				fmt.Fprintf(w, "%s is installed on this system, complete: nothing to fetch\n", rel)
				return k, nil
			}
		}
	}
	root := f.Root(rel)
	fmt.Fprintf(w, "fetching %s into %s\n", rel, root)
	for _, p := range plan.Packages {
		fmt.Fprintf(w, "  %-44s %-22s %10s\n", p.Name, p.Version, Size(p.Size))
	}
	fmt.Fprintf(w, "  %-44s %-22s %10s\n", "total", "", Size(plan.Size()))
	if plan.Suite != "" {
		fmt.Fprintf(w, "  from %s; builds for it run in a root of %s holding what its headers need: %s\n",
			plan.Suite, BaseSuite(plan.Suite), strings.Join(plan.Needs, ", "))
	}
	if dryRun {
		return nil, nil
	}
	start := time.Now()
	debs, err := f.download(ctx, plan)
	if err != nil {
		return nil, err
	}
	if err := f.unpack(ctx, plan, debs, root); err != nil {
		return nil, err
	}
	k := f.Cached(rel)
	if k == nil {
		return nil, fmt.Errorf("%s: unpacked into %s but not complete", rel, root)
	}
	os.RemoveAll(f.Cache.Path("debs", rel))
	fmt.Fprintf(w, "%s complete in %s (%s unpacked) in %s\n", rel, root, Size(dirSize(root)), time.Since(start).Round(100*time.Millisecond))
	return k, nil
}

// download gets the plan's packages into the cache's debs directory with
// apt-get download, keeping any whole .deb from an earlier attempt.
func (f *Fetcher) download(ctx context.Context, plan *Plan) ([]string, error) {
	w := f.out()
	dir := f.Cache.Path("debs", plan.Release)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var files, args []string
	var size int64
	for _, p := range plan.Packages {
		file := filepath.Join(dir, p.DebName())
		files = append(files, file)
		if st, err := os.Stat(file); err == nil && (p.Size == 0 || st.Size() == p.Size) {
			fmt.Fprintf(w, "have %s (%s)\n", filepath.Base(file), Size(st.Size()))
			continue
		}
		args = append(args, p.Name+"="+p.Version)
		size += p.Size
	}
	if len(args) > 0 {
		fmt.Fprintf(w, "downloading %d packages, %s, with apt-get download into %s\n", len(args), Size(size), dir)
		start := time.Now()
		var cmd []string
		switch {
		case f.Archive != nil:
			cmd = f.Archive.AptOptions(plan.Suite)
		case os.Geteuid() == 0:
			// apt's _apt user cannot write a root-owned cache directory;
			// say so rather than have apt warn about it.
			cmd = []string{"-o", "APT::Sandbox::User=root"}
		}
		cmd = append(cmd, "download")
		pw := &prefixWriter{w: w, prefix: "  "}
		err := f.run(ctx, dir, pw, "apt-get", append(cmd, args...)...)
		pw.Flush()
		if err != nil {
			return nil, err
		}
		d := time.Since(start)
		fmt.Fprintf(w, "downloaded %s in %s (%s/s)\n", Size(size), d.Round(100*time.Millisecond), Size(int64(float64(size)/d.Seconds())))
	}
	for i, p := range plan.Packages {
		st, err := os.Stat(files[i])
		if err != nil {
			return nil, fmt.Errorf("apt-get download %s: %s did not appear", p.Name, files[i])
		}
		if p.Size != 0 && st.Size() != p.Size {
			return nil, fmt.Errorf("apt-get download %s: %s has %d bytes, apt-cache says %d", p.Name, files[i], st.Size(), p.Size)
		}
	}
	return files, nil
}

// unpack extracts the .debs into a staging directory, completes it
// (modules.dep), checks that it is one complete release and moves it to
// root, replacing an incomplete one.
func (f *Fetcher) unpack(ctx context.Context, plan *Plan, debs []string, root string) error {
	w := f.out()
	parent := f.Cache.Path("unpack", "")
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	stage, err := os.MkdirTemp(parent, plan.Release+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage)
	for i, deb := range debs {
		start := time.Now()
		fmt.Fprintf(w, "unpacking %s (%s)", plan.Packages[i].Name, Size(plan.Packages[i].Size))
		if err := f.run(ctx, "", io.Discard, "dpkg-deb", "-x", deb, stage); err != nil {
			fmt.Fprintln(w)
			return err
		}
		fmt.Fprintf(w, " in %s\n", time.Since(start).Round(100*time.Millisecond))
	}
	// A root like the merged-/usr systems it comes from: packages that
	// ship usr/lib/modules are found at lib/modules too.
	if _, err := os.Lstat(filepath.Join(stage, "lib")); err != nil {
		if _, err := os.Stat(filepath.Join(stage, "usr", "lib", "modules")); err == nil {
			if err := os.Symlink("usr/lib", filepath.Join(stage, "lib")); err != nil {
				return err
			}
		}
	}
	if err := writeMeta(stage, Meta{Suite: plan.Suite, Needs: plan.Needs}); err != nil {
		return err
	}
	// Debian's image package leaves modules.dep to its postinst.
	depmod := "depmod"
	for _, p := range []string{"depmod", "/usr/sbin/depmod", "/sbin/depmod"} {
		if lp, err := exec.LookPath(p); err == nil {
			depmod = lp
			break
		}
	}
	start := time.Now()
	fmt.Fprintf(w, "depmod %s (the image package leaves modules.dep to its postinst)", plan.Release)
	if err := f.run(ctx, "", io.Discard, depmod, "-b", stage, plan.Release); err != nil {
		fmt.Fprintln(w)
		return fmt.Errorf("%w (install kmod)", err)
	}
	fmt.Fprintf(w, " in %s\n", time.Since(start).Round(100*time.Millisecond))
	start = time.Now()
	ks, _ := Scan(stage)
	var k *Kernel
	for _, x := range ks {
		if x.Release == plan.Release {
			k = x
		}
	}
	if k == nil {
		return fmt.Errorf("the packages of %s hold no kernel of that release", plan.Release)
	}
	if !k.Complete() {
		return fmt.Errorf("the packages of %s do not make a usable kernel: %s", plan.Release, k.Problem())
	}
	fmt.Fprintf(w, "verified in %s: image, modules (vermagic) and headers are all %s\n", time.Since(start).Round(100*time.Millisecond), plan.Release)
	if err := os.MkdirAll(filepath.Dir(root), 0o755); err != nil {
		return err
	}
	if _, err := os.Lstat(root); err == nil {
		fmt.Fprintf(w, "replacing the incomplete %s\n", root)
		if err := os.RemoveAll(root); err != nil {
			return err
		}
	}
	return os.Rename(stage, root)
}

// Size formats a byte count for people.
func Size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// prefixWriter indents each line written through it.
type prefixWriter struct {
	w      io.Writer
	prefix string
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		line := bytes.TrimRight(p.buf[:i], "\r")
		// apt redraws its progress line with \r: keep the last state.
		if j := bytes.LastIndexByte(line, '\r'); j >= 0 {
			line = line[j+1:]
		}
		fmt.Fprintf(p.w, "%s%s\n", p.prefix, line)
		p.buf = p.buf[i+1:]
	}
	return len(b), nil
}

// Flush writes what is left of a last line without a newline.
func (p *prefixWriter) Flush() {
	if len(p.buf) > 0 {
		fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf)
		p.buf = nil
	}
}
