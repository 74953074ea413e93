package guest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// journaldPath is where Debian and Ubuntu keep systemd-journald.
const journaldPath = "/lib/systemd/systemd-journald"

// journalSeqnum is where journald keeps the sequence number of the next
// kernel record it expects (journald-kmsg.c): it has read every record
// before it.
const journalSeqnum = "/run/systemd/journal/kernel-seqnum"

// journalWait bounds how long a step waits for journald to start and to
// read the kernel log.
const journalWait = 10 * time.Second

// runsJournalctl matches a step line that runs journalctl.
var runsJournalctl = regexp.MustCompile(`(^|[^[:alnum:]_-])journalctl([^[:alnum:]_-]|$)`)

// A journal is the guest's systemd-journald, the host's binary, started
// before the first step that runs journalctl (no case pays for it
// otherwise): a reader's `journalctl -k`, `-f` and `--since` then read the
// kernel log from it, as on their machine. It keeps the journal in
// /run/log/journal (volatile), and reads the whole kernel log when it
// starts, as at boot.
type journal struct {
	cmd *exec.Cmd
	err error // why it could not start: every later step is told
}

// before readies the journal for a step's line: it starts journald if the
// line runs journalctl, and waits until journald has read the kernel
// record last, the last one the agent read. It returns a note for the
// step's stderr when journald cannot run, else "".
func (j *journal) before(line string, last uint64) string {
	if !runsJournalctl.MatchString(line) {
		return ""
	}
	if j.cmd == nil && j.err == nil {
		j.err = j.start()
	}
	if j.err == nil {
		j.err = waitJournal(last)
	}
	if j.err != nil {
		return fmt.Sprintf("kmodcheck: no journal for journalctl: %v\n", j.err)
	}
	return ""
}

func (j *journal) start() error {
	if _, err := os.Stat(journaldPath); err != nil {
		return err
	}
	// journald needs the cgroup hierarchy, which nothing else here mounts.
	if err := unix.Mount("cgroup2", "/sys/fs/cgroup", "cgroup2", 0, ""); err != nil && !errors.Is(err, unix.EBUSY) {
		return fmt.Errorf("mount cgroup2 for journald: %w", err)
	}
	if err := writeJournaldConf(); err != nil {
		return err
	}
	if err := makeJournalDir(); err != nil {
		return err
	}
	cmd := exec.Command(journaldPath)
	// Started at a step rather than at boot: its notes of starting would
	// follow the case's kernel lines in journalctl -k, and its memory
	// pressure watch (systemd 254 on) would start the kernel's psimon
	// thread, which the case would be told it left running.
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_LEVEL=notice", "MEMORY_PRESSURE_WATCH=/dev/null")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // no terminal: a daemon
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", journaldPath, err)
	}
	j.cmd = cmd
	go cmd.Wait() // reap it if it dies; the next wait then times out with why
	return nil
}

// journaldConf is a drop-in that keeps the kernel's auditing off. Started
// here, without systemd's sockets, journald opens the audit socket itself,
// and trixie's (Audit=yes by default from systemd 257) then turns auditing
// on: each sudo would add PAM's audit records to the kernel log. On a
// reader's machine journald gets its sockets from systemd, and Debian does
// not enable systemd-journald-audit.socket: auditing stays off ("Collecting
// audit messages is disabled"). Audit=no is already the default of
// bullseye's and bookworm's journald.
const journaldConf = "/run/systemd/journald.conf.d/kmodcheck.conf"

func writeJournaldConf() error {
	if err := os.MkdirAll(filepath.Dir(journaldConf), 0o755); err != nil {
		return fmt.Errorf("journald drop-in: %w", err)
	}
	if err := os.WriteFile(journaldConf, []byte("# kmodcheck: auditing as on a reader's machine, off\n[Journal]\nAudit=no\n"), 0o644); err != nil {
		return fmt.Errorf("journald drop-in: %w", err)
	}
	return nil
}

// waitJournal waits until journald has read kernel record last.
func waitJournal(last uint64) error {
	deadline := time.Now().Add(journalWait)
	for {
		b, err := os.ReadFile(journalSeqnum)
		if err == nil && len(b) >= 8 && binary.LittleEndian.Uint64(b) > last {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("journald read no kernel record past %d within %v (%s: %v)", last, journalWait, journalSeqnum, err)
		}
		time.Sleep(20 * time.Millisecond) // journald says nothing when it has read
	}
}

// journalDir is where journald keeps a volatile journal.
const journalDir = "/run/log/journal"

// makeJournalDir makes the journal's directory as systemd-tmpfiles does
// at a reader's boot (tmpfiles.d/systemd.conf): set-group-ID and of group
// systemd-journal, whose members (the reader) then read what journald
// writes there with journalctl, without sudo.
func makeJournalDir() error {
	g, err := user.LookupGroup("systemd-journal")
	if err != nil {
		return nil // journald's own directory: root's alone, as on a machine without the group
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return fmt.Errorf("group systemd-journal: %w", err)
	}
	if err := os.MkdirAll(journalDir, 0o755); err != nil {
		return fmt.Errorf("journal directory: %w", err)
	}
	if err := errors.Join(os.Chown(journalDir, 0, gid), os.Chmod(journalDir, 0o755|os.ModeSetgid)); err != nil {
		return fmt.Errorf("journal directory: %w", err)
	}
	return nil
}
