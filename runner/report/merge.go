package report

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kmodcheck/kmodcheck/runner/shard"
)

// RunRecord is the record a run's JSON report starts with: what it
// planned, so that the reports of its shards can be merged, and records of
// different runs refused.
func RunRecord(id, plan string, cases, kernels []string, sh shard.Shard, started string) Record {
	cs, ks := slices.Clone(cases), slices.Clone(kernels)
	slices.Sort(cs)
	sortReleases(ks)
	return Record{Type: "run", Run: id, Plan: plan, Cases: cs, Kernels: ks, Shard: sh.String(), Started: started}
}

// An Input is the records of one JSON report, named by its file.
type Input struct {
	Name    string
	Records []Record
}

// A Merged report is the pairs of the shards of one run.
type Merged struct {
	Run   Record // the run record they share (its Shard is "all")
	Pairs []Pair
}

// part is the records after one run record.
type part struct {
	name  string
	run   Record
	shard shard.Shard
	pairs []Pair
}

// Merge puts together the JSON reports of the shards of one run. It
// refuses, with an error that names the files and what differs:
//   - a report that does not start with a run record (not a -json report
//     of this version);
//   - reports of different runs: another run id, other kernels, other
//     cases, other case files or goldens (the plan digest), another number
//     of shards;
//   - a shard given twice, or a case × kernel pair in two reports, or in
//     a report whose shard does not hold it;
//   - a shard missing, since the table would then lack its pairs.
func Merge(inputs []Input) (Merged, error) {
	var parts []part
	for _, in := range inputs {
		ps, err := split(in)
		if err != nil {
			return Merged{}, err
		}
		parts = append(parts, ps...)
	}
	if len(parts) == 0 {
		return Merged{}, fmt.Errorf("no report to merge")
	}
	first := parts[0]
	for _, p := range parts[1:] {
		if err := sameRun(first, p); err != nil {
			return Merged{}, err
		}
	}
	if err := shardsComplete(parts); err != nil {
		return Merged{}, err
	}
	m := Merged{Run: first.run}
	m.Run.Shard = shard.Shard{}.String()
	owner := map[[2]string]string{}
	for _, p := range parts {
		for _, pr := range p.pairs {
			c := pr.Case
			key := [2]string{c.Case, c.Kernel}
			if !slices.Contains(p.run.Cases, c.Case) || !slices.Contains(p.run.Kernels, c.Kernel) {
				return Merged{}, fmt.Errorf("%s: %s on %s is not in its run's plan", p.name, c.Case, c.Kernel)
			}
			if !p.shard.Has(c.Case, c.Kernel) {
				return Merged{}, fmt.Errorf("%s: %s on %s is not in its shard %s", p.name, c.Case, c.Kernel, p.shard)
			}
			if o, ok := owner[key]; ok && o != p.name {
				return Merged{}, fmt.Errorf("%s on %s is in both %s and %s", c.Case, c.Kernel, o, p.name)
			}
			owner[key] = p.name
			m.Pairs = append(m.Pairs, pr)
		}
	}
	return m, nil
}

// split cuts one report at its run records.
func split(in Input) ([]part, error) {
	var out []part
	var recs []Record
	flush := func() {
		if len(out) > 0 {
			out[len(out)-1].pairs = Pairs(recs)
		}
		recs = nil
	}
	for i, r := range in.Records {
		if r.Type == "run" {
			flush()
			sh, err := parseShard(r.Shard)
			if err != nil {
				return nil, fmt.Errorf("%s: record %d: shard %q: %v", in.Name, i+1, r.Shard, err)
			}
			name := in.Name
			if len(out) > 0 {
				name = fmt.Sprintf("%s (its run record %d)", in.Name, len(out)+1)
			}
			out = append(out, part{name: name, run: r, shard: sh})
			continue
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("%s: record %d comes before any run record: not a -json report of this kmodcheck, or not from its start", in.Name, i+1)
		}
		recs = append(recs, r)
	}
	flush()
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no run record: not a -json report of this kmodcheck", in.Name)
	}
	return out, nil
}

func parseShard(s string) (shard.Shard, error) {
	if s == "" || s == (shard.Shard{}).String() {
		return shard.Shard{}, nil
	}
	return shard.Parse(s)
}

// sameRun says how b's run differs from a's, if it does.
func sameRun(a, b part) error {
	differ := func(what, x, y string) error {
		return fmt.Errorf("%s and %s are not shards of one run: %s %s, %s %s", a.name, b.name, what, x, what, y)
	}
	switch {
	case a.run.Run != "" && b.run.Run != "" && a.run.Run != b.run.Run:
		return differ("run id", a.run.Run, b.run.Run)
	case !slices.Equal(a.run.Kernels, b.run.Kernels):
		return differ("kernels", strings.Join(a.run.Kernels, ","), strings.Join(b.run.Kernels, ","))
	case !slices.Equal(a.run.Cases, b.run.Cases):
		return differ("cases", strings.Join(a.run.Cases, ","), strings.Join(b.run.Cases, ","))
	case a.run.Plan != b.run.Plan:
		return differ("plan (digest of the case files and goldens)", a.run.Plan, b.run.Plan)
	case a.shard.Count != b.shard.Count:
		return differ("shard", a.shard.String(), b.shard.String())
	}
	return nil
}

// shardsComplete checks that each shard of the run is there once.
func shardsComplete(parts []part) error {
	n := max(parts[0].shard.Count, 1)
	seen := map[int]string{}
	for _, p := range parts {
		i := max(p.shard.Index, 1)
		if o, ok := seen[i]; ok {
			return fmt.Errorf("%s and %s are both shard %s", o, p.name, p.shard)
		}
		seen[i] = p.name
	}
	var missing []string
	for i := 1; i <= n; i++ {
		if _, ok := seen[i]; !ok {
			missing = append(missing, fmt.Sprintf("%d/%d", i, n))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("shard %s missing: the table would lack its case × kernel pairs", strings.Join(missing, ", "))
	}
	return nil
}
