package guest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/kmsg"
)

func TestReadsSyslog(t *testing.T) {
	for line, want := range map[string]bool{
		"sudo tail /var/log/kern.log":           true,
		"grep mymod /var/log/syslog":            true,
		"tail -n 3 /var/log/messages":           true,
		"ls /var/log":                           true,
		"sudo grep -h mymod /var/log/*":         true,
		"tail kern.log":                         true,
		"grep mymod syslog messages":            true,
		"sudo insmod ./mymod.ko":                false,
		"dmesg | tail -3":                       false,
		"apt-get install rsyslog":               false,
		"journalctl -k":                         false,
		"grep mymod /var/logs.txt":              false,
		"echo my_messages > /tmp/x; cat kern.l": false,
	} {
		if got := readsSyslog.MatchString(line); got != want {
			t.Errorf("readsSyslog(%q) = %v, want %v", line, got, want)
		}
	}
}

// TestSyslogLine: the end of the line rsyslog's imklog writes for a
// record, as bullseye's kern.log shows it.
func TestSyslogLine(t *testing.T) {
	r := kmsg.Record{Time: 12*time.Second + 345678*time.Microsecond, Text: "shello: loaded"}
	const written = "Dec  5 12:26:24 kmodcheck kernel: [   12.345678] shello: loaded\n"
	if l := syslogLine(r, true); !strings.HasSuffix(written, l) || l != "[   12.345678] shello: loaded\n" {
		t.Errorf("syslogLine = %q, not the end of %q", l, written)
	}
	if l := syslogLine(r, false); !strings.HasSuffix("Dec  5 12:26:24 kmodcheck kernel: shello: loaded\n", l) {
		t.Errorf("syslogLine without time = %q", l)
	}
	if syslogRecord(kmsg.Record{Facility: 1, Text: "kmodcheck: step 3 done"}) {
		t.Error("a user space record counts: imklog drops it")
	}
	if syslogRecord(kmsg.Record{Text: `tab\x09here`}) {
		t.Error("an escaped record counts: rsyslog writes it otherwise")
	}
}

func TestConfiguredFiles(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "rsyslog.conf")
	os.WriteFile(conf, []byte("kern.*\t-/var/log/kern.log\n*.*;auth,authpriv.none\t-/var/log/syslog\n#*.=info\t-/var/log/messages\n"), 0o644)
	var got []string
	for _, f := range configuredFiles([]string{conf, filepath.Join(dir, "none.d/*.conf")}) {
		got = append(got, f.path)
	}
	if strings.Join(got, " ") != "/var/log/kern.log /var/log/syslog" {
		t.Errorf("configured files: %q", got)
	}
}

// TestSyslogWait: a step waits until each file holds the last record it
// gets, and no longer; a file that never gets it fails the wait, naming it.
func TestSyslogWait(t *testing.T) {
	dir := t.TempDir()
	kern, msgs := filepath.Join(dir, "kern.log"), filepath.Join(dir, "messages")
	recs := []kmsg.Record{
		{Level: 6, Time: time.Second, Text: "shello: loaded"},
		{Level: 3, Time: 2 * time.Second, Text: "shello: failed"},
		{Level: 6, Facility: 1, Time: 3 * time.Second, Text: "kmodcheck: step 2 done"},
	}
	last := func(ok func(kmsg.Record) bool) (kmsg.Record, bool) {
		for i := len(recs) - 1; i >= 0; i-- {
			if ok(recs[i]) {
				return recs[i], true
			}
		}
		return kmsg.Record{}, false
	}
	s := &syslog{timeStr: true, timeout: 5 * time.Second, files: []syslogFile{
		{kern, syslogFiles[0].wants}, {msgs, syslogFiles[2].wants},
	}}
	go func() {
		time.Sleep(100 * time.Millisecond)
		os.WriteFile(msgs, []byte("Dec  5 12:26:24 kmodcheck kernel: [    1.000000] shello: loaded\n"), 0o640)
		time.Sleep(100 * time.Millisecond)
		os.WriteFile(kern, []byte("Dec  5 12:26:24 kmodcheck kernel: [    1.000000] shello: loaded\nDec  5 12:26:24 kmodcheck kernel: [    2.000000] shello: failed\n"), 0o640)
	}()
	start := time.Now()
	if err := s.wait(last); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("wait returned after %v, before kern.log had the record", d)
	}
	recs = append(recs, kmsg.Record{Level: 6, Time: 4 * time.Second, Text: "shello: unloaded"})
	s.timeout = 200 * time.Millisecond
	err := s.wait(last)
	if err == nil || !strings.Contains(err.Error(), kern) || !strings.Contains(err.Error(), "shello: unloaded") {
		t.Fatalf("wait for a record never written: %v", err)
	}
}

// TestSyslogAbsent: a root without rsyslogd has no files and no note.
func TestSyslogAbsent(t *testing.T) {
	if _, err := os.Stat(rsyslogdPath); err == nil {
		t.Skip(rsyslogdPath + " is here")
	}
	var s syslog
	none := func(func(kmsg.Record) bool) (kmsg.Record, bool) { return kmsg.Record{}, false }
	if note := s.before("sudo tail /var/log/kern.log", none); note != "" || !s.absent || s.cmd != nil {
		t.Fatalf("without rsyslogd: note %q, absent %v", note, s.absent)
	}
}
