package guest

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kmodcheck/kmodcheck/runner/proto"
)

// caseWait bounds the wait for the case line while no host is connected
// to the port: a host that started the VM connects within seconds. Time
// spent in a saved state, the port connected, does not count.
const caseWait = 60 * time.Second

// awaitCase is how the agent starts, from the initramfs at boot: it says
// that it waits (proto.InitWaiting), and a state saved then holds it
// started. Given the case, it mixes the case's seed into the random pool,
// mounts the machine's root and moves into it, and returns the case's
// work directory and reader.
func awaitCase() (string, proto.Reader, error) {
	dev, err := findPort(proto.PortName, 5*time.Second)
	if err != nil {
		return "", proto.Reader{}, err
	}
	fmt.Println(proto.InitWaiting)
	line, err := readCaseLine(dev)
	if err != nil {
		return "", proto.Reader{}, err
	}
	work, seed, reader, err := proto.ParseCaseLine(line)
	if err != nil {
		return "", reader, err
	}
	if err := os.WriteFile("/dev/urandom", []byte(seed+"\n"), 0); err != nil {
		return "", reader, fmt.Errorf("seed the random pool: %w", err)
	}
	if err := enterRoot(); err != nil {
		return "", reader, err
	}
	return work, reader, nil
}

// readCaseLine reads the host's line from the port dev. A read returns at
// once, empty, while no host is connected to the port (and when a restored
// QEMU's host end is not connected yet): it tries again. Blocking reads,
// not Go's poller: a saved state holds the agent blocked in one.
func readCaseLine(dev string) (string, error) {
	var line []byte
	buf := make([]byte, 256)
	for empty := 0; ; {
		fd, err := unix.Open(dev, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return "", fmt.Errorf("open %s: %w", dev, err)
		}
		n, err := unix.Read(fd, buf)
		unix.Close(fd)
		if n > 0 {
			line = append(line, buf[:n]...)
			if i := strings.IndexByte(string(line), '\n'); i >= 0 {
				return string(line[:i]), nil
			}
			continue
		}
		if err != nil && !errors.Is(err, unix.EINTR) && !errors.Is(err, unix.EAGAIN) {
			return "", fmt.Errorf("read the case from %s: %w", dev, err)
		}
		if empty++; time.Duration(empty)*50*time.Millisecond > caseWait {
			return "", fmt.Errorf("no case on %s within %v", dev, caseWait)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// enterRoot makes the machine's root the agent's, as switch_root would:
// the host's files shared read-only over 9p, under an overlay whose
// changes live in the VM's memory and vanish with it, writable as a
// reader's root is; a tmpfs on /run, the build steps' changes
// (proto.ChangesDir), and the initramfs's /dev moved over. PID 1 stays in
// the initramfs, which is all it needs.
func enterRoot() error {
	p9 := "trans=virtio,version=9p2000.L,msize=512000"
	steps := []struct {
		what string
		do   func() error
	}{
		{"directories", func() error { return mkdirs("/lower", "/rw") }},
		{"mount the machine's root over 9p", func() error {
			return unix.Mount("hostroot", "/lower", "9p", unix.MS_RDONLY, p9+",cache=loose")
		}},
		{"tmpfs for the root's changes", func() error {
			if err := unix.Mount("rw", "/rw", "tmpfs", 0, "mode=0755"); err != nil {
				return err
			}
			return mkdirs("/rw/upper", "/rw/work")
		}},
		{"overlay over the machine's root", func() error {
			return unix.Mount("root", "/newroot", "overlay", 0, "lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work")
		}},
		{"tmpfs on /run", func() error { return unix.Mount("run", "/newroot/run", "tmpfs", 0, "mode=0755") }},
		{"mount the build steps' changes", func() error {
			if err := mkdirs("/newroot" + proto.ChangesDir); err != nil {
				return err
			}
			return unix.Mount("changes", "/newroot"+proto.ChangesDir, "9p", unix.MS_RDONLY, p9+",cache=none")
		}},
		{"unmount /init's /sys and /proc", func() error {
			return errors.Join(unix.Unmount("/sys", 0), unix.Unmount("/proc", 0))
		}},
		{"move /dev", func() error { return unix.Mount("/dev", "/newroot/dev", "", unix.MS_MOVE, "") }},
		{"move into the root", func() error { return unix.Chdir("/newroot") }},
		{"move into the root", func() error { return unix.Mount(".", "/", "", unix.MS_MOVE, "") }},
		// chroot holds for every thread: Go's share one fs_struct (CLONE_FS).
		{"move into the root", func() error { return unix.Chroot(".") }},
		{"move into the root", func() error { return unix.Chdir("/") }},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			return fmt.Errorf("%s: %w", s.what, err)
		}
	}
	return nil
}

func mkdirs(dirs ...string) error {
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	return nil
}
