package proto

import "testing"

func TestReaderOf(t *testing.T) {
	passwd := []byte("root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\nbob:x:1002:1002::/home/bob:/bin/bash\n")
	group := []byte("root:x:0:\nalice:x:1000:\ndocker:x:1001:\nbob:x:1002:\n")
	for _, tc := range []struct {
		name          string
		passwd, group []byte
		uid, gid      int
		want          Reader
	}{
		{"root, a fresh machine", []byte("root:x:0:0::/root:/bin/sh\n"), []byte("root:x:0:\n"), 0, 0, Reader{Name: "reader", UID: 1000, GID: 1000}},
		// 1001 is a group's, 1002 a user's: the first ID free as both.
		{"root, IDs taken", passwd, group, 0, 0, Reader{Name: "reader", UID: 1003, GID: 1003}},
		{"root, the machine's reader", append(passwd, "reader:x:1500:1600::/home/reader:/bin/bash\n"...), group, 0, 0, Reader{Name: "reader", UID: 1500, GID: 1600}},
		{"a user the machine has", passwd, group, 1000, 1000, Reader{Name: "alice", UID: 1000, GID: 1000}},
		{"a user it has not", passwd, group, 4242, 100, Reader{Name: "reader", UID: 4242, GID: 100}},
		{"lines that do not parse", []byte("x\n::\nroot:x:zero:0\n"), nil, 0, 0, Reader{Name: "reader", UID: 1000, GID: 1000}},
	} {
		if got := ReaderOf(tc.passwd, tc.group, tc.uid, tc.gid); got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestCaseLine(t *testing.T) {
	r := Reader{Name: "reader", UID: 1000, GID: 1000, Lang: ReaderLocale}
	line := CaseLine("/tmp/work", []byte{1, 2}, r)
	if line != "/tmp/work 0102 reader:1000:1000:en_US.UTF-8\n" {
		t.Fatalf("CaseLine = %q", line)
	}
	work, seed, got, err := ParseCaseLine(line[:len(line)-1])
	if err != nil || work != "/tmp/work" || seed != "0102" || got != r {
		t.Errorf("ParseCaseLine = %q %q %+v %v", work, seed, got, err)
	}
	for _, bad := range []string{"/tmp/work 0102", "/tmp/work 0102 reader:0:0:C", "/tmp/work 0102 :1:1:C", "/tmp/work 0102 reader:x:1:C", "/tmp/work 0102 reader:1:1", "/tmp/work 0102 reader:1:1:", "a b c d"} {
		if _, _, _, err := ParseCaseLine(bad); err == nil {
			t.Errorf("ParseCaseLine(%q): no error", bad)
		}
	}
}
