package local

import (
	"fmt"

	"github.com/kmodcheck/kmodcheck/runner/target"
)

// truncatedNote is the line that ends an output cut at MaxOutput, after
// head, the bytes kept.
func truncatedNote(head []byte, dropped int64) []byte {
	var b []byte
	if len(head) > 0 && head[len(head)-1] != '\n' {
		b = append(b, '\n')
	}
	return fmt.Appendf(b, "kmodcheck: output truncated: its first %d bytes are kept, the %d bytes after them dropped\n", target.MaxOutput, dropped)
}

// An OutputBuffer collects a command's output as a bytes.Buffer would,
// keeping its first MaxOutput bytes. Writes never fail: a command that
// prints more is not stopped, only not kept.
type OutputBuffer struct {
	buf     []byte
	dropped int64
}

// Write keeps what fits and counts the rest.
func (b *OutputBuffer) Write(p []byte) (int, error) {
	n := min(len(p), target.MaxOutput-len(b.buf))
	b.buf = append(b.buf, p[:n]...)
	b.dropped += int64(len(p) - n)
	return len(p), nil
}

// Bytes returns the output kept, ending with truncatedNote's line if some
// was dropped.
func (b *OutputBuffer) Bytes() []byte {
	if b.dropped == 0 {
		return b.buf
	}
	return append(b.buf[:len(b.buf):len(b.buf)], truncatedNote(b.buf, b.dropped)...)
}

// capOutput is out, a step's output as read up to a sync token, cut to
// MaxOutput; dropped counts what was dropped already while reading.
func capOutput(out []byte, dropped int64) []byte {
	if len(out) <= target.MaxOutput && dropped == 0 {
		return out
	}
	if len(out) > target.MaxOutput {
		dropped += int64(len(out) - target.MaxOutput)
		out = out[:target.MaxOutput]
	}
	return append(out[:len(out):len(out)], truncatedNote(out, dropped)...)
}
