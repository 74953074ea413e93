package kernel

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"

	"github.com/kmodcheck/kmodcheck/runner/proto"
)

// readerLocaleHook makes proto.ReaderLocale in a release root as it is
// made: the root's own localedef (the locales package, ReaderPackages)
// adds it to the root's locale archive, as locale-gen does. A program
// then opens one file for its locale, not a directory's twelve, each a
// walk over 9p in the guest.
const readerLocaleHook = `--customize-hook=chroot "$1" localedef -i en_US -c -f UTF-8 ` + proto.ReaderLocale

// localeArchiveName is how the locale archive names proto.ReaderLocale
// (glibc normalises the charset's name), with the string table's NUL.
const localeArchiveName = "en_US.utf8\x00"

// HasReaderLocale says whether the machine whose root is root has
// proto.ReaderLocale: in its locale archive (locale-gen's,
// readerLocaleHook's) or as a directory of its own.
func HasReaderLocale(root string) bool {
	for _, name := range []string{proto.ReaderLocale, "en_US.utf8"} {
		if fileExists(filepath.Join(root, "usr/lib/locale", name, "LC_CTYPE")) {
			return true
		}
	}
	f, err := os.Open(filepath.Join(root, "usr/lib/locale/locale-archive"))
	if err != nil {
		return false
	}
	defer f.Close()
	return containsStream(bufio.NewReaderSize(f, 1<<16), []byte(localeArchiveName))
}

// containsStream says whether r holds want, reading it in blocks: an
// archive of many locales is hundreds of megabytes.
func containsStream(r io.Reader, want []byte) bool {
	buf := make([]byte, 1<<16+len(want))
	kept := 0
	for {
		n, err := r.Read(buf[kept:])
		if bytes.Contains(buf[:kept+n], want) {
			return true
		}
		if err != nil {
			return false
		}
		if kept+n >= len(want) {
			kept = copy(buf, buf[kept+n-len(want)+1:kept+n])
		} else {
			kept += n
		}
	}
}
