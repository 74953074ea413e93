package qemu

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/cache"
	"github.com/kmodcheck/kmodcheck/runner/local"
)

// The delay loop (udelay, mdelay) counts loops_per_jiffy, which the kernel
// calibrates on each CPU as it comes up. The boot CPU derives it from the
// TSC's frequency; under single-threaded TCG a secondary CPU measures it by
// running a loop against the timer while sharing one host thread with the
// others, and gets a value a hundred times too small ("bogomips: 0.05",
// calibrate_delay_direct() failed): mdelay(5000) on CPU 1 returned after
// about 10 ms. The kernel takes a preset value for every CPU from the
// command line (lpj=), so kmodcheck measures the boot CPU's once per
// kernel, accelerator, QEMU and host CPU, by a boot that stops as soon as
// the kernel has printed it, and passes it to every VM.

// lpjLine is the boot CPU's calibration as the kernel prints it:
// "Calibrating delay loop (skipped), value calculated using timer
// frequency.. 4599.99 BogoMIPS (lpj=9199992)".
var lpjLine = regexp.MustCompile(`BogoMIPS \(lpj=([0-9]+)\)`)

// lpjTimeout bounds the calibration boot, to the line it needs.
const lpjTimeout = 2 * time.Minute

// loopsPerJiffy returns the boot CPU's loops_per_jiffy for vmlinux under
// accel, from the cache or from a calibration boot.
func (t *Target) loopsPerJiffy(ctx context.Context, vmlinux, accel string) (uint64, error) {
	kernelKey, err := cache.StatKey(t.Kernel.Image) // see stateKey
	if err != nil {
		return 0, err
	}
	qemuKey, _ := cache.StatKey(t.qemuPath())
	file := t.Cache.Path("lpj", cache.Key("lpj 1", kernelKey, accel, qemuKey, hostCPU()))
	if lpj, ok := readLPJ(file); ok {
		return lpj, nil
	}
	// One calibration for processes that want it at once: two would
	// measure two values, and save two states.
	lockCtx, cancel := context.WithTimeout(ctx, lpjTimeout)
	defer cancel()
	unlock, err := cache.Lock(lockCtx, file+".lock")
	if err != nil {
		return 0, err
	}
	defer unlock()
	if lpj, ok := readLPJ(file); ok {
		return lpj, nil
	}
	start := time.Now()
	lpj, err := t.calibrate(ctx, vmlinux, accel)
	if err != nil {
		return 0, err
	}
	t.progress("calibrated the delay loop of %s: lpj=%d in %s", t.Kernel.Release, lpj, time.Since(start).Round(100*time.Millisecond))
	return lpj, cache.WriteFile(file, []byte(fmt.Sprintln(lpj)))
}

func readLPJ(file string) (uint64, bool) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, false
	}
	lpj, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return lpj, err == nil && lpj > 0
}

// calibrate boots vmlinux on one CPU with no init and reads the boot CPU's
// calibration from the console; QEMU is killed once it is printed.
func (t *Target) calibrate(ctx context.Context, vmlinux, accel string) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, lpjTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, t.qemuPath(), calibrationArgs(vmlinux, accel)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	defer local.DieWithKmodcheck(cmd)() // after the kill and wait below
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", t.qemuPath(), err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	sc := bufio.NewScanner(out)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if m := lpjLine.FindStringSubmatch(sc.Text()); m != nil {
			return strconv.ParseUint(m[1], 10, 64)
		}
	}
	if ctx.Err() != nil {
		return 0, fmt.Errorf("no BogoMIPS line within %v: %w", lpjTimeout, ctx.Err())
	}
	return 0, errors.New("the kernel stopped without printing its BogoMIPS (lpj=) line")
}

// hostCPU names the host's processor: the TSC's frequency, which the
// calibration measures, is the host's.
func hostCPU() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			return l
		}
	}
	return ""
}
