package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/qemu"
	"github.com/kmodcheck/kmodcheck/runner/suite"
	"github.com/kmodcheck/kmodcheck/runner/target"
)

// bootModes are the qemu target's two ways to start a case, compared side
// by side by BenchmarkBootModes.
var bootModes = []string{qemu.BootSnapshot, qemu.BootCold}

// BenchmarkBootModes measures, in one run so that the ratios compare like
// with like on a shared machine, each way to boot: boot to the first guest
// command (boots alternating between the modes), QEMU's peak memory, the
// seed suite with -j 2 and the seed cases on every complete kernel with
// -j 2, and a step's round trip. It prints the table with the targets and
// writes it to bench-results.txt. Run it once: -benchtime 1x.
func BenchmarkBootModes(b *testing.B) {
	files, err := suite.Cases([]string{"cases"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	one := map[string]target.Target{}
	matrix := map[string][]target.Target{}
	for _, mode := range bootModes {
		one[mode] = benchTargetBoot(b, "", mode)
		for _, k := range completeKernels(b) {
			matrix[mode] = append(matrix[mode], benchTargetBoot(b, k.Release(), mode))
		}
		for _, tg := range matrix[mode] {
			bootOnce(b, tg) // calibrate, save the state: not what a case pays
		}
	}
	boots := map[string][]time.Duration{}
	rss := map[string][]uint64{}
	for range 5 {
		for _, mode := range bootModes {
			d, r := bootOnce(b, one[mode])
			boots[mode] = append(boots[mode], d)
			rss[mode] = append(rss[mode], r)
		}
	}
	pair := pairPeakRSS(b, one[qemu.BootSnapshot])
	rt := stepRoundTrips(b, one[qemu.BootSnapshot], 100)
	suiteTime, matrixTime := map[string]time.Duration{}, map[string]time.Duration{}
	for _, mode := range bootModes {
		start := time.Now()
		runSeed(b, []target.Target{one[mode]}, files, 2, false)
		suiteTime[mode] = time.Since(start)
		start = time.Now()
		runSeed(b, matrix[mode], files, 2, false)
		matrixTime[mode] = time.Since(start)
	}
	var releases []string
	for _, tg := range matrix[qemu.BootSnapshot] {
		releases = append(releases, tg.Release())
	}

	var out strings.Builder
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Fprintf(&out, "kmodcheck boot modes, %s, kernel %s, %s; load average at the end: %s\n",
		time.Now().Format(time.DateTime), one[qemu.BootSnapshot].Release(), one[qemu.BootSnapshot].(*qemu.Target).AccelNote(), strings.TrimSpace(string(load)))
	tw := tabwriter.NewWriter(&out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "measure\ttarget\tsnapshot\tcold\tcold/snapshot\t")
	ratio := func(s, c time.Duration) string { return fmt.Sprintf("%.1fx", c.Seconds()/s.Seconds()) }
	bs, bc := median(boots[qemu.BootSnapshot]), median(boots[qemu.BootCold])
	fmt.Fprintf(tw, "boot to first guest command (median of 5)\t<= 1.0s, >= 3x\t%s\t%s\t%s\t\n", secs2(bs), secs2(bc), ratio(bs, bc))
	fmt.Fprintf(tw, "seed suite (3 cases), -j 2\t<= 10s\t%s\t%s\t%s\t\n", secs(suiteTime[qemu.BootSnapshot]), secs(suiteTime[qemu.BootCold]), ratio(suiteTime[qemu.BootSnapshot], suiteTime[qemu.BootCold]))
	fmt.Fprintf(tw, "3 cases x %d kernels (%s), -j 2\t<= 30s (3x3)\t%s\t%s\t%s\t\n", len(releases), strings.Join(releases, ", "),
		secs(matrixTime[qemu.BootSnapshot]), secs(matrixTime[qemu.BootCold]), ratio(matrixTime[qemu.BootSnapshot], matrixTime[qemu.BootCold]))
	fmt.Fprintf(tw, "step round trip (median of 100 'true')\t<= 20ms\t%.0fms\t-\t-\t\n", float64(median(rt).Microseconds())/1000)
	fmt.Fprintf(tw, "peak memory of one VM (max of 5)\t-\t%d MiB\t%d MiB\t-\t\n", slices.Max(rss[qemu.BootSnapshot])>>20, slices.Max(rss[qemu.BootCold])>>20)
	fmt.Fprintf(tw, "peak memory of two VMs at once (-j 2)\t-\t%d MiB\t-\t-\t\n", pair>>20)
	tw.Flush()
	fmt.Fprintf(&out, "boots, snapshot: %s\nboots, cold:     %s\n", durations(boots[qemu.BootSnapshot]), durations(boots[qemu.BootCold]))
	fmt.Print(out.String())
	if err := os.WriteFile("bench-results.txt", []byte(out.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(bs.Seconds(), "snapshot-boot-s")
	b.ReportMetric(bc.Seconds(), "cold-boot-s")
}

func benchTargetBoot(b *testing.B, kernel, mode string) target.Target {
	b.Helper()
	o := options()
	o.Kernel, o.Boot = kernel, mode
	tg, err := o.NewTarget()
	if err != nil {
		b.Fatal(err)
	}
	return tg
}

// bootOnce starts a VM, runs nothing and closes it: its boot time and
// QEMU's peak memory.
func bootOnce(b *testing.B, tg target.Target) (time.Duration, uint64) {
	b.Helper()
	s, err := tg.Start(context.Background(), target.Case{Name: "boot", WorkDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	info, err := s.Ready(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	s.Close(context.Background())
	return info.Boot, s.(*qemu.Session).PeakRSS()
}

// pairPeakRSS starts two VMs at once, as -j 2 does, runs a step in each
// and returns the sum of their peak memory.
func pairPeakRSS(b *testing.B, tg target.Target) uint64 {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var sum uint64
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work := b.TempDir()
			s, err := tg.Start(context.Background(), target.Case{Name: "pair", WorkDir: work})
			if err != nil {
				b.Error(err)
				return
			}
			s.Run(context.Background(), target.Step{Line: "true", Dir: work, Where: target.OnKernel, Timeout: time.Minute})
			s.Close(context.Background())
			mu.Lock()
			sum += s.(*qemu.Session).PeakRSS()
			mu.Unlock()
		}()
	}
	wg.Wait()
	return sum
}

// stepRoundTrips runs `true` n times in one VM.
func stepRoundTrips(b *testing.B, tg target.Target, n int) []time.Duration {
	work := b.TempDir()
	s, err := tg.Start(context.Background(), target.Case{Name: "steps", WorkDir: work})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(context.Background())
	var rts []time.Duration
	for range n {
		res, err := s.Run(context.Background(), target.Step{Line: "true", Dir: work, Where: target.OnKernel, Timeout: time.Minute})
		if err != nil || res.Exit != 0 {
			b.Fatalf("true: %v exit %d", err, res.Exit)
		}
		rts = append(rts, res.Duration)
	}
	return rts
}

func secs2(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }

func durations(ds []time.Duration) string {
	var s []string
	for _, d := range ds {
		s = append(s, secs2(d))
	}
	return strings.Join(s, " ")
}
