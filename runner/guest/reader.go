package guest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/local"
	"github.com/kmodcheck/kmodcheck/runner/proto"
)

// readerGroups are the groups of Ubuntu's first user that matter to a
// module tutorial, where the machine has them: adm reads the system log
// (/var/log/kern.log), sudo is sudo's. systemd-journal reads the journal,
// as the access systemd-tmpfiles gives adm on a reader's machine does
// (the guest runs no tmpfiles).
var readerGroups = []string{"adm", "sudo", "systemd-journal"}

// profileReaderPath sets a login shell's PATH (kmodcheck shell's) to the
// steps' (local.ReaderPath), after Debian's /etc/profile gave users one
// without the sbin directories.
const profileReaderPath = "/etc/profile.d/kmodcheck-path.sh"

// sudoersReader lets the reader use sudo without a password, as a reader
// who typed theirs a while ago: no step waits at a prompt.
const sudoersReader = "/etc/sudoers.d/kmodcheck-reader"

// addReader makes r a user of the machine whose root is root (the
// guest's "/", an overlay: the machine's files are not changed), as
// adduser makes a machine's first user: a line in /etc/passwd, /etc/group
// and the shadow files, membership of readerGroups, a home directory, and
// sudo. A machine that has a user of r's ID (kmodcheck run by that user on
// the system kernel) keeps it.
func addReader(root string, r proto.Reader) error {
	at := func(p string) string { return filepath.Join(root, p) }
	var errs []error
	if !hasID(at("/etc/passwd"), r.UID) {
		shell := "/bin/bash"
		if _, err := os.Stat(at(shell)); err != nil {
			shell = "/bin/sh"
		}
		errs = append(errs,
			appendLine(at("/etc/passwd"), fmt.Sprintf("%s:x:%d:%d:kmodcheck's reader,,,:%s:%s", r.Name, r.UID, r.GID, r.Home(), shell)),
			appendLine(at("/etc/shadow"), r.Name+":*:20000:0:99999:7:::"))
	}
	if !hasID(at("/etc/group"), r.GID) {
		errs = append(errs, appendLine(at("/etc/group"), fmt.Sprintf("%s:x:%d:", r.Name, r.GID)),
			appendLine(at("/etc/gshadow"), r.Name+":!::"))
	}
	errs = append(errs, joinGroups(at("/etc/group"), r.Name, readerGroups))
	if err := os.MkdirAll(at(r.Home()), 0o755); err != nil {
		errs = append(errs, err)
	} else {
		errs = append(errs, os.Chown(at(r.Home()), r.UID, r.GID))
	}
	if _, err := os.Stat(at("/etc/profile.d")); err == nil {
		errs = append(errs, os.WriteFile(at(profileReaderPath), []byte("# kmodcheck: a reader's PATH is Ubuntu's\nPATH="+local.ReaderPath+"\nexport PATH\n"), 0o644))
	}
	if _, err := os.Stat(at("/etc/sudoers.d")); err == nil {
		errs = append(errs, os.WriteFile(at(sudoersReader), []byte("# kmodcheck: the reader typed their password a while ago\n"+r.Name+" ALL=(ALL:ALL) NOPASSWD: ALL\n"), 0o440))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("add the reader %s: %w", r, err)
	}
	return nil
}

// hasID says whether the /etc/passwd or /etc/group file has an entry of
// ID id (proto.HasID).
func hasID(file string, id int) bool {
	data, _ := os.ReadFile(file)
	return proto.HasID(data, id)
}

// appendLine adds line to file, where the machine has the file.
func appendLine(file, line string) error {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(f, line)
	return errors.Join(err, f.Close())
}

// joinGroups adds user to the members of each of groups the /etc/group
// file has.
func joinGroups(file, user string, groups []string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	for i, line := range lines {
		f := strings.Split(line, ":")
		if len(f) != 4 || !slices.Contains(groups, f[0]) || slices.Contains(strings.Split(f[3], ","), user) {
			continue
		}
		if f[3] != "" {
			f[3] += ","
		}
		f[3] += user
		lines[i] = strings.Join(f, ":")
	}
	return os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

// sudoWarmWait bounds how long a step waits for warmSudo.
const sudoWarmWait = 5 * time.Second

// warmSudo runs `sudo -n true` once as the reader, out of the case's
// session, so that the reader's first sudo does not pay for reading sudo,
// its plugin and PAM's modules over 9p (0.9 s under TCG, against 0.3 s
// for the next ones). The agent starts it as the case arrives, while the
// host builds and the guest waits. It leaves nothing: with NOPASSWD, sudo
// writes no timestamp, and the kernel's auditing is off.
func warmSudo(env []string, cred *syscall.Credential) {
	local.SudoNoPassword(context.Background(), "/", env, cred)
}
