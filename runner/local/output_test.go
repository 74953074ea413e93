package local

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/target"
)

// TestShellOutputLimit: a step printing 20 MiB keeps the first MaxOutput
// bytes of its stdout and a line saying how much was dropped; the shell's
// buffer never holds the whole; the next step's output is its own. Before
// the limit, the 20 MiB came back whole.
func TestShellOutputLimit(t *testing.T) {
	dir := t.TempDir()
	sh, err := StartShell(dir, rootEnv, nil)
	if err != nil {
		t.Skip(err)
	}
	defer sh.Close()
	const total = 20 << 20
	res := sh.Run(context.Background(), target.Step{Line: fmt.Sprintf("head -c %d /dev/zero | tr '\\0' x; echo err >&2", total), Dir: dir, Timeout: time.Minute})
	note := fmt.Sprintf("\nkmodcheck: output truncated: its first %d bytes are kept, the %d bytes after them dropped\n", target.MaxOutput, total-target.MaxOutput)
	if res.Exit != 0 || len(res.Stdout) != target.MaxOutput+len(note) || !bytes.HasSuffix(res.Stdout, []byte(note)) ||
		strings.Trim(string(res.Stdout[:target.MaxOutput]), "x") != "" || string(res.Stderr) != "err\n" {
		t.Errorf("exit %d, stdout of %d bytes ending %q, stderr %q; want %d bytes of x and %q", res.Exit, len(res.Stdout), res.Stdout[max(0, len(res.Stdout)-200):], res.Stderr, target.MaxOutput, note)
	}
	if n := len(sh.stdout.buf); n > target.MaxOutput+streamTail+32<<10 {
		t.Errorf("the stream kept %d bytes after the step", n)
	}
	if res := sh.Run(context.Background(), target.Step{Line: "echo next", Dir: dir, Timeout: 10 * time.Second}); string(res.Stdout) != "next\n" {
		t.Errorf("the next step's stdout: %q", res.Stdout)
	}
}

// TestStreamTrimKeepsToken: a token that trim would drop from the middle
// (output after it floods in before sync reads it) is kept.
func TestStreamTrimKeepsToken(t *testing.T) {
	token := []byte("\x00kmodcheck sync 1\x00")
	st := &stream{token: token}
	st.buf = append(bytes.Repeat([]byte("a"), target.MaxOutput+10), token...)
	st.buf = append(st.buf, bytes.Repeat([]byte("b"), 2*streamTail)...)
	st.trim()
	i := bytes.Index(st.buf, token)
	if i != target.MaxOutput || st.dropped != 10 {
		t.Fatalf("token at %d, %d dropped; want at %d, 10", i, st.dropped, target.MaxOutput)
	}
	// A token before MaxOutput: what follows it is the next step's, not
	// this one's to drop.
	st = &stream{token: token}
	st.buf = append(append([]byte("short"), token...), bytes.Repeat([]byte("b"), 2*target.MaxOutput)...)
	st.trim()
	if st.dropped != 0 || len(st.buf) != len("short")+len(token)+2*target.MaxOutput {
		t.Fatalf("a token before target.MaxOutput: %d dropped, %d kept", st.dropped, len(st.buf))
	}
}

// TestOutputBuffer: RunLocal's output (a host build's) keeps MaxOutput
// bytes and says what it dropped.
func TestOutputBuffer(t *testing.T) {
	res := RunSh(context.Background(), target.Step{Line: fmt.Sprintf("head -c %d /dev/zero; printf abc >&2", 3*target.MaxOutput), Dir: t.TempDir(), Timeout: time.Minute}, nil)
	want := fmt.Sprintf("\nkmodcheck: output truncated: its first %d bytes are kept, the %d bytes after them dropped\n", target.MaxOutput, 2*target.MaxOutput)
	if res.Exit != 0 || len(res.Stdout) != target.MaxOutput+len(want) || !bytes.HasSuffix(res.Stdout, []byte(want)) || string(res.Stderr) != "abc" {
		t.Errorf("exit %d, stdout of %d bytes ending %q, stderr %q", res.Exit, len(res.Stdout), res.Stdout[max(0, len(res.Stdout)-120):], res.Stderr)
	}
	var b OutputBuffer
	b.Write([]byte("short\n"))
	if string(b.Bytes()) != "short\n" {
		t.Errorf("a short output: %q", b.Bytes())
	}
}
