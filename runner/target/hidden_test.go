package target

import (
	"slices"
	"testing"
)

func TestScrubShadow(t *testing.T) {
	in := "root:$y$j9T$abc$def:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\nsudo:!:alice,bob\nodd\nshort:x"
	want := "root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\nsudo:*:alice,bob\nodd\nshort:*"
	if got := string(ScrubShadow([]byte(in))); got != want {
		t.Errorf("ScrubShadow =\n%s\nwant\n%s", got, want)
	}
}

func TestReaderEnv(t *testing.T) {
	got := ReaderEnv([]string{"HOME=/root", "GITHUB_TOKEN=x", "LC_ALL=C", "LANG=C.UTF-8", "AWS_SECRET_ACCESS_KEY=y", "PATH=/bin", "MAKEFLAGS=-j2"})
	if want := []string{"HOME=/root", "LC_ALL=C", "LANG=C.UTF-8", "PATH=/bin"}; !slices.Equal(got, want) {
		t.Errorf("ReaderEnv = %q, want %q", got, want)
	}
}
