package output

import (
	"strings"
	"testing"
)

func TestOutputNormalizerLine(t *testing.T) {
	n := Normalizer{Work: "/tmp/kmodcheck-1234", Release: "6.1.0-57-amd64"}
	tests := []struct {
		rule, in, want string
	}{
		{"work", "filename:       /tmp/kmodcheck-1234/kthread.ko", "filename: $WORK/kthread.ko"},
		{"timestamp", "[ 5989.857961] Inside kthread_init function", "Inside kthread_init function"},
		{"space", "  CC [M]  $WORK/kthread.o  ", "CC [M] $WORK/kthread.o"},
		{"release", "make[1]: Entering directory '/usr/src/linux-headers-6.7.9'", "make[1]: Entering directory '/usr/src/linux-headers-<release>'"},
		{"release", "make -C /lib/modules/6.12.118+deb12-amd64/build M=$WORK modules", "make -C /lib/modules/<release>/build M=$WORK modules"},
		{"release", "vermagic:       6.7.9 SMP preempt mod_unload modversions ", "vermagic: <release> SMP preempt mod_unload modversions"},
		{"release", "running 6.1.0-57-amd64 now", "running <release> now"},
		{"srcversion", "srcversion:     8D2147F67AB01CF0E482DAC", "srcversion: <srcversion>"},
		{"srcversion", "srcversion:     not a hash", "srcversion: not a hash"},
		// ls -l: the tutorial's user test and umask 002, this machine's root and 022.
		{"ls", "-rw-rw-r-- 1 test test 169784 Mar 18 16:08 kthread.ko", "-rw-r--r-- 1 <owner> <owner> <size> <date> kthread.ko"},
		{"ls", "-rw-r--r-- 1 root root 175584 Dec  2 13:50 kthread.ko", "-rw-r--r-- 1 <owner> <owner> <size> <date> kthread.ko"},
		{"ls", "-rwxr-xr-x 1 root root 10 Dec  2  2025 run.sh", "-rwxr-xr-x 1 <owner> <owner> <size> <date> run.sh"},
		{"ls", "drwxr-xr-x. 2 root root 4096 2026-12-02 13:50 sub dir", "drwxr-xr-x. 2 <owner> <owner> <size> <date> sub dir"},
		{"ls", "crw-rw-rw- 1 root root 1, 3 Dec  2 13:50 null", "crw-r--r-- 1 <owner> <owner> <size> <date> null"},
		{"size", "total 360", "total <size>"},
		{"size", "kthread                16384  0", "kthread <size> 0"},
		{"size", "kthread                12288  1 other_mod", "kthread <size> 1 other_mod"},
		{"size", "count 3 4", "count 3 4"},
		// ps: PID and CPU time vary; the TTY and the thread's name do not.
		{"ps", "    124 ?        00:00:00 kthread_init_work thread example", "<pid> ? <time> kthread_init_work thread example"},
		{"ps", "6234 ?        00:00:00 kthread_cancel_work_sync thread example", "<pid> ? <time> kthread_cancel_work_sync thread example"},
		{"ps", "  1 ?   1-02:03:04 init", "<pid> ? <time> init"},
		{"ps", "    PID TTY          TIME CMD", "PID TTY TIME CMD"},
		{"none", "description:    Example of kthread_init_work", "description: Example of kthread_init_work"},
	}
	for _, test := range tests {
		got := n.Line(test.in)
		if got != test.want {
			t.Errorf("%s: Line(%q) = %q, want %q", test.rule, test.in, got, test.want)
		}
		if again := n.Line(got); again != got {
			t.Errorf("%s: Line is not idempotent: %q becomes %q", test.rule, got, again)
		}
	}
}

func TestOutputNormalizerKeep(t *testing.T) {
	n := Normalizer{Keep: map[string]bool{"size": true}}
	if got, want := n.Line("-rw-r--r-- 1 root root 157 Dec  2 13:50 Makefile"), "-rw-r--r-- 1 <owner> <owner> 157 <date> Makefile"; got != want {
		t.Errorf("-keep size: got %q, want %q", got, want)
	}
	if got, want := n.Line("kthread 16384 0"), "kthread 16384 0"; got != want {
		t.Errorf("-keep size: got %q, want %q", got, want)
	}
	if err := CheckRules(map[string]bool{"sizes": true}); err == nil {
		t.Error("CheckRules accepted an unknown rule")
	}
}

func TestOutputLinesDropAgentMarkers(t *testing.T) {
	out := "[   12.000001] Inside kthread exit function\n[   12.000002] kmodcheck: step 9 done: rmmod kthread\n[   12.000003] Destroyed kthread and worker\n"
	got := Normalizer{}.Lines([]byte(out))
	want := []string{"Inside kthread exit function", "Destroyed kthread and worker"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Lines = %q, want %q", got, want)
	}
}

// The seed's ps -N step, golden as the tutorial prints it.
const psGolden = `# ps -N | grep kthread_cancel_work_sync, as the tutorial shows it.
6234 ?        00:00:00 kthread_cancel_work_sync thread example
6235 ?        00:00:00 kthread_cancel_work_sync worker example
`

func TestCompareOutputPS(t *testing.T) {
	n := Normalizer{}
	g, err := n.ParseGolden("golden/c/ps.out", []byte(psGolden))
	if err != nil {
		t.Fatal(err)
	}
	ok := "    124 ?        00:00:00 kthread_cancel_work_sync thread example\n    125 ?        00:00:01 kthread_cancel_work_sync worker example\n"
	if m := Compare(g, n.Lines([]byte(ok)), "stdout"); !m.OK {
		t.Errorf("other PIDs and times: %s\n%s", m.Mismatch, m.Diff)
	}
	// A thread named wrongly is a failure that names both lines.
	bad := strings.Replace(ok, "worker example", "workr example", 1)
	m := Compare(g, n.Lines([]byte(bad)), "stdout")
	if m.OK {
		t.Fatal("a wrong thread name passed")
	}
	wantMismatch := `golden/c/ps.out:3: want "<pid> ? <time> kthread_cancel_work_sync worker example", got "<pid> ? <time> kthread_cancel_work_sync workr example" (stdout line 2)`
	if m.Mismatch != wantMismatch {
		t.Errorf("mismatch\n got %s\nwant %s", m.Mismatch, wantMismatch)
	}
	for _, want := range []string{"--- golden/c/ps.out", "+++ stdout", "-<pid> ? <time> kthread_cancel_work_sync worker example", "+<pid> ? <time> kthread_cancel_work_sync workr example"} {
		if !strings.Contains(m.Diff, want) {
			t.Errorf("diff lacks %q:\n%s", want, m.Diff)
		}
	}
	// A missing thread: the output ended.
	m = Compare(g, n.Lines([]byte(ok[:strings.Index(ok, "\n")+1])), "stdout")
	if m.OK || !strings.Contains(m.Mismatch, ":3: want ") || !strings.Contains(m.Mismatch, "the stdout ended") {
		t.Errorf("missing worker: %q", m.Mismatch)
	}
	// A different TTY is a different process.
	if m := Compare(g, n.Lines([]byte(strings.Replace(ok, " ?  ", " pts/0", 1))), "stdout"); m.OK {
		t.Error("a process on a terminal passed for a kernel thread")
	}
}

func TestCompareOutputQuantifiersAndComments(t *testing.T) {
	golden := "# modinfo on a kernel that may add srcversion\nname:           kthread\nsrcversion:     8D2147F67AB01CF0E482DAC {?}\n[a] x\n[b] y\n"
	n := Normalizer{}
	g, err := n.ParseGolden("m.out", []byte(golden))
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{"name: kthread\ny\nx\n", "name:  kthread\nsrcversion: 0123456789ABCDEF0123456\nx\ny\n"} {
		if m := Compare(g, n.Lines([]byte(out)), "stdout"); !m.OK {
			t.Errorf("%q: %s", out, m.Mismatch)
		}
	}
	if m := Compare(g, n.Lines([]byte("name: kthread\nx\nx\ny\n")), "stdout"); m.OK {
		t.Error("a repeated line passed")
	}
}

func TestUpdateOutputKeepsWhatFits(t *testing.T) {
	golden := "# ls -l as the tutorial shows it; the guest sorts capitals first.\ntotal 360\n-rw-rw-r-- 1 test test    161 Mar 18 16:00 Makefile\n-rw-rw-r-- 1 test test    713 Mar 18 16:06 kthread.c\n-rw-rw-r-- 1 test test 169784 Mar 18 16:08 kthread.ko\n"
	n := Normalizer{}
	g, err := n.ParseGolden("ls.out", []byte(golden))
	if err != nil {
		t.Fatal(err)
	}
	out := "total 372\n-rw-r--r-- 1 root root    157 Dec  2 13:50 Makefile\n-rw-r--r-- 1 root root   2533 Dec  2 13:50 kthread.c\n-rw-r--r-- 1 root root  94920 Dec  2 13:50 kthread.mod.o\n-rw-r--r-- 1 root root 175584 Dec  2 13:50 kthread.ko\n"
	lines := n.Lines([]byte(out))
	got := string(g.Update(lines))
	want := "# ls -l as the tutorial shows it; the guest sorts capitals first.\ntotal 360\n-rw-rw-r-- 1 test test    161 Mar 18 16:00 Makefile\n-rw-rw-r-- 1 test test    713 Mar 18 16:06 kthread.c\n-rw-r--r-- 1 <owner> <owner> <size> <date> kthread.mod.o\n-rw-rw-r-- 1 test test 169784 Mar 18 16:08 kthread.ko\n"
	if got != want {
		t.Errorf("Update:\n%s\nwant:\n%s", got, want)
	}
	ng, err := n.ParseGolden("ls.out", []byte(got))
	if err != nil {
		t.Fatal(err)
	}
	if m := Compare(ng, lines, "stdout"); !m.OK {
		t.Errorf("the updated golden does not match: %s", m.Mismatch)
	}
	// A golden that matches is returned as it was, byte for byte.
	if again := string(ng.Update(lines)); again != got {
		t.Errorf("Update of a matching golden changed it:\n%s", again)
	}
}

// Normalisation must not hide what the tutorial shows: each of these
// outputs differs from the golden in something a reader would notice.
func TestCompareOutputStillCatches(t *testing.T) {
	n := Normalizer{Release: "6.1.0-57-amd64"}
	tests := []struct {
		name, golden, ok, bad string
	}{
		{"ls: a file missing",
			"-rw-rw-r-- 1 test test 169784 Mar 18 16:08 kthread.ko\n-rw-rw-r-- 1 test test 58 Mar 18 16:08 modules.order\n",
			"-rw-r--r-- 1 root root 175584 Dec  2 13:50 kthread.ko\n-rw-r--r-- 1 root root     66 Dec  2 13:50 modules.order\n",
			"-rw-r--r-- 1 root root     66 Dec  2 13:50 modules.order\n"},
		{"ls: executable",
			"-rw-rw-r-- 1 test test 169784 Mar 18 16:08 kthread.ko\n",
			"-rw-r--r-- 1 root root 175584 Dec  2 13:50 kthread.ko\n",
			"-rwxr-xr-x 1 root root 175584 Dec  2 13:50 kthread.ko\n"},
		{"modinfo: another licence",
			"license:        GPL\n",
			"license:        GPL\n",
			"license:        Proprietary\n"},
		{"modinfo: vermagic's flags",
			"vermagic:       6.7.9 SMP preempt mod_unload modversions\n",
			"vermagic:       6.1.0-57-amd64 SMP preempt mod_unload modversions \n",
			"vermagic:       6.1.0-57-amd64 SMP preempt_rt mod_unload modversions \n"},
		{"lsmod: in use",
			"kthread                16384  0\n",
			"kthread                12288  0\n",
			"kthread                12288  1\n"},
	}
	for _, tt := range tests {
		g, err := n.ParseGolden("g.out", []byte(tt.golden))
		if err != nil {
			t.Fatal(err)
		}
		if m := Compare(g, n.Lines([]byte(tt.ok)), "stdout"); !m.OK {
			t.Errorf("%s: the expected output failed: %s", tt.name, m.Mismatch)
		}
		if m := Compare(g, n.Lines([]byte(tt.bad)), "stdout"); m.OK {
			t.Errorf("%s: passed", tt.name)
		}
	}
}

// TestOutputNormalizerWorkRuleAlone: the work rule replaces the work
// directory and nothing else. It applied the whole kernel-message
// normaliser, so -keep timestamp lost the timestamp anyway, a 16-digit hex
// file name became <ptr>, and "[0.0000][0.0]" normalised to "[0.0]", then
// to "" (FuzzOutputNormalizer).
func TestOutputNormalizerWorkRuleAlone(t *testing.T) {
	n := Normalizer{Work: "/tmp/w", Keep: map[string]bool{"timestamp": true}}
	for in, want := range map[string]string{
		"[    1.000000] hello from /tmp/w/x.ko": "[ 1.000000] hello from $WORK/x.ko",
		"0123456789abcdef pid 12 +0x1f/0x40":    "0123456789abcdef pid 12 +0x1f/0x40",
	} {
		if got := n.Line(in); got != want {
			t.Errorf("-keep timestamp: Line(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestOutputNormalizerTimestamps: every leading timestamp goes, so that
// normalising again changes nothing and the golden -update writes reads
// back as the line (FuzzOutputNormalizer: "[0.0000][0.0]" became "[0.0]",
// which the golden then read as "").
func TestOutputNormalizerTimestamps(t *testing.T) {
	n := Normalizer{}
	for _, in := range []string{"[0.0000][0.0]", "[ 1.5] \t[  2.5] x", "\t[0.0] x"} {
		got := n.Line(in)
		if again := n.Line(got); again != got {
			t.Errorf("Line(%q) = %q, then %q", in, got, again)
		}
		g, err := n.ParseGolden("x.out", NewGolden([]string{got}))
		if err != nil {
			t.Fatal(err)
		}
		if m := Compare(g, []string{got}, "stdout"); !m.OK {
			t.Errorf("the golden written for %q rejects it: %s", got, m.Mismatch)
		}
	}
}

// TestOutputNormalizerCRLF: with -keep space, a CRLF output's lines keep
// no "\r", which a golden line cannot end with: the golden -update wrote
// for "a\r" read as "a" (FuzzOutputNormalizer).
func TestOutputNormalizerCRLF(t *testing.T) {
	n := Normalizer{Keep: map[string]bool{"space": true}}
	lines := n.Lines([]byte("a \r\r\n\r\nb\rc\r\n"))
	if want := []string{"a ", "", "b\rc"}; strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Errorf("Lines = %q, want %q", lines, want)
	}
	g, err := n.ParseGolden("x.out", NewGolden(lines))
	if err != nil {
		t.Fatal(err)
	}
	if m := Compare(g, lines, "stdout"); !m.OK {
		t.Errorf("the golden written for %q rejects it: %s", lines, m.Mismatch)
	}
}
