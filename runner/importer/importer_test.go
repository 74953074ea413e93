package importer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPrompt(t *testing.T) {
	tests := map[string]string{
		"test@test-V520-15IKL:~$ sudo insmod ./kthread.ko":    "sudo insmod ./kthread.ko",
		"test@test-V520-15IKL:~/.../tc_1$ modinfo kthread.ko": "modinfo kthread.ko",
		"root@box:/tmp# dmesg":                                "dmesg",
		"(venv) me@box:~$ ls -l":                              "ls -l",
		"$ lsmod | grep kthread":                              "lsmod | grep kthread",
		"# rmmod kthread":                                     "rmmod kthread",
		"test@test-V520-15IKL:~$":                             "",
		"$":                                                   "",
	}
	for line, want := range tests {
		got, ok := prompt(line)
		if !ok || got != want {
			t.Errorf("prompt(%q) = %q, %v; want %q", line, got, ok, want)
		}
	}
	for _, line := range []string{"#include <linux/init.h>", "-rw-rw-r-- 1 test test 0 Mar 18 16:08 x", "  1#include <linux/init.h>", "$HOME/x", "kthread 16384 0"} {
		if _, ok := prompt(line); ok {
			t.Errorf("prompt(%q) took it for a prompt", line)
		}
	}
}

const session = `Adding work to kthread worker
  • Here is an example of how to use the API,

kthread_run(mythread,NULL,"sample kthread");
  • insert the module using insmod command.

test@test-V520-15IKL:~$ sudo insmod ./kthread.ko
  • check if the thread is created or not using ps command.

test@test-V520-15IKL:~$ ps -N | grep kthread_init_work
15149 ?        00:00:00 kthread_init_work thread example
  • check for the kernel messages.

test@test-V520-15IKL:~$ sudo dmesg
[ 5989.857961] Inside kthread_init function
[ 5989.857991] Created kthread
test@test-V520-15IKL:~$ sudo lsmod | grep kthread
test@test-V520-15IKL:~$
`

func TestParse(t *testing.T) {
	s := Parse(session)
	want := []Step{
		{Line: 7, Command: "sudo insmod ./kthread.ko", Comment: []string{"insert the module using insmod command."}},
		{Line: 10, Command: "ps -N | grep kthread_init_work", Comment: []string{"check if the thread is created or not using ps command."},
			Output: []string{"15149 ?        00:00:00 kthread_init_work thread example"}},
		{Line: 14, Command: "sudo dmesg", Comment: []string{"check for the kernel messages."},
			Output: []string{"[ 5989.857961] Inside kthread_init function", "[ 5989.857991] Created kthread"}, Shown: true},
		{Line: 17, Command: "sudo lsmod | grep kthread", Shown: true},
	}
	if diff := cmp.Diff(want, s.Steps); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	wantSpans := []Span{{First: 1, Last: 4, Lines: 3, Text: "Adding work to kthread worker", Why: "no prompt line above it"}}
	if diff := cmp.Diff(wantSpans, s.Unplaced); diff != "" {
		t.Errorf("not placed (-want +got):\n%s", diff)
	}
}

func TestBuild(t *testing.T) {
	files := Build(Parse(session), Options{Name: "c", Session: "s.txt", Module: "kthread_init_work"})
	got := map[string]string{}
	for _, f := range files {
		got[f.Path] = string(f.Data)
	}
	script := got["cases/c.txtar"]
	for _, want := range []string{
		"module kthread_init_work\n",
		"# insert the module using insmod command.\nsh sudo insmod ./kthread.ko\n\n",
		"sh ps -N | grep kthread_init_work\nout -terminal ps\n",
		"sh sudo dmesg\nkmsg dmesg\n",
		"# grep finds nothing: the step fails, as in the session.\n! sh sudo lsmod | grep kthread\nout -terminal lsmod\n",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("case lacks %q:\n%s", want, script)
		}
	}
	if want := "# sudo dmesg, as s.txt:14 shows it (timestamps stripped).\nInside kthread_init function\nCreated kthread\n"; got["golden/c/dmesg.kmsg"] != want {
		t.Errorf("dmesg.kmsg = %q, want %q", got["golden/c/dmesg.kmsg"], want)
	}
	if _, ok := got["golden/c/insmod.out"]; ok {
		t.Error("insmod, whose output the session cuts short at a bullet, got a golden")
	}
}

func TestWriteRefusesToOverwrite(t *testing.T) {
	root := t.TempDir()
	files := []File{{Path: "cases/c.txtar", Data: []byte("new\n")}, {Path: "golden/c/ps.out", Data: []byte("new\n")}}
	if err := os.MkdirAll(filepath.Join(root, "golden/c"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "golden/c/ps.out"), []byte("mine\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := Write(root, files, false)
	if err == nil || !strings.Contains(err.Error(), "golden/c/ps.out") {
		t.Fatalf("Write over an existing golden: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "cases/c.txtar")); err == nil {
		t.Error("Write wrote part of the files before refusing")
	}
	if err := Write(root, files, true); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(root, "golden/c/ps.out"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("-force changed the replaced file's mode: %v %v", fi.Mode(), err)
	}
}

// TestBuildGoldenNamesDistinct: a tool named like a repeat's golden
// (./hello-2, then hello twice) gets a golden of its own; FuzzImport found
// two steps writing one golden, the first's overwritten.
func TestBuildGoldenNamesDistinct(t *testing.T) {
	s := Parse("$ ./hello-2\none\n$ hello\ntwo\n$ hello\nthree\n$ hello-2\nfour\n$\n")
	files := Build(s, Options{Name: "x", Session: "s.txt"})
	seen := map[string]string{}
	for _, f := range files[1:] {
		if other, ok := seen[f.Path]; ok {
			t.Errorf("%s written twice: %q and %q", f.Path, other, f.Data)
		}
		seen[f.Path] = string(f.Data)
	}
	if len(seen) != 4 {
		t.Errorf("%d goldens, want 4: %v", len(seen), seen)
	}
}

// A pasted dmesg's lines that kmsg's filters leave out of every comparison
// (the kernel's taint notes on a module's first load) go into its golden
// as comments: the golden matches, and shows all the tutorial's lines.
func TestBuildDmesgFiltered(t *testing.T) {
	const pasted = `user@host:~/hello$ sudo insmod hello.ko
user@host:~/hello$ sudo dmesg | tail -3
[ 1234.567890] hello: loading out-of-tree module taints kernel.
[ 1234.567991] hello: module verification failed: signature and/or required key missing - tainting kernel
[ 1234.568001] hello: loaded
user@host:~/hello$
`
	var kmsgGolden string
	for _, f := range Build(Parse(pasted), Options{Name: "c", Session: "s.txt"}) {
		if f.Path == "golden/c/dmesg.kmsg" {
			kmsgGolden = string(f.Data)
		}
	}
	want := "# sudo dmesg | tail -3, as s.txt:2 shows it (timestamps stripped).\n" +
		"# kmsg leaves out, as its taint filter does: hello: loading out-of-tree module taints kernel.\n" +
		"# kmsg leaves out, as its taint filter does: hello: module verification failed: signature and/or required key missing - tainting kernel\n" +
		"hello: loaded\n"
	if kmsgGolden != want {
		t.Errorf("dmesg.kmsg:\n%s\nwant:\n%s", kmsgGolden, want)
	}
}

// TestBuildRootPrompt: a session typed at a root prompt (#) is a root
// shell's: the case's reader, a user, enters one with sudo su before the
// first such step and leaves it where the prompt is a user's again.
func TestBuildRootPrompt(t *testing.T) {
	s := Parse("me@box:~/m$ make\nroot@box:/home/me/m# insmod ./m.ko\nroot@box:/home/me/m# dmesg | tail -1\n[ 1.0] m: loaded\nme@box:~/m$ lsmod | grep m\n")
	files := Build(s, Options{Name: "m", Session: "s.txt"})
	var steps []string
	for _, line := range strings.Split(string(files[0].Data), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, "out ") && !strings.HasPrefix(line, "kmsg ") && !strings.HasPrefix(line, "--") {
			steps = append(steps, line)
		}
	}
	want := []string{"make", "sh sudo su", "insmod ./m.ko", "sh dmesg | tail -1", "sh exit", "sh lsmod | grep m"}
	if diff := cmp.Diff(want, steps); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	if s.Steps[1].Root != true || s.Steps[0].Root || s.Steps[3].Root {
		t.Errorf("Root: %+v", s.Steps)
	}
}
