package local

import (
	"context"
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
