package report

import (
	"bytes"
	"encoding/xml"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/golden"
	"github.com/kmodcheck/kmodcheck/runner/script"
	"github.com/kmodcheck/kmodcheck/runner/target"
)

// A build that stops at the compiler, as make prints it on a 6.16 kernel.
const fromTimerBuild = `make -C /lib/modules/6.16.3-amd64/build M=/tmp/w modules
  CC [M]  /tmp/w/timer.o
/tmp/w/timer.c: In function ‘tick’:
/tmp/w/timer.c:14:32: error: implicit declaration of function ‘from_timer’ [-Wimplicit-function-declaration]
   14 |         struct my_data *d = from_timer(d, t, timer);
      |                             ^~~~~~~~~~
/tmp/w/timer.c:20:9: error: implicit declaration of function ‘del_timer_sync’
make[2]: *** [scripts/Makefile.build:287: /tmp/w/timer.o] Error 1
`

// reasonResults are a compiler error, a kernel fault and a step that
// failed otherwise, on one kernel.
func reasonResults() []script.Result {
	build := []recordPart{boot(k612), step("make", target.OnBuild, 2, fromTimerBuild)}
	fault := []recordPart{boot(k612), step("make", target.OnBuild, 0, ""), step("insmod ./oops.ko", target.OnKernel, -1, "", "BUG: kernel NULL pointer dereference, address: 0000000000000000")}
	return []script.Result{
		{
			Case: "timer", File: "cases/timer.txtar", Kernel: k612, Status: "FAIL", Duration: 9 * time.Second, Record: record(append(build, failed(&script.Failure{Kind: script.FailStep, File: "cases/timer.txtar", Line: 3, Step: 1, Command: "make",
				Message: "exit status 2"}))...),
			Log: "> make\n" + fromTimerBuild + "FAIL: cases/timer.txtar:3: make: exit status 2\n",
		},
		{
			Case: "oops", File: "cases/oops.txtar", Kernel: k612, Status: "FAIL", Duration: 9 * time.Second, Record: record(append(fault, failed(&script.Failure{Kind: script.FailFault, File: "cases/oops.txtar", Line: 4, Step: 2, Command: "insmod ./oops.ko",
				Message: "the kernel reported an oops:", Fault: "BUG: kernel NULL pointer dereference, address: 0000000000000000",
				Report: []string{"BUG: kernel NULL pointer dereference, address: 0000000000000000", "RIP: 0010:oops_init+0x5/0x20 [oops]"}}))...),
			Log: "> insmod ./oops.ko\nFAIL: cases/oops.txtar:4: insmod ./oops.ko: the kernel reported an oops:\n",
		},
	}
}

// The JSON case record and the JUnit failure carry the reason: the first
// differing golden line, the compiler's first error with the API change
// behind it, the fault's title.
func TestReasons(t *testing.T) {
	rs := append(results(), reasonResults()...)
	cases := map[string]Record{}
	var buf bytes.Buffer
	for _, r := range rs {
		if err := WriteJSON(&buf, r); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := ReadJSON(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Type == "case" {
			cases[r.Case+"@"+r.Kernel] = r
		}
	}

	golden := cases["well_behaved@"+k612].Reason
	if golden == nil || golden.Kind != ReasonGolden || golden.Step != 3 || golden.Command != "kmsg insmod" || golden.First == nil ||
		golden.First.Golden != "golden/well_behaved/insmod.kmsg" || golden.First.Line != 1 ||
		golden.First.Want != "fine: loaded!" || golden.First.Got != "fine: loaded" {
		t.Errorf("golden reason %+v", golden)
	}
	compiler := cases["timer@"+k612].Reason
	if compiler == nil || compiler.Kind != ReasonCompiler || compiler.Step != 1 || compiler.Command != "make" ||
		compiler.Text != "timer.c:14:32: error: implicit declaration of function ‘from_timer’ [-Wimplicit-function-declaration]" {
		t.Fatalf("compiler reason %+v", compiler)
	}
	if c := compiler.Change; c == nil || c.Symbol != "from_timer" || c.Since != "6.16" || !strings.Contains(c.Replacement, "timer_container_of") {
		t.Errorf("the API change behind from_timer: %+v", c)
	}
	fault := cases["oops@"+k612].Reason
	if fault == nil || fault.Kind != ReasonFault || fault.Step != 2 || fault.Text != "BUG: kernel NULL pointer dereference, address: 0000000000000000" {
		t.Errorf("fault reason %+v", fault)
	}
	check := cases["ps_check@"+k61].Reason
	if check == nil || check.Kind != ReasonOther || check.Step != 1 || check.Text != "`stdout 'kthread example$'` failed" {
		t.Errorf("check reason %+v", check)
	}
	if r := cases["well_behaved@"+k61].Reason; r != nil {
		t.Errorf("a passing case has a reason: %+v", r)
	}

	var out bytes.Buffer
	if err := WriteJUnit(&out, JUnitOf(Pairs(recs), time.Minute, time.Time{})); err != nil {
		t.Fatal(err)
	}
	var doc xSuites
	if err := xml.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"timer [" + k612 + "]": "cases/timer.txtar:3: make: exit status 2 — timer.c:14:32: error: implicit declaration of function ‘from_timer’" +
			" [-Wimplicit-function-declaration] — from_timer() renamed timer_container_of() in 6.16; instead: timer_container_of(var, timer, field)",
		"oops [" + k612 + "]":         "cases/oops.txtar:4: insmod ./oops.ko: the kernel reported an oops: — BUG: kernel NULL pointer dereference, address: 0000000000000000",
		"well_behaved [" + k612 + "]": `golden/well_behaved/insmod.kmsg:1: want "fine: loaded!", got "fine: loaded" (kernel line 1)`,
	} {
		c := find(t, doc, name)
		if c.Failure == nil || !strings.HasSuffix(c.Failure.Message, want) {
			t.Errorf("%s: JUnit failure %+v, want a message ending %q", name, c.Failure, want)
		}
	}
}

// Each change of the data file explains the errors it names, as GCC
// prints them with either kind of quote, and no other change does first.
func TestAPIChanges(t *testing.T) {
	changes, err := LoadAPIChanges()
	if err != nil {
		t.Fatal(err)
	}
	for _, test := range []struct{ symbol, error string }{
		{"from_timer", "x.c:14:32: error: implicit declaration of function 'from_timer' [-Wimplicit-function-declaration]"},
		{"del_timer", "x.c:20:9: error: implicit declaration of function ‘del_timer_sync’; did you mean ‘dev_timer_sync’?"},
		{"del_timer", "x.c:20:9: error: implicit declaration of function 'del_timer'"},
		{"no_llseek", "x.c:40:19: error: ‘no_llseek’ undeclared here (not in a function); did you mean ‘noop_llseek’?"},
		{"strlcpy", "x.c:9:9: error: implicit declaration of function ‘strlcpy’; did you mean ‘strscpy’?"},
		{"class_create", "x.c:51:19: error: too many arguments to function ‘class_create’"},
		{"hrtimer_init", "x.c:30:9: error: implicit declaration of function ‘hrtimer_init’; did you mean ‘hrtimer_setup’?"},
		{"ida_simple_get", "x.c:12:14: error: implicit declaration of function ‘ida_simple_get’"},
		{"PDE_DATA", "x.c:22:16: error: implicit declaration of function ‘PDE_DATA’; did you mean ‘pde_data’?"},
		{"MODULE_IMPORT_NS", "x.c:70:1: error: expected ‘,’ or ‘;’ before ‘static’\n   69 | MODULE_IMPORT_NS(DMA_BUF);\n      | ^"},
		{"register_sysctl_table", "x.c:33:16: error: implicit declaration of function ‘register_sysctl_table’; did you mean ‘register_sysctl_sz’?"},
		{"asm/unaligned.h", "x.c:3:10: fatal error: asm/unaligned.h: No such file or directory"},
		// As GCC 12 said them here, building testdata/apicheck on
		// 6.12.118+deb12-amd64.
		{"class_create", "init.h:180:22: error: passing argument 1 of ‘class_create’ from incompatible pointer type [-Werror=incompatible-pointer-types]"},
		{"register_sysctl_paths", "sysctlpaths.c:4:24: error: array type has incomplete element type ‘struct ctl_path’"},
		{"platform_driver.remove", "platformremove.c:4:47: error: initialization of ‘void (*)(struct platform_device *)’ from incompatible pointer type ‘int (*)(struct platform_device *)’ [-Werror=incompatible-pointer-types]"},
		{"vm_flags", "vmflags.c:3:55: error: assignment of read-only member ‘vm_flags’"},
		{"complete_and_exit", "completeexit.c:5:25: error: implicit declaration of function ‘complete_and_exit’ [-Werror=implicit-function-declaration]"},
	} {
		c := changes.Explain(test.error)
		if c == nil || c.Symbol != test.symbol {
			t.Errorf("%s: explained as %+v, want the %s change", test.error, c, test.symbol)
		}
	}
	if c := changes.Explain("x.c:1:1: error: expected ‘;’ before ‘}’ token"); c != nil {
		t.Errorf("a typo explained as %+v", c)
	}
	if _, err := parseAPIChanges([]byte(`{"changes":[{"symbol":"x","pattern":"(","since":"1","change":"c","replacement":"r","status":"s"}]}`)); err == nil {
		t.Error("a bad pattern loaded")
	}
}

// The compiler's first error, not its first line, nor a warning.
func TestCompilerError(t *testing.T) {
	line, context, ok := compilerError("  CC [M] /tmp/work-1/x.o\n/tmp/work-1/x.c:3:1: warning: unused\n/tmp/work-1/x.c:9:2: error: ‘y’ undeclared\n    9 |  y = 1;\n      |  ^\nx.c:10:2: error: more\n")
	if !ok || line != "x.c:9:2: error: ‘y’ undeclared" || !strings.HasPrefix(context, "/tmp/work-1/x.c:9:2: error:") {
		t.Errorf("compilerError in a work directory: %q, %q, %v", line, context, ok)
	}
	line, context, ok = compilerError("  CC [M] x.o\nx.c:3:1: warning: unused\nx.c:9:2: error: ‘y’ undeclared\n    9 |  y = 1;\n      |  ^\nx.c:10:2: error: more\n")
	if !ok || line != "x.c:9:2: error: ‘y’ undeclared" || context != "x.c:9:2: error: ‘y’ undeclared\n    9 |  y = 1;\n      |  ^" {
		t.Errorf("compilerError: %q, %q, %v", line, context, ok)
	}
	if line, _, ok := compilerError(`ERROR: modpost: "strlcpy" [/tmp/w/x.ko] undefined!`); !ok || !strings.HasPrefix(line, "ERROR: modpost:") {
		t.Errorf("modpost: %q %v", line, ok)
	}
	if _, _, ok := compilerError("  CC [M] x.o\nx.c:3:1: warning: unused\n"); ok {
		t.Error("a warning taken for an error")
	}
}

// An error gcc places in a kernel header, inside a macro the module
// expands, is the module's line: there the reader changes the code
// (class_create(THIS_MODULE, ...) on 6.12, as Debian's compiler prints it).
func TestCompilerErrorInMacro(t *testing.T) {
	out, err := os.ReadFile("testdata/compiler/class_create_6.12.txt")
	if err != nil {
		t.Fatal(err)
	}
	line, context, ok := compilerError(string(out))
	want := "chardev.c:74:33: error: passing argument 1 of ‘class_create’ from incompatible pointer type [-Wincompatible-pointer-types] (in expansion of macro ‘THIS_MODULE’, at init.h:180:22)"
	if !ok || line != want {
		t.Errorf("compilerError:\n got %q\nwant %q", line, want)
	}
	if !strings.Contains(context, "my_class = class_create(THIS_MODULE, DEVICE_NAME);") {
		t.Errorf("the context lacks the module's line:\n%s", context)
	}
	changes, err := LoadAPIChanges()
	if err != nil {
		t.Fatal(err)
	}
	if c := changes.Explain(context); c == nil || c.Symbol != "class_create" {
		t.Errorf("Explain = %+v, want class_create's change", c)
	}
}

// A line no golden line takes is placed where the transcript places it:
// before the golden line still waiting.
func TestDifferenceTextUnexpected(t *testing.T) {
	d := golden.Difference{Golden: "golden/c/make.out", Before: 8, Got: "  BTF [M] x.ko", At: 6}
	want := `golden/c/make.out:8: unexpected "  BTF [M] x.ko" (output line 6): no golden line takes it`
	if got := differenceText(d); got != want {
		t.Errorf("differenceText:\n got %s\nwant %s", got, want)
	}
}
