package kernel

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

func TestHasReaderLocale(t *testing.T) {
	write := func(root, file string, data []byte) {
		p := filepath.Join(root, file)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// An archive whose name table holds the locale past the first block.
	archive := append(bytes.Repeat([]byte{0xff}, 1<<16-3), []byte("C.utf8\x00en_US.utf8\x00")...)
	for _, tt := range []struct {
		name  string
		files map[string][]byte
		want  bool
	}{
		{"none", nil, false},
		{"a release root's directory", map[string][]byte{"usr/lib/locale/en_US.UTF-8/LC_CTYPE": nil}, true},
		{"locale-gen's directory name", map[string][]byte{"usr/lib/locale/en_US.utf8/LC_CTYPE": nil}, true},
		{"a directory without LC_CTYPE", map[string][]byte{"usr/lib/locale/en_US.UTF-8/LC_TIME": nil}, false},
		{"in the archive", map[string][]byte{"usr/lib/locale/locale-archive": archive}, true},
		{"an archive of others", map[string][]byte{"usr/lib/locale/locale-archive": []byte("C.utf8\x00en_GB.utf8\x00en_US.utf8x\x00")}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for f, data := range tt.files {
				write(root, f, data)
			}
			if got := HasReaderLocale(root); got != tt.want {
				t.Errorf("HasReaderLocale = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestContainsStream(t *testing.T) {
	want := []byte("en_US.utf8\x00")
	for _, at := range []int{0, 1, 1<<16 - 5, 1 << 16, 3<<16 + 7} {
		data := append(append(bytes.Repeat([]byte("x"), at), want...), "tail"...)
		// One byte a read: every split of the name between reads.
		if !containsStream(iotest.OneByteReader(bytes.NewReader(data)), want) {
			t.Errorf("at %d, a byte a read: not found", at)
		}
		if !containsStream(bytes.NewReader(data), want) {
			t.Errorf("at %d: not found", at)
		}
	}
	if containsStream(strings.NewReader(strings.Repeat("en_US.utf8", 1<<14)), want) {
		t.Error("found without its NUL")
	}
}
