package script

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// testscript's builtins run on the host, where the script runs. Inside the
// work directory that is harmless: the target sees the same files at the
// same path. Anywhere else the host's files are not the target's, and
// /proc, /sys and /dev are the host's kernel: `exists /proc/x` would pass
// or fail on what the machine running kmodcheck has loaded. Check refuses
// such a line and shows the line that asks the target instead.

// workRoot stands for the work directory while checking paths: no real
// path starts with a NUL.
const workRoot = "/\x00work"

// pathChecker follows a script's cd lines, so that relative paths can be
// resolved against the directory testscript will be in.
type pathChecker struct {
	cwd string
}

func newPathChecker() *pathChecker { return &pathChecker{cwd: workRoot} }

// hostPath returns the path an argument names on the host when it is
// outside the work directory, or "" when it is inside, is one of
// testscript's names for its buffers (stdout, stderr, ttyout), is
// /dev/null, or depends on a variable only the running script knows.
func (pc *pathChecker) hostPath(arg string, buffers bool) string {
	if buffers && (arg == "stdout" || arg == "stderr" || arg == "ttyout") {
		return ""
	}
	p, known := pc.resolve(arg)
	if !known || p == workRoot || strings.HasPrefix(p, workRoot+"/") || p == os.DevNull {
		return ""
	}
	return p
}

// resolve returns the absolute path an argument names, with the work
// directory as workRoot; known is false when a variable other than
// testscript's own is in it, or the directory is not known.
func (pc *pathChecker) resolve(arg string) (p string, known bool) {
	known = true
	p = os.Expand(arg, func(key string) string {
		switch strings.TrimSuffix(key, "@R") {
		case "WORK":
			return workRoot
		case "TMPDIR":
			return workRoot + "/.tmp"
		case "devnull":
			return os.DevNull
		case "/":
			return "/"
		}
		known = false
		return ""
	})
	if !known || p == "" {
		return "", false
	}
	if !filepath.IsAbs(p) {
		if pc.cwd == "" {
			return "", false
		}
		p = filepath.Join(pc.cwd, p)
	}
	return filepath.Clean(p), true
}

// hostTools are programs that look at the running kernel: run by exec,
// they would look at the host's.
var hostTools = append([]string{"modprobe", "sysctl", "journalctl", "sudo"}, TargetTools...)

// check returns why a builtin's line must not run on the host, with the
// line that runs on the target instead, or "" when it may run.
func (pc *pathChecker) check(l scriptLine, args []string) string {
	var paths, buffers []int // indices of args naming files; of files that may be buffers
	switch l.name {
	case "cd":
		if len(args) == 1 {
			if pc.hostPath(args[0], false) != "" {
				return pc.refuse(l, args, []int{0}, nil)
			}
			pc.cwd, _ = pc.resolve(args[0]) // "" when not known
		}
		return ""
	case "chmod":
		paths = span(1, len(args))
	case "cmp", "cmpenv", "cp", "stdin", "ttyin", "unquote", "unix2dos":
		buffers = span(0, len(args))
	case "exists":
		for i, a := range args {
			if i > 0 || a != "-readonly" {
				paths = append(paths, i)
			}
		}
	case "grep":
		if len(args) > 0 {
			buffers = []int{len(args) - 1}
		}
	case "mkdir", "mv", "rm":
		paths = span(0, len(args))
	case "symlink":
		if len(args) == 3 {
			paths = []int{0, 2}
		}
	case "exec":
		if len(args) > 0 && slices.Contains(hostTools, filepath.Base(args[0])) {
			return fmt.Sprintf("exec runs %s on the host, where the script runs, not on the kernel under test; on the target, write: %s",
				args[0], targetForm(l, args))
		}
		for i := 1; i < len(args); i++ {
			if strings.HasPrefix(args[i], "/") {
				paths = append(paths, i)
			}
		}
	}
	return pc.refuse(l, args, paths, buffers)
}

// refuse returns why the line must not run, if one of the args at paths
// (or at buffers, where testscript's buffer names are allowed) is a host
// path.
func (pc *pathChecker) refuse(l scriptLine, args []string, paths, buffers []int) string {
	var host []string
	for _, i := range paths {
		if pc.hostPath(args[i], false) != "" {
			host = append(host, args[i])
		}
	}
	for _, i := range buffers {
		if pc.hostPath(args[i], true) != "" {
			host = append(host, args[i])
		}
	}
	if len(host) == 0 {
		return ""
	}
	what := "is the host's"
	if len(host) > 1 {
		what = "are the host's"
	}
	return fmt.Sprintf("%s runs on the host, where the script runs, not on the kernel under test: %s %s; on the target, write: %s",
		l.name, strings.Join(host, ", "), what, targetForm(l, args))
}

func span(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// targetForm is the line, or lines, that do on the target what a builtin's
// line does on the host.
func targetForm(l scriptLine, args []string) string {
	prefix := ""
	for _, c := range l.conds {
		prefix += c + " "
	}
	if l.neg {
		prefix += "! "
	}
	sh := func(line string) string { return prefix + "sh " + line }
	switch l.name {
	case "exists":
		var tests []string
		for _, a := range args {
			if a == "-readonly" {
				continue
			}
			tests = append(tests, "test -e "+a)
		}
		if args[0] == "-readonly" {
			for i, a := range args[1:] {
				tests[i] += " && test ! -w " + a
			}
		}
		return sh(strings.Join(tests, " && "))
	case "grep":
		file := args[len(args)-1]
		return fmt.Sprintf("`sh cat %s`, then `%sstdout %s`", file, prefix, quoteScript(args[:len(args)-1]))
	case "cmp", "cmpenv":
		if len(args) == 2 {
			return fmt.Sprintf("`sh cat %s`, then `%s%s stdout %s`", args[0], prefix, l.name, args[1])
		}
	case "stdin", "ttyin":
		return sh("COMMAND < " + args[len(args)-1])
	case "symlink":
		if len(args) == 3 {
			return sh("ln -s " + args[2] + " " + args[0])
		}
	case "exec":
		return sh(l.raw)
	}
	return sh(l.name + " " + l.raw)
}

// quoteScript writes words as testscript reads them: quoted when needed.
func quoteScript(words []string) string {
	out := make([]string, len(words))
	for i, w := range words {
		if w == "" || strings.ContainsAny(w, " \t'#$\\") {
			w = "'" + strings.ReplaceAll(w, "'", "''") + "'"
		}
		out[i] = w
	}
	return strings.Join(out, " ")
}
