package host

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/local"
	"github.com/kmodcheck/kmodcheck/runner/proto"
)

// sudoReader is the user who ran kmodcheck with sudo (SUDO_UID,
// SUDO_GID): a privileged CI runner's user (GitHub's `runner`), or the
// reader at their laptop. The steps run as them, typing sudo where the
// tutorial does, as on the qemu target; without one (kmodcheck run as
// root itself, in a container), as root.
func sudoReader() (r proto.Reader, home string, ok bool) {
	if os.Getuid() != 0 {
		return r, "", false
	}
	uid, err1 := strconv.Atoi(os.Getenv("SUDO_UID"))
	gid, err2 := strconv.Atoi(os.Getenv("SUDO_GID"))
	if err1 != nil || err2 != nil || uid == 0 {
		return r, "", false
	}
	u, err := user.LookupId(strconv.Itoa(uid))
	if err != nil {
		return r, "", false
	}
	// The reader's locale is theirs: sudo passes LANG on.
	r = proto.Reader{Name: u.Username, UID: uid, GID: gid, Lang: os.Getenv("LANG")}
	if r.Lang == "" {
		r.Lang = proto.FallbackLocale
	}
	if home = u.HomeDir; home == "" {
		home = r.Home()
	}
	return r, home, true
}

// sudoCheckWait bounds asReader's `sudo -n true` as the reader.
const sudoCheckWait = 10 * time.Second

// asReader makes the session's steps the reader's, if kmodcheck was run
// with sudo by a user whose sudo asks no password: their IDs and login
// environment, the case's work directory theirs. It returns what the
// transcript says about who types the lines.
func (s *session) asReader(ctx context.Context, work string) (string, error) {
	r, home, ok := sudoReader()
	if !ok {
		return "steps run as root: no user ran kmodcheck with sudo", nil
	}
	env, cred := local.LoginEnv(r.Name, home, r.Lang), local.UserCred(r.UID, r.GID)
	if err := local.GiveTree(work, r.UID, r.GID); err != nil {
		return "", fmt.Errorf("give the work directory to %s: %w", r.Name, err)
	}
	// The work directory's parent is the run's own temporary directory
	// (testscript's, made 0700): the reader may pass through it, not list it.
	passable(filepath.Dir(work))
	sudoCtx, cancel := context.WithTimeout(ctx, sudoCheckWait)
	defer cancel()
	if err := local.SudoNoPassword(sudoCtx, work, env, cred); err != nil {
		return fmt.Sprintf("steps run as root, not as %s, who ran kmodcheck with sudo: %s can type no step there (%v)", r.Name, r.Name, err), nil
	}
	s.steps.Env, s.steps.Cred = env, cred
	s.handover = local.Handover{Dir: work, UID: r.UID, GID: r.GID}
	return fmt.Sprintf("steps run as %s (uid %d), who ran kmodcheck with sudo", r.Name, r.UID), nil
}

// passable lets others pass through dir, not list it, if dir is this
// process's user's in the system's temporary directory: the run's own.
func passable(dir string) {
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() || filepath.Dir(dir) != filepath.Clean(os.TempDir()) {
		return
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) == os.Getuid() {
		os.Chmod(dir, fi.Mode().Perm()|0o011)
	}
}
