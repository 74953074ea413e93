package kmsg

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNormalizerLine(t *testing.T) {
	n := Normalizer{Work: "/tmp/kmodcheck-1234/"}
	tests := []struct {
		rule, in, want string
	}{
		{"work", "loading /tmp/kmodcheck-1234/build/hello.ko", "loading $WORK/build/hello.ko"},
		// The work directory goes first: its digits are not a pid or pointer.
		{"work", "pid=/tmp/kmodcheck-1234", "pid=$WORK"},
		{"timestamp", "[  835.288192] hello: world", "hello: world"},
		{"timestamp", "[12.5] x", "x"},
		{"timestamp", "not [  835.288192] leading", "not [  835.288192] leading"},
		{"offset", "RIP: 0010:hello_init+0x20/0x1000 [hello]", "RIP: 0010:hello_init+<off> [hello]"},
		{"offset", "foo+0x1a2b3c/0x1000000", "foo+<off>"},
		{"pointer", "module at ffffffffc0a1b000", "module at <ptr>"},
		{"pointer", "hashed 00000000a1b2c3d4.", "hashed <ptr>."},
		{"pointer", "addr 0xffff8880, flags 0x1f", "addr <ptr>, flags 0x1f"},
		{"pointer", "mask 0x1f2f3 stays", "mask 0x1f2f3 stays"},
		{"pointer", "BUG: unable to handle page fault for address: ffffc90000a1b2c3", "BUG: unable to handle page fault for address: <ptr>"},
		{"pointer", "not a pointer: 0123456789abcdef0", "not a pointer: 0123456789abcdef0"},
		{"pid", "CPU: 0 PID: 231 Comm: insmod Tainted: G O", "CPU: 0 PID: <pid> Comm: insmod Tainted: G O"},
		{"pid", "thread started, pid 231", "thread started, pid <pid>"},
		{"pid", "audit: pid=231 uid=0", "audit: pid=<pid> uid=0"},
		{"pid", "task:insmod state:D stack:0 pid:231 ppid:1", "task:insmod state:D stack:0 pid:<pid> ppid:1"},
		{"pid", "insmod[231]: segfault at 0 ip <ptr>", "insmod[<pid>]: segfault at 0 ip <ptr>"},
		{"pid", "traps: insmod[231] general protection fault ip:1", "traps: insmod[<pid>] general protection fault ip:1"},
		{"pid", "data[3]: 7", "data[3]: 7"},
		{"pid", "arr[0] = 5", "arr[0] = 5"},
		{"space", "trailing \t ", "trailing"},
		{"all", "[    1.000000] mod: ptr ffffffffc0a1b000 in /tmp/kmodcheck-1234/x pid 7  ", "mod: ptr <ptr> in $WORK/x pid <pid>"},
	}
	for _, test := range tests {
		if got := n.Line(test.in); got != test.want {
			t.Errorf("%s: Line(%q)\n got %q\nwant %q", test.rule, test.in, got, test.want)
		}
	}
}

func TestNormalizerNoWork(t *testing.T) {
	in := "path /tmp/x"
	if got := (Normalizer{}).Line(in); got != in {
		t.Errorf("Line(%q) with no work directory = %q", in, got)
	}
}

func TestNormalizerRules(t *testing.T) {
	var names []string
	for _, r := range (Normalizer{}).Rules() {
		if r.Doc == "" {
			t.Errorf("rule %s has no doc", r.Name)
		}
		names = append(names, r.Name)
	}
	want := []string{"work", "timestamp", "offset", "pointer", "pid", "space"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("rule names (-want +got):\n%s", diff)
	}
}
