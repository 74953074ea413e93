package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/cache"
	"github.com/kmodcheck/kmodcheck/runner/golden"
	"github.com/kmodcheck/kmodcheck/runner/kernel"
	"github.com/kmodcheck/kmodcheck/runner/qemu"
	"github.com/kmodcheck/kmodcheck/runner/report"
	"github.com/kmodcheck/kmodcheck/runner/script"
	"github.com/kmodcheck/kmodcheck/runner/shard"
	"github.com/kmodcheck/kmodcheck/runner/suite"
	"github.com/kmodcheck/kmodcheck/runner/target"
)

// The benchmarks measure what issue 7 sets targets for, on whatever
// accelerator the probe finds. `make bench` runs them and prints the table
// BenchmarkSeed writes to bench-results.txt.

// BenchmarkBoot measures start to the first guest command, and QEMU's
// peak memory.
func BenchmarkBoot(b *testing.B) {
	tg := benchTarget(b, "")
	var boots []time.Duration
	var rss []uint64
	for i := 0; i < b.N; i++ {
		s, err := tg.Start(context.Background(), target.Case{Name: "boot", WorkDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		info, err := s.Ready(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		boots = append(boots, info.Boot)
		s.Close(context.Background())
		if vm, ok := s.(*qemu.Session); ok {
			rss = append(rss, vm.PeakRSS())
		}
	}
	b.ReportMetric(median(boots).Seconds(), "boot-s")
	if len(rss) > 0 {
		b.ReportMetric(float64(slices.Max(rss))/(1<<20), "peak-MiB")
	}
}

// BenchmarkStepRoundTrip runs `true` in one booted guest: the cost of a step
// beyond the command itself.
func BenchmarkStepRoundTrip(b *testing.B) {
	tg := benchTarget(b, "")
	b.ResetTimer()
	b.ReportMetric(float64(median(stepRoundTrips(b, tg, b.N)).Microseconds())/1000, "median-ms")
}

// BenchmarkSeed runs the seed cases the ways issue 7 compares: one after
// another split into boot, build, steps and waits; all at once with -j 2;
// across every complete kernel; and, once, the naive way (make inside a
// TCG guest, one case after another). It prints the table.
func BenchmarkSeed(b *testing.B) {
	files, err := suite.Cases([]string{"cases"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	tg := benchTarget(b, "")
	var rows []seedRow
	var parallel, matrix []time.Duration
	for i := 0; i < b.N; i++ {
		rows = append(rows, runSeed(b, []target.Target{tg}, files, 1, false)...)
		start := time.Now()
		runSeed(b, []target.Target{tg}, files, 2, false)
		parallel = append(parallel, time.Since(start))
	}
	kernels := completeKernels(b)
	if len(kernels) > 1 {
		start := time.Now()
		runSeed(b, kernels, files, 2, false)
		matrix = append(matrix, time.Since(start))
	}
	naiveStart := time.Now()
	naive := runSeed(b, []target.Target{tg}, files, 1, true)
	naiveTotal := time.Since(naiveStart)
	compare := benchCompare100k()
	table := seedTable(rows, naive, naiveTotal, median(parallel), matrix, len(kernels), compare, tg.(*qemu.Target))
	fmt.Print(table)
	if err := os.WriteFile("bench-results.txt", []byte(table), 0o644); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(median(parallel).Seconds(), "suite-j2-s")
}

type seedRow struct {
	name                             string
	boot, build, steps, waits, total time.Duration
}

func runSeed(b *testing.B, targets []target.Target, files []string, jobs int, inGuest bool) []seedRow {
	out := b.TempDir()
	cfg := script.Config{Golden: "golden", Modules: "modules", StepTimeout: 5 * time.Minute, ArtifactDir: out, BuildInGuest: inGuest}
	// As kmodcheck run runs them, its reports but the progress aside.
	selected := suite.Select(targets, files, shard.Shard{})
	results := suite.Run(b.Context(), cfg, targets, selected, suite.RunOptions{Jobs: jobs, Report: &report.Reporter{}})
	var rows []seedRow
	for _, r := range results {
		if r.Status != script.Pass {
			b.Fatalf("%s on %s: %s\n%s", r.Case, r.Kernel, r.Status, r.Log)
		}
		row := seedRow{name: r.Case, total: r.Duration}
		if b := r.Record.Boot; b != nil {
			row.boot = b.Boot
		}
		for _, s := range r.Record.Ran() {
			switch {
			case s.Kind == script.Compare:
				row.waits += s.Compare.Waited
			case strings.HasPrefix(s.Line, "make"):
				row.build += s.Result.Duration
			default:
				row.steps += s.Result.Duration
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// benchCompare100k times the kernel-log comparison of 100,000 lines, the
// seed's interleaving repeated, against a golden with three streams.
func benchCompare100k() time.Duration {
	text := "Inside kthread_init function\n[thread] thread execution {*}\n[worker] Inside work function\n[worker] my_data->i = 0 {*}\n[init] Created kthread\n"
	g, err := golden.Parse("bench.kmsg", []byte(text))
	if err != nil {
		panic(err)
	}
	lines := []string{"Inside kthread_init function", "Created kthread", "Inside work function"}
	for len(lines) < 100_000 {
		lines = append(lines, "thread execution", "my_data->i = 0")
	}
	var ds []time.Duration
	for range 5 {
		start := time.Now()
		if !g.Match(lines).OK {
			panic("benchmark golden does not match")
		}
		ds = append(ds, time.Since(start))
	}
	return median(ds)
}

func seedTable(rows, naive []seedRow, naiveTotal, parallel time.Duration, matrix []time.Duration, nKernels int, compare time.Duration, tg *qemu.Target) string {
	var b strings.Builder
	fmt.Fprintf(&b, "kmodcheck benchmarks, %s, kernel %s, %s\n\n", time.Now().Format(time.DateTime), tg.Kernel.Release, tg.AccelNote())
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "case (median)\tboot\tbuild\tsteps\twaits\ttotal\tnaive total\t")
	byCase := map[string][]seedRow{}
	var names []string
	for _, r := range rows {
		if byCase[r.name] == nil {
			names = append(names, r.name)
		}
		byCase[r.name] = append(byCase[r.name], r)
	}
	var floor, sequential time.Duration
	for _, n := range names {
		m := medianRow(byCase[n])
		var nv time.Duration
		for _, r := range naive {
			if r.name == n {
				nv = r.total
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", n, secs(m.boot), secs(m.build), secs(m.steps), secs(m.waits), secs(m.total), secs(nv))
		floor += m.boot + m.build + m.waits
		sequential += m.total
	}
	tw.Flush()
	// The floor: every case's boot, host build and the tutorial's own
	// sleeps, spread over two cores.
	floor /= 2
	fmt.Fprintln(&b)
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "measure\ttarget\tmeasured\t")
	fmt.Fprintf(tw, "boot to first guest command (median)\t<= 2.0s\t%s\t\n", secs(medianRow(rows).boot))
	fmt.Fprintf(tw, "seed cases, one kernel, -j 2\t<= 12s\t%s\t\n", secs(parallel))
	if len(matrix) > 0 {
		fmt.Fprintf(tw, "seed cases x %d kernels, -j 2\t<= 40s (3 kernels)\t%s\t\n", nKernels, secs(matrix[0]))
	} else {
		fmt.Fprintf(tw, "seed cases x 3 kernels\t<= 40s\tnot run: one complete kernel (kmodcheck kernels fetch 6.12)\t\n")
	}
	fmt.Fprintf(tw, "compare 100k log lines\t<= 100ms\t%.1fms\t\n", float64(compare.Microseconds())/1000)
	fmt.Fprintf(tw, "naive: make in the guest, one case after another\t-\t%s (%.1fx the -j 2 run)\t\n", secs(naiveTotal), naiveTotal.Seconds()/parallel.Seconds())
	fmt.Fprintf(tw, "one case after another, make on the host\t-\t%s\t\n", secs(sequential))
	fmt.Fprintf(tw, "floor: boots + builds + tutorial sleeps over 2 cores\t-\t%s (-j 2 run is %.1fx)\t\n", secs(floor), parallel.Seconds()/floor.Seconds())
	tw.Flush()
	fmt.Fprintln(&b, "\nstep round trip and peak memory: BenchmarkStepRoundTrip (median-ms) and BenchmarkBoot (peak-MiB) above.")
	return b.String()
}

func medianRow(rows []seedRow) seedRow {
	pick := func(f func(seedRow) time.Duration) time.Duration {
		var ds []time.Duration
		for _, r := range rows {
			ds = append(ds, f(r))
		}
		return median(ds)
	}
	return seedRow{
		boot:  pick(func(r seedRow) time.Duration { return r.boot }),
		build: pick(func(r seedRow) time.Duration { return r.build }),
		steps: pick(func(r seedRow) time.Duration { return r.steps }),
		waits: pick(func(r seedRow) time.Duration { return r.waits }),
		total: pick(func(r seedRow) time.Duration { return r.total }),
	}
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }

func benchTarget(b *testing.B, kernel string) target.Target {
	b.Helper()
	o := options()
	o.Kernel = kernel
	tg, err := o.NewTarget()
	if err != nil {
		b.Fatal(err)
	}
	return tg
}

func completeKernels(b *testing.B) []target.Target {
	c, err := cache.Default()
	if err != nil {
		b.Fatal(err)
	}
	ks, err := kernel.Discover(c)
	if err != nil {
		b.Fatal(err)
	}
	var ts []target.Target
	for _, k := range ks {
		if k.Complete() {
			ts = append(ts, benchTarget(b, k.Release))
		}
	}
	return ts
}
