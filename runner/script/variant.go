package script

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/kmodcheck/kmodcheck/runner/kernel"
)

// Golden files may have kernel-specific variants beside them, named
// NAME@KEY.kmsg. For a kernel, the most specific that exists is used:
//
//	insmod@6.12.111+deb12-rt-amd64.kmsg   the exact release
//	insmod@6.12-rt-amd64.kmsg              version and flavour
//	insmod@6.12.kmsg                       version
//	insmod@rt-amd64.kmsg                   flavour
//	insmod.kmsg                            every other kernel
//
// variantKeys returns those keys for a release, most specific first.
func variantKeys(release string) []string {
	version := majorMinor(release)
	flavour := kernel.Flavour(release)
	var keys []string
	add := func(k string) {
		for _, have := range keys {
			if have == k {
				return
			}
		}
		if k != "" && k != "-" {
			keys = append(keys, k)
		}
	}
	add(release)
	if version != "" && flavour != "" {
		add(version + "-" + flavour)
	}
	add(version)
	add(flavour)
	return keys
}

// goldenFor finds the golden file a kmsg command compares with on this
// kernel, and the file -update writes.
func (cfg *Config) goldenFor(caseName, name, release string) (use, update string) {
	return cfg.goldenFileFor(caseName, name, GoldenExt, release)
}

// goldenFileFor is goldenFor for goldens with extension ext: .kmsg for
// kernel logs, .out for step output.
func (cfg *Config) goldenFileFor(caseName, name, ext, release string) (use, update string) {
	dir := filepath.Join(cfg.Golden, caseName)
	shared := filepath.Join(dir, name+ext)
	use = shared
	for _, k := range variantKeys(release) {
		f := filepath.Join(dir, name+"@"+k+ext)
		if _, err := os.Stat(f); err == nil {
			use = f
			break
		}
	}
	update = use
	if use == shared && cfg.KernelVariants {
		if _, err := os.Stat(shared); err == nil {
			// The shared golden stays as other kernels need it.
			key := majorMinor(release)
			if f := kernel.Flavour(release); f != "" && f != "amd64" {
				key += "-" + f
			}
			update = filepath.Join(dir, name+"@"+key+ext)
		}
	}
	return use, update
}

var versionRE = regexp.MustCompile(`^([0-9]+)\.([0-9]+)`)

// majorMinor returns "6.12" for 6.12.111+deb12-rt-amd64.
func majorMinor(release string) string {
	m := versionRE.FindStringSubmatch(release)
	if m == nil {
		return ""
	}
	return m[1] + "." + m[2]
}

// condition evaluates a case's [condition] prefixes about the kernel:
//
//	[kernel>=6.12] [kernel<6.12] [kernel==6.1] [kernel!=6.1]
//	                   compare the release's version numbers
//	[kernel:6.12.*-rt-amd64]   the release matches a kernel pattern
//	[preempt_rt]       the kernel is a PREEMPT_RT (-rt) kernel
//	[target:qemu] [target:host]
func (cfg *Config) condition(cond string) (bool, error) {
	return evalCondition(cond, cfg.Target.Release(), cfg.Target.Name())
}

// evalCondition evaluates a condition on a kernel release and a target.
func evalCondition(cond, release, targetName string) (bool, error) {
	switch {
	case cond == "preempt_rt":
		return strings.Contains(kernel.Flavour(release), "rt"), nil
	case strings.HasPrefix(cond, "target:"):
		return targetName == strings.TrimPrefix(cond, "target:"), nil
	case strings.HasPrefix(cond, "kernel:"):
		return kernel.Match(strings.TrimPrefix(cond, "kernel:"), release), nil
	case strings.HasPrefix(cond, "kernel"):
		rest := strings.TrimPrefix(cond, "kernel")
		for _, op := range []string{">=", "<=", "==", "!=", ">", "<"} {
			if v, ok := strings.CutPrefix(rest, op); ok {
				c, err := compareVersions(release, v)
				if err != nil {
					return false, err
				}
				switch op {
				case ">=":
					return c >= 0, nil
				case "<=":
					return c <= 0, nil
				case "==":
					return c == 0, nil
				case "!=":
					return c != 0, nil
				case ">":
					return c > 0, nil
				default:
					return c < 0, nil
				}
			}
		}
	}
	return false, fmt.Errorf("unknown condition %q (want kernel>=V, kernel<V, kernel==V, kernel:PATTERN, preempt_rt, target:qemu or target:host)", cond)
}

// compareVersions compares a release with a version such as 6.12 on the
// version's own number of parts: 6.12.111+deb12 equals 6.12.
func compareVersions(release, version string) (int, error) {
	want := strings.Split(version, ".")
	have := regexp.MustCompile(`^[0-9]+(\.[0-9]+)*`).FindString(release)
	got := strings.Split(have, ".")
	for i, w := range want {
		wn, err := strconv.Atoi(w)
		if err != nil {
			return 0, fmt.Errorf("kernel version %q: want numbers such as 6.12", version)
		}
		gn := 0
		if i < len(got) {
			gn, _ = strconv.Atoi(got[i])
		}
		if gn != wn {
			if gn < wn {
				return -1, nil
			}
			return 1, nil
		}
	}
	return 0, nil
}
