package guest

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/kmodcheck/kmodcheck/runner/proto"
)

// takeChanges copies into the guest's root what the case's build steps
// changed of the machine on the host: the upper directory of their
// overlays, shared read-only at proto.ChangesDir. Files and links are
// copied, directories made, and overlayfs's whiteouts (character devices
// 0/0, a file the build removed) remove the path. The copies go into the
// guest's own overlay and vanish with the VM. Directories made opaque by a
// build (removed and made again) are merged, not replaced.
func takeChanges(from, to string) error {
	return filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, p)
		if err != nil || rel == "." {
			return err
		}
		dst := filepath.Join(to, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch mode := info.Mode(); {
		case mode.IsDir():
			if st, err := os.Stat(dst); err == nil && st.IsDir() {
				return nil
			}
			os.Remove(dst)
			return os.MkdirAll(dst, mode.Perm())
		case mode&fs.ModeCharDevice != 0 && isWhiteout(info):
			return os.RemoveAll(dst)
		case mode&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			os.RemoveAll(dst)
			return os.Symlink(link, dst)
		case mode.IsRegular():
			return copyInto(p, dst, mode.Perm())
		}
		return nil
	})
}

func isWhiteout(info fs.FileInfo) bool {
	st, ok := info.Sys().(*syscall.Stat_t)
	return ok && st.Rdev == 0
}

// copyInto replaces dst with a copy of src, through a temporary file so
// that a program reading dst sees the old or the new file whole.
func copyInto(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := filepath.Join(filepath.Dir(dst), ".kmodcheck-"+filepath.Base(dst))
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(tmp)
		return err
	}
	if err := out.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	os.RemoveAll(dst)
	return os.Rename(tmp, dst)
}

// syncMachine takes the build steps' changes, for a step that asks.
func syncMachine() error {
	if err := takeChanges(proto.ChangesDir, "/"); err != nil {
		return fmt.Errorf("take the build steps' changes to the machine: %w", err)
	}
	return nil
}
