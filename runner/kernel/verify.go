package kernel

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// InRoot returns the host path of name, an absolute path as seen from inside
// root, following symlinks as if root were "/": an absolute link target such
// as Debian's /lib/modules/REL/build -> /usr/src/linux-headers-REL is taken
// inside root, and ".." never leaves it. Components that do not exist are
// kept as they are. With root "/" it returns name.
func InRoot(root, name string) string {
	if root == "" || root == "/" {
		return name
	}
	rest := strings.Split(filepath.Clean("/"+name), "/")
	cur := "/"
	links := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			cur = filepath.Dir(cur)
			continue
		}
		next := filepath.Join(cur, c)
		host := filepath.Join(root, next)
		fi, err := os.Lstat(host)
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			cur = next
			continue
		}
		target, err := os.Readlink(host)
		if links++; err != nil || links > 40 {
			cur = next
			continue
		}
		if filepath.IsAbs(target) {
			cur = "/"
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	return filepath.Join(root, cur)
}

// ImageRelease returns the release a bzImage was built as: the first word
// of the version string that the x86 boot protocol header's kernel_version
// field points at ("6.12.111+deb12-amd64 (debian-kernel@...) #1 SMP ...").
func ImageRelease(file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	hdr := make([]byte, 0x270)
	if _, err := io.ReadFull(f, hdr); err != nil {
		return "", fmt.Errorf("%s: not a bzImage: %v", file, err)
	}
	if string(hdr[0x202:0x206]) != "HdrS" {
		return "", fmt.Errorf("%s: not a bzImage (no HdrS boot header)", file)
	}
	if proto := binary.LittleEndian.Uint16(hdr[0x206:]); proto < 0x200 {
		return "", fmt.Errorf("%s: boot protocol %#x has no kernel version", file, proto)
	}
	ptr := int64(binary.LittleEndian.Uint16(hdr[0x20e:]))
	if ptr == 0 {
		return "", fmt.Errorf("%s: the boot header has no kernel version", file)
	}
	buf := make([]byte, 256)
	n, err := f.ReadAt(buf, 0x200+ptr)
	if n == 0 && err != nil {
		return "", fmt.Errorf("%s: read kernel version: %v", file, err)
	}
	buf = buf[:n]
	if i := bytes.IndexByte(buf, 0); i >= 0 {
		buf = buf[:i]
	}
	fields := strings.Fields(string(buf))
	if len(fields) == 0 {
		return "", fmt.Errorf("%s: empty kernel version", file)
	}
	return fields[0], nil
}

var (
	utsReleaseRE = regexp.MustCompile(`(?m)^#define UTS_RELEASE "([^"]+)"`)
	kernelVarRE  = regexp.MustCompile(`(?m)^override KERNELRELEASE = (\S+)`)
)

// HeadersRelease returns the release a build directory (a headers package's
// /usr/src/linux-headers-REL) is for, and the file that says so:
// include/generated/utsrelease.h, else Debian's .kernelvariables, else
// include/config/kernel.release (Debian's 6.1 headers put the upstream
// version there, so it comes last).
func HeadersRelease(dir string) (release, source string, err error) {
	try := []struct {
		file string
		re   *regexp.Regexp
	}{
		{"include/generated/utsrelease.h", utsReleaseRE},
		{".kernelvariables", kernelVarRE},
		{"include/config/kernel.release", nil},
	}
	for _, t := range try {
		data, err := os.ReadFile(filepath.Join(dir, t.file))
		if err != nil {
			continue
		}
		if t.re == nil {
			if r := strings.TrimSpace(string(data)); r != "" {
				return r, t.file, nil
			}
			continue
		}
		if m := t.re.FindSubmatch(data); m != nil {
			return string(m[1]), t.file, nil
		}
	}
	return "", "", fmt.Errorf("headers %s: no release in include/generated/utsrelease.h, .kernelvariables or include/config/kernel.release", dir)
}

// ModulesRelease returns the release the modules in dir were built for: the
// first word of the vermagic of the first module modules.dep (else
// modules.order) lists, and that module's path within dir.
func ModulesRelease(ctx context.Context, dir string) (release, module string, err error) {
	for _, list := range []string{"modules.dep", "modules.order"} {
		f, err := os.Open(filepath.Join(dir, list))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			name, _, _ := strings.Cut(sc.Text(), ":")
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			file := filepath.Join(dir, name)
			if list == "modules.order" {
				file = moduleFile(file)
			}
			if file == "" {
				continue
			}
			f.Close()
			data, err := ReadModule(ctx, file)
			if err != nil {
				return "", name, err
			}
			vm, err := modinfo(data, "vermagic")
			if err != nil {
				return "", name, fmt.Errorf("module %s: %w", file, err)
			}
			fields := strings.Fields(vm)
			if len(fields) == 0 {
				return "", name, fmt.Errorf("module %s: empty vermagic", file)
			}
			return fields[0], name, nil
		}
		f.Close()
	}
	return "", "", fmt.Errorf("modules %s: modules.dep and modules.order list no module", dir)
}

// moduleFile finds a module that modules.order names without its
// compression suffix.
func moduleFile(file string) string {
	for _, suf := range []string{"", ".xz", ".zst", ".gz"} {
		if _, err := os.Stat(file + suf); err == nil {
			return file + suf
		}
	}
	return ""
}

// modinfo returns the value of key in a module's .modinfo section.
func modinfo(module []byte, key string) (string, error) {
	f, err := elf.NewFile(bytes.NewReader(module))
	if err != nil {
		return "", err
	}
	sec := f.Section(".modinfo")
	if sec == nil {
		return "", fmt.Errorf("no .modinfo section")
	}
	data, err := sec.Data()
	if err != nil {
		return "", err
	}
	for _, kv := range bytes.Split(data, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte(key+"=")); ok {
			return string(v), nil
		}
	}
	return "", fmt.Errorf("no %s in .modinfo", key)
}

// verify checks that k's image, modules and headers are all of k.Release,
// adding what belongs to another release to k.Mismatch. Parts already
// missing are not checked.
func verify(ctx context.Context, k *Kernel, haveImage, haveModules, haveHeaders bool) {
	if haveImage {
		rel, err := ImageRelease(k.Image)
		switch {
		case err != nil:
			k.Mismatch = append(k.Mismatch, err.Error())
		case rel != k.Release:
			k.Mismatch = append(k.Mismatch, fmt.Sprintf("image %s is release %s", k.Image, rel))
		}
	}
	if haveModules {
		rel, mod, err := ModulesRelease(ctx, k.Modules)
		switch {
		case err != nil:
			k.Mismatch = append(k.Mismatch, err.Error())
		case rel != k.Release:
			k.Mismatch = append(k.Mismatch, fmt.Sprintf("modules in %s are for release %s (vermagic of %s)", k.Modules, rel, mod))
		}
	}
	if haveHeaders {
		rel, src, err := HeadersRelease(k.Headers)
		switch {
		case err != nil:
			k.Mismatch = append(k.Mismatch, err.Error())
		case rel != k.Release:
			k.Mismatch = append(k.Mismatch, fmt.Sprintf("headers in %s are for release %s (%s)", k.Headers, rel, src))
		}
	}
}
