package guest

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/kmsg"
	"github.com/kmodcheck/kmodcheck/runner/local"
)

// rsyslogdPath is where Debian and Ubuntu keep rsyslogd.
const rsyslogdPath = "/usr/sbin/rsyslogd"

// syslogWait bounds how long a step waits for rsyslogd to start and to
// write the kernel log.
const syslogWait = 20 * time.Second

// readsSyslog matches a step line that reads what rsyslog writes: a path
// under /var/log, or one of its files by name (after `cd /var/log`).
var readsSyslog = regexp.MustCompile(`/var/log\b|(^|[^[:alnum:]_.-])(kern\.log|syslog|messages)([^[:alnum:]_-]|$)`)

// rsyslogConfs are the root's rsyslog configuration files: they say which
// of the files below it writes.
var rsyslogConfs = []string{"/etc/rsyslog.conf", "/etc/rsyslog.d/*.conf"}

// A syslogFile is a file rsyslog writes the kernel's records to, and which
// of them it gets (the selector of Debian's and Ubuntu's configurations).
type syslogFile struct {
	path  string
	wants func(kmsg.Record) bool
}

var syslogFiles = []syslogFile{
	{"/var/log/kern.log", func(kmsg.Record) bool { return true }}, // kern.*
	{"/var/log/syslog", func(kmsg.Record) bool { return true }},   // *.*;auth,authpriv.none
	// Debian 11 and older: *.=info;*.=notice;*.=warn;...
	{"/var/log/messages", func(r kmsg.Record) bool { return r.Level >= 4 && r.Level <= 6 }},
}

// A syslog is the guest root's rsyslogd, started before the first step
// that reads its files (no case pays for it otherwise), with the root's
// own configuration: imklog reads the kernel log from /proc/kmsg, from its
// beginning, as at boot, and it writes /var/log/kern.log, syslog and (on
// Debian 11 and older) messages as on the reader's machine. A root without
// rsyslogd (Debian 12 and later, the host's) has none of those files, as
// the reader's machine has not: nothing is started and nothing said.
type syslog struct {
	cmd     *exec.Cmd
	absent  bool         // no rsyslogd in this root
	err     error        // why it could not start: every later step is told
	stderr  *tailBuffer  // what rsyslogd said, for a note
	files   []syslogFile // the files the root's configuration writes
	timeStr bool         // the kernel prefixes /proc/kmsg lines with [time]
	timeout time.Duration
}

// before readies the system log for a step's line: it starts rsyslogd if
// the line reads its files, and waits until rsyslogd has written the
// kernel records the agent has read (last finds the last one read that
// its argument accepts). It returns a note for the step's stderr when rsyslogd fails,
// else "".
func (s *syslog) before(line string, last func(func(kmsg.Record) bool) (kmsg.Record, bool)) string {
	if s.absent || !readsSyslog.MatchString(line) {
		return ""
	}
	if s.cmd == nil && s.err == nil {
		if _, err := os.Stat(rsyslogdPath); err != nil {
			s.absent = true
			return ""
		}
		s.err = s.start()
	}
	if s.err == nil {
		s.err = s.wait(last)
	}
	if s.err != nil {
		return fmt.Sprintf("kmodcheck: no system log in /var/log: %v\n", s.err)
	}
	return ""
}

func (s *syslog) start() error {
	s.files = configuredFiles(rsyslogConfs)
	b, _ := os.ReadFile("/sys/module/printk/parameters/time")
	s.timeStr = strings.TrimSpace(string(b)) != "N"
	s.stderr = &tailBuffer{max: 4096}
	s.timeout = syslogWait
	// -n: in the foreground, the agent's child, with the root's
	// /etc/rsyslog.conf and its default pid file, /run/rsyslogd.pid.
	cmd := exec.Command(rsyslogdPath, "-n")
	cmd.Stdout, cmd.Stderr = s.stderr, s.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // no terminal: a daemon
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", rsyslogdPath, err)
	}
	s.cmd = cmd
	go cmd.Wait() // reap it if it dies; the next wait then times out with why
	return nil
}

// configuredFiles are the files of syslogFiles that the root's rsyslog
// configuration names on a line that is not a comment.
func configuredFiles(confs []string) []syslogFile {
	var text strings.Builder
	for _, pat := range confs {
		names, _ := filepath.Glob(pat)
		for _, n := range names {
			b, _ := os.ReadFile(n)
			for _, l := range strings.Split(string(b), "\n") {
				if !strings.HasPrefix(strings.TrimSpace(l), "#") {
					text.WriteString(l + "\n")
				}
			}
		}
	}
	var files []syslogFile
	for _, f := range syslogFiles {
		if regexp.MustCompile(regexp.QuoteMeta(f.path) + `\b`).MatchString(text.String()) {
			files = append(files, f)
		}
	}
	return files
}

// syslogLine is the end of the line rsyslog writes for a kernel record:
// imklog keeps the kernel's [time] prefix of /proc/kmsg (kern.log reads
// "Dec  5 12:00:01 host kernel: [   12.345678] text"), so the time and the
// text together name one record.
func syslogLine(r kmsg.Record, withTime bool) string {
	if !withTime {
		return " " + r.Text + "\n"
	}
	return string(local.AppendDmesgLine(nil, r))
}

// syslogRecord says whether rsyslog writes r as /dev/kmsg gave it: a kernel
// record (imklog drops user space's writes to /dev/kmsg) whose text has
// nothing /dev/kmsg escapes (\xNN for a control byte, a newline, a
// backslash), which rsyslog writes otherwise (#011).
func syslogRecord(r kmsg.Record) bool {
	return r.Facility == 0 && r.Text != "" && !strings.Contains(r.Text, `\`)
}

// wait waits until every file in s.files holds the last record read that
// it gets, polling (rsyslog tells no one when it has written).
func (s *syslog) wait(last func(func(kmsg.Record) bool) (kmsg.Record, bool)) error {
	type want struct{ path, line string }
	var wants []want
	for _, f := range s.files {
		if r, ok := last(func(r kmsg.Record) bool { return syslogRecord(r) && f.wants(r) }); ok {
			wants = append(wants, want{f.path, syslogLine(r, s.timeStr)})
		}
	}
	deadline := time.Now().Add(s.timeout)
	for _, w := range wants {
		for !tailHas(w.path, w.line) {
			if time.Now().After(deadline) {
				why := "running"
				if s.cmd != nil && s.cmd.ProcessState != nil {
					why = s.cmd.ProcessState.String()
				}
				return fmt.Errorf("%s: %s did not write %q within %v (rsyslogd %s; it said %q)",
					rsyslogdPath, w.path, strings.TrimSpace(w.line), s.timeout, why, s.stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

// tailLen is how much of a log file's end tailHas reads: the record waited
// for is the last kernel one, a few lines from the end.
const tailLen = 1 << 20

// tailHas says whether the end of the file at path holds line.
func tailHas(path, line string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > tailLen {
		f.Seek(-tailLen, io.SeekEnd)
	}
	b, _ := io.ReadAll(io.LimitReader(f, tailLen))
	return bytes.Contains(b, []byte(line))
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	if t == nil {
		return ""
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.b))
}
