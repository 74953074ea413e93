package qemu

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/kmodcheck/kmodcheck/runner/kernel"
	"github.com/kmodcheck/kmodcheck/runner/local"
	"github.com/kmodcheck/kmodcheck/runner/proto"
)

// caseReader returns the reader a case's steps run as on the machine
// whose root is root (proto.ReaderOf), in proto.ReaderLocale where the
// machine has it, and gives them the case's work
// directory and what it holds (the case's files, copied by kmodcheck),
// as a reader's own files are theirs. Run by a user other than root,
// kmodcheck's files are that user's already, and so is the reader.
func caseReader(root, work string) (proto.Reader, error) {
	passwd, err := os.ReadFile(filepath.Join(root, "etc/passwd"))
	if err != nil {
		return proto.Reader{}, fmt.Errorf("the machine's users: %w", err)
	}
	group, err := os.ReadFile(filepath.Join(root, "etc/group"))
	if err != nil {
		return proto.Reader{}, fmt.Errorf("the machine's groups: %w", err)
	}
	r := proto.ReaderOf(passwd, group, os.Getuid(), os.Getgid())
	r.Lang = proto.FallbackLocale
	if kernel.HasReaderLocale(root) {
		r.Lang = proto.ReaderLocale
	}
	if os.Getuid() != 0 {
		return r, nil
	}
	if err := local.GiveTree(work, r.UID, r.GID); err != nil {
		return r, fmt.Errorf("give the work directory to the reader %s: %w", r.Name, err)
	}
	return r, nil
}
