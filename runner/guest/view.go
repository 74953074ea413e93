package guest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/kmodcheck/kmodcheck/runner/proto"
)

// A view's process execs its command from its main thread, the one the
// fork made: QEMU's parent-death signal (runner/qemu/process.go) is that
// thread's alone, and an exec from another thread makes that other thread,
// without it, the process, and QEMU outlives a killed kmodcheck. main.main
// runs on the main thread only while the goroutine stays locked to it from
// init, when the runtime hands it over.
func init() {
	if os.Getenv(proto.EnvRole) == proto.RoleView {
		runtime.LockOSThread()
	}
}

// viewMain carries out the proto.View named by proto.EnvView (the host's
// side of the VM: runner/qemu/view.go; a build step: runner/qemu/build.go):
// it takes this thread into a mount namespace of its own, mounts, and execs
// the View's command, which keeps the namespace. Mounts made with system
// calls, not mount(8): a view of some thirty mounts took 0.35 s as a shell
// script under load, and a build's machine of some sixty 0.5 s a step.
func viewMain() {
	v, err := readView(os.Getenv(proto.EnvView))
	if err == nil {
		err = makeView(v, os.Args[1:])
	}
	what := v.Failure
	if what == "" {
		what = "make the guest's view of the host's root"
	}
	fmt.Fprintf(os.Stderr, "kmodcheck: cannot %s: %v\n", what, err)
	os.Exit(125)
}

func readView(file string) (proto.View, error) {
	var v proto.View
	data, err := os.ReadFile(file)
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return v, fmt.Errorf("%s: %w", file, err)
	}
	if len(v.Argv) == 0 {
		return v, fmt.Errorf("%s: nothing to run", file)
	}
	return v, nil
}

// makeView makes v and execs its command with args after it; it returns
// only on failure.
func makeView(v proto.View, args []string) error {
	path := v.Argv[0]
	if v.Root == "" {
		var err error
		if path, err = exec.LookPath(path); err != nil {
			return err
		}
	}
	cwd, _ := os.Getwd()
	// The namespace, the root and the capabilities are this thread's;
	// exec makes them the process's.
	runtime.LockOSThread()
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("unshare the mount namespace: %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make the mounts private: %w", err)
	}
	for _, m := range v.Mounts {
		if err := mountView(m); err != nil {
			return err
		}
	}
	env := viewEnv(v.Path)
	if v.Root != "" {
		if err := unix.Chroot(v.Root); err != nil {
			return fmt.Errorf("chroot %s: %w", v.Root, err)
		}
		if cwd == "" || unix.Chdir(cwd) != nil {
			if err := unix.Chdir("/"); err != nil {
				return err
			}
		}
	}
	if v.Confined {
		if err := dropPrivileges(); err != nil {
			return err
		}
	}
	if v.User != nil {
		if err := becomeUser(*v.User); err != nil {
			return err
		}
	}
	argv := append(append([]string{}, v.Argv...), args...)
	if err := unix.Exec(path, argv, env); err != nil {
		return fmt.Errorf("run %s: %w", path, err)
	}
	return nil
}

// mountView makes one of a View's mounts.
func mountView(m proto.Mount) error {
	if m.Hides {
		if _, err := os.Lstat(m.Target); errors.Is(err, fs.ErrNotExist) {
			return nil
		}
	}
	err := mountOne(m)
	if err != nil && m.Else != nil {
		err = mountView(*m.Else)
	}
	if err != nil && !m.Optional {
		return err
	}
	return nil
}

func mountOne(m proto.Mount) error {
	if m.MakeDir {
		os.MkdirAll(m.Target, 0o755) // the mount says what failed
	}
	if m.MakeFile {
		if f, err := os.OpenFile(m.Target, os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			f.Close()
		}
	}
	if m.Link {
		return os.Symlink(m.Source, m.Target)
	}
	var flags uintptr
	if m.Bind {
		flags |= unix.MS_BIND
	}
	if m.Recursive {
		flags |= unix.MS_REC
	}
	if m.NoSUID {
		flags |= unix.MS_NOSUID
	}
	if m.ReadOnly && !m.Bind {
		flags |= unix.MS_RDONLY
	}
	if err := unix.Mount(m.Source, m.Target, m.Type, flags, m.Data); err != nil {
		return fmt.Errorf("mount %s on %s: %w", m.Source, m.Target, err)
	}
	if m.ReadOnly && m.Bind {
		if err := unix.Mount("", m.Target, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("make %s read-only: %w", m.Target, err)
		}
	}
	return nil
}

// viewEnv is the environment of a View's command: this process's without
// the role's variables, PATH path when that is set.
func viewEnv(path string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, proto.EnvRole+"=") || strings.HasPrefix(kv, proto.EnvView+"=") ||
			(path != "" && strings.HasPrefix(kv, "PATH=")) {
			continue
		}
		env = append(env, kv)
	}
	if path != "" {
		env = append(env, "PATH="+path)
	}
	return env
}

// dropPrivileges leaves this thread no capabilities to pass on, and no
// way to gain any: root in a build's machine owns its files (make install)
// but cannot leave the chroot, mount, or reach what the namespaces and
// hidden directories keep from it.
func dropPrivileges() error {
	for c := 0; ; c++ {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
			if errors.Is(err, unix.EINVAL) {
				break // past the last capability
			}
			return fmt.Errorf("drop capability %d from the bounding set: %w", c, err)
		}
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("clear the ambient capabilities: %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var caps [2]unix.CapUserData
	if err := unix.Capget(&hdr, &caps[0]); err != nil {
		return fmt.Errorf("read the capabilities: %w", err)
	}
	caps[0].Inheritable, caps[1].Inheritable = 0, 0
	if err := unix.Capset(&hdr, &caps[0]); err != nil {
		return fmt.Errorf("clear the inheritable capabilities: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set no_new_privs: %w", err)
	}
	return nil
}

// becomeUser makes this thread's process run as r, with no other groups;
// exec makes it the process's. A change of user clears the signal the
// process gets when its parent dies (unshare --kill-child's, which ends a
// killed kmodcheck's build): it is set again.
func becomeUser(r proto.Reader) error {
	deathSig, err := parentDeathSignal()
	if err != nil {
		return err
	}
	parent := os.Getppid()
	if err := unix.Setgroups(nil); err != nil {
		return fmt.Errorf("clear the groups: %w", err)
	}
	if err := unix.Setresgid(r.GID, r.GID, r.GID); err != nil {
		return fmt.Errorf("become group %d: %w", r.GID, err)
	}
	if err := unix.Setresuid(r.UID, r.UID, r.UID); err != nil {
		return fmt.Errorf("become user %d: %w", r.UID, err)
	}
	if deathSig != 0 {
		if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(deathSig), 0, 0, 0); err != nil {
			return fmt.Errorf("set the parent's death signal again: %w", err)
		}
		if os.Getppid() != parent { // it died in between
			return errors.New("the parent died")
		}
	}
	return nil
}

// parentDeathSignal is the signal this thread gets when its parent dies.
func parentDeathSignal() (int, error) {
	var sig int32
	if err := unix.Prctl(unix.PR_GET_PDEATHSIG, uintptr(unsafe.Pointer(&sig)), 0, 0, 0); err != nil {
		return 0, fmt.Errorf("read the parent's death signal: %w", err)
	}
	return int(sig), nil
}
