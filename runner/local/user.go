package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// UserCred is who a user's processes are, as a login makes them: their
// IDs, and the groups that list the user.
func UserCred(uid, gid int) *syscall.Credential {
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		ids, _ := u.GroupIds()
		for _, id := range ids {
			if g, err := strconv.Atoi(id); err == nil && g != gid {
				cred.Groups = append(cred.Groups, uint32(g))
			}
		}
	}
	return cred
}

// GiveTree makes dir and everything in it the user's, as a reader's own
// files are theirs.
func GiveTree(dir string, uid, gid int) error {
	return filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
}

// SudoNoPassword runs `sudo -n true` in dir as the user cred names, with
// env, in a session of its own: it fails where sudo would ask for a
// password (which no step can type) or the user cannot enter dir, and
// the error says so in sudo's words. Its first run also reads sudo, its
// plugin and PAM's modules, which the next sudo then finds cached.
func SudoNoPassword(ctx context.Context, dir string, env []string, cred *syscall.Credential) error {
	path, err := exec.LookPath("sudo")
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, path, "-n", "true")
	cmd.Env, cmd.Dir = env, dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setsid: true}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("sudo -n true: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// A Handover gives a case's reader what kmodcheck wrote in the case's
// work directory between steps. testscript's builtins (cp, mkdir, mv)
// run in kmodcheck's process, as root, so what they make after the first
// step is root's, where the reader's own steps could not write it (`bash:
// hello.txt: Permission denied`). Files a step made root's (the reader's
// sudo) stay root's: After lists them, and Before gives only what is
// root's and not listed. The zero Handover, for a run that is not root
// or has no reader, does nothing.
type Handover struct {
	Dir      string
	UID, GID int
	rootOwns map[string]bool // the paths root owned after the last step
}

// Before gives the reader what root owns in Dir that it did not own when
// the last step ended.
func (h *Handover) Before() error {
	if h.Dir == "" {
		return nil
	}
	return h.walkRoots(func(path string) error {
		if h.rootOwns[path] {
			return nil
		}
		return os.Lchown(path, h.UID, h.GID)
	})
}

// After lists what root owns in Dir when a step ends.
func (h *Handover) After() error {
	if h.Dir == "" {
		return nil
	}
	h.rootOwns = map[string]bool{}
	return h.walkRoots(func(path string) error {
		h.rootOwns[path] = true
		return nil
	})
}

// walkRoots calls do for each entry of Dir (Dir too) that root owns.
func (h *Handover) walkRoots(do func(path string) error) error {
	return filepath.WalkDir(h.Dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil {
			var info fs.FileInfo
			if info, err = d.Info(); err == nil {
				if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Uid == 0 {
					err = do(path)
				}
			}
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil // gone while the walk ran (a step's background job)
		}
		return err
	})
}
