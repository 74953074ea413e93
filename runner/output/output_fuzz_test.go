package output

import (
	"testing"
)

// FuzzOutputNormalizer normalises a step's output, with the rules that
// keep selects turned off: normalising is idempotent (a golden written
// from normalised output normalises to itself), no line holds a newline,
// and the golden -update writes from the output (NewOutput) parses and
// accepts that output.
func FuzzOutputNormalizer(f *testing.F) {
	f.Add([]byte("    124 ?        00:00:00 kthread_init_work thread example\n-rw-rw-r-- 1 test test 169784 Mar 18 16:08 kthread.ko\ntotal 360\nkthread                16384  0\n"), uint16(0))
	f.Add([]byte("filename:       /tmp/kmodcheck-1/work/kthread.ko\nvermagic:       6.7.9 SMP preempt mod_unload modversions \nsrcversion:     8D2147F67AB01CF0E482DAC\n"), uint16(0))
	f.Add([]byte("[ 5989.857961] Inside kthread_init function\n[   12.000002] kmodcheck: step 9 done: rmmod kthread\nmake -C /lib/modules/6.1.0-57-amd64/build M=/tmp/kmodcheck-1/work modules\n"), uint16(1<<2))
	f.Add([]byte("count {N} {+}\n[x] y\n# not a comment\n\\\n  \t\n"), uint16(0xffff))
	rules := Rules()
	f.Fuzz(func(t *testing.T, output []byte, keep uint16) {
		n := Normalizer{Work: "/tmp/kmodcheck-1/work", Release: "6.1.0-57-amd64", Keep: map[string]bool{}}
		for i, r := range rules {
			if keep&(1<<i) != 0 {
				n.Keep[r.Name] = true
			}
		}
		lines := n.Lines(output)
		for _, l := range lines {
			if again := n.Line(l); again != l {
				t.Fatalf("keep %v: Line is not idempotent: %q becomes %q", n.Keep, l, again)
			}
		}
		data := NewGolden(lines)
		g, err := n.ParseGolden("x.out", data)
		if err != nil {
			t.Fatalf("keep %v: the golden written for %q does not parse: %v\n%s", n.Keep, lines, err, data)
		}
		if m := Compare(g, lines, "stdout"); !m.OK {
			t.Fatalf("keep %v: the golden written for %q rejects it: %s\n%s", n.Keep, lines, m.Mismatch, data)
		}
	})
}
