// Package hide says what a machine made from the host's own root hides
// from a case: users' homes, the runner's files, keys, password hashes,
// what only root may read, and the CI runner's environment. The qemu
// target's guest and its builds on the host apply it.
package hide

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// A machine made from the host's own root (the system kernel's, in the
// guest and for builds) is the host as a reader would have it, not the
// host kmodcheck runs on: what no tutorial needs and what holds other
// users' files, the runner's work or keys is hidden. Release roots hold
// none of it; hiding there costs a few mounts.

// Dirs are directories a machine shows empty (a tmpfs each): users'
// homes, the runner's and other services' files, backups (Debian keeps
// copies of the shadow files in /var/backups), mail and spools, and
// private keys.
var Dirs = []string{
	"/root", "/home", "/srv", "/mnt", "/media", "/opt",
	"/var/backups", "/var/mail", "/var/spool", "/var/lib/private",
	"/var/cache/private", "/var/log/private",
	"/etc/ssh", "/etc/ssl/private",
}

// Files are files a machine shows empty: old passwords, debconf's
// saved passwords, failed logins.
var Files = []string{"/etc/security/opasswd", "/var/cache/debconf/passwords.dat", "/var/log/btmp"}

// KeptPrivate are files only root may read that a machine's tools need:
// sudo reads them, and they hold rules, not credentials.
var KeptPrivate = []string{"/etc/sudoers", "/etc/sudoers.d"}

// unscanned are the top-level directories ScanPrivate leaves alone: the
// installed system (/usr, whose files are packages'), and the kernel's and
// run time's, which a machine gets fresh (see APIDirs).
var unscanned = []string{"/usr", "/proc", "/sys", "/dev", "/run", "/tmp", "/lost+found"}

// APIDirs are a root's kernel and run-time directories: a machine gets its
// own, never the host's (its processes' environments, sockets, devices,
// other cases' work directories).
var APIDirs = []string{"/proc", "/sys", "/dev", "/run", "/tmp", "/var/tmp"}

// A Private lists what of a root only its owner may read, as the machine
// sees it ("/etc/x"): directories others cannot list or enter, and
// non-empty regular files others cannot read.
type Private struct {
	Dirs, Files []string
}

// ScanPrivate finds, in root outside /usr, the API directories and
// Dirs, what others may not read: a host's own secrets wherever its
// services keep them (a database's pg_hba.conf under /etc, a key under
// /var/lib), which no list names. A machine made from the host's root
// hides them as it hides Dirs, so a case running as root there
// reads only what any user of the host could. ShadowFiles (scrubbed
// instead) and KeptPrivate are left out; a directory found hides all it
// holds, so the walk does not enter it. Symbolic links are not followed.
// It took 0.3 s on this host's 47,000 files outside /usr.
func ScanPrivate(ctx context.Context, root string) (Private, error) {
	var p Private
	skip := slices.Concat(unscanned, Dirs, ShadowFiles, KeptPrivate)
	walk := func(path string, d fs.DirEntry, err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rel := "/" + strings.TrimPrefix(strings.TrimPrefix(path, root), "/")
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // gone while walking
			}
			return err
		}
		if rel == "/" {
			return nil
		}
		if slices.Contains(skip, rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		switch private, dir := privateEntry(d); {
		case !private:
		case dir:
			p.Dirs = append(p.Dirs, rel)
			return filepath.SkipDir
		default:
			p.Files = append(p.Files, rel)
		}
		return nil
	}
	if err := filepath.WalkDir(root, walk); err != nil {
		return Private{}, fmt.Errorf("scan %s for what only root may read: %w", root, err)
	}
	sort.Strings(p.Dirs)
	sort.Strings(p.Files)
	return p, nil
}

// privateEntry says whether others may not read d: a directory they cannot
// list or enter, or a regular file with something in it they cannot read.
func privateEntry(d fs.DirEntry) (private, dir bool) {
	info, err := d.Info()
	if err != nil {
		return false, false
	}
	mode := info.Mode()
	switch {
	case mode.IsDir():
		return mode.Perm()&0o005 != 0o005, true
	case mode.IsRegular():
		return mode.Perm()&0o004 == 0 && info.Size() > 0, false
	}
	return false, false
}

// ShadowFiles hold password hashes; a machine keeps them, for the tools
// that read them (su, sudo, passwd), with every hash replaced by ScrubShadow.
var ShadowFiles = []string{"/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-"}

// ScrubShadow returns a shadow or gshadow file with each entry's password
// field (the second) replaced by "*", which no password matches; the
// names, ages and group members stay.
func ScrubShadow(data []byte) []byte {
	var out bytes.Buffer
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if line == "" {
			continue
		}
		body, nl := strings.CutSuffix(line, "\n")
		if fields := strings.SplitN(body, ":", 3); len(fields) == 3 {
			body = fields[0] + ":*:" + fields[2]
		} else if len(fields) == 2 {
			body = fields[0] + ":*"
		}
		out.WriteString(body)
		if nl {
			out.WriteByte('\n')
		}
	}
	return out.Bytes()
}

// readerEnvNames are what of kmodcheck's environment a build step keeps:
// a reader's login has these, and no CI runner's tokens.
var readerEnvNames = map[string]bool{
	"HOME": true, "USER": true, "LOGNAME": true, "SHELL": true, "TERM": true,
	"TZ": true, "PATH": true,
}

// ReaderEnv returns what of env a reader's own shell would have, in the
// reader's locale lang: the login's variables, LANG=lang in place of
// env's locale (LANG, LANGUAGE, LC_*), so that the compiler speaks as it
// does at the reader's terminal, and nothing else (tokens and secrets a
// CI runner keeps in its environment).
func ReaderEnv(env []string, lang string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if readerEnvNames[name] {
			out = append(out, kv)
		}
	}
	return append(out, "LANG="+lang)
}
