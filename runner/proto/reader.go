package proto

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// A Reader is the user a case's steps run as in the guest, as at a
// reader's terminal: not root, the owner of the work directory, with sudo
// (without a password, as one typed a while ago) and the groups of
// Ubuntu's first user that the machine has (adm, sudo). Its name and IDs
// are the host's choice (ReaderOf): the host owns the work directory and
// runs the builds as this user, and the guest makes the user before the
// first step.
type Reader struct {
	Name     string
	UID, GID int
	// Lang is the reader's locale (LANG): ReaderLocale where the
	// machine has it, else FallbackLocale.
	Lang string
}

// ReaderLocale is the locale of a reader's terminal: the one Ubuntu's
// installer gives an English desktop, whose collation sorts ls's
// Makefile among the k's, as tutorials show it (the C locale puts
// capitals first).
const ReaderLocale = "en_US.UTF-8"

// FallbackLocale is the reader's locale on a machine without
// ReaderLocale: every glibc since 2.35 has it, and Debian's older ones.
const FallbackLocale = "C.UTF-8"

// ReaderName is the reader's name where the machine has no user of the
// reader's ID.
const ReaderName = "reader"

// firstUserID is where Debian and Ubuntu start a machine's users' IDs.
const firstUserID = 1000

// Home is the reader's home directory.
func (r Reader) Home() string { return "/home/" + r.Name }

// String is the reader as the case line carries it: NAME:UID:GID:LANG.
func (r Reader) String() string { return fmt.Sprintf("%s:%d:%d:%s", r.Name, r.UID, r.GID, r.Lang) }

// ParseReader parses Reader.String's form.
func ParseReader(s string) (Reader, error) {
	f := strings.Split(s, ":")
	if len(f) != 4 || f[0] == "" || f[3] == "" {
		return Reader{}, fmt.Errorf("reader %q: want NAME:UID:GID:LANG", s)
	}
	uid, err1 := strconv.Atoi(f[1])
	gid, err2 := strconv.Atoi(f[2])
	if err1 != nil || err2 != nil || uid <= 0 || gid <= 0 {
		return Reader{}, fmt.Errorf("reader %q: IDs must be positive numbers", s)
	}
	return Reader{Name: f[0], UID: uid, GID: gid, Lang: f[3]}, nil
}

// ReaderOf chooses the reader of a machine, given its /etc/passwd and
// /etc/group. With uid non-zero (kmodcheck runs as that user, whose files
// the work directory's are), the reader has that user's IDs, and the
// machine's name for them if it has one. As root, the reader is the
// machine's user ReaderName, or where it has none a new one, with the
// lowest ID from 1000 that is free as a user's and as a group's, as
// adduser gives a machine's first user.
func ReaderOf(passwd, group []byte, uid, gid int) Reader {
	users, groups := entriesOf(passwd), entriesOf(group)
	if uid != 0 {
		name := ReaderName
		if e, ok := users.byID(uid); ok {
			name = e.name
		}
		return Reader{Name: name, UID: uid, GID: gid}
	}
	for _, e := range users {
		if e.name == ReaderName && e.id != 0 && e.gid != 0 {
			return Reader{Name: e.name, UID: e.id, GID: e.gid}
		}
	}
	id := firstUserID
	for {
		_, user := users.byID(id)
		_, grp := groups.byID(id)
		if !user && !grp {
			return Reader{Name: ReaderName, UID: id, GID: id}
		}
		id++
	}
}

// HasID says whether an /etc/passwd or /etc/group has an entry of ID id.
func HasID(file []byte, id int) bool {
	_, ok := entriesOf(file).byID(id)
	return ok
}

// An entry is a line of /etc/passwd or /etc/group: its name, its ID
// and, for a user, its group's.
type entry struct {
	name    string
	id, gid int
}

type entries []entry

func (es entries) byID(id int) (entry, bool) {
	for _, e := range es {
		if e.id == id {
			return e, true
		}
	}
	return entry{}, false
}

// entriesOf parses an /etc/passwd or /etc/group, skipping what does not
// parse.
func entriesOf(file []byte) entries {
	var es entries
	sc := bufio.NewScanner(bytes.NewReader(file))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) < 3 {
			continue
		}
		e := entry{name: f[0], id: -1, gid: -1}
		if id, err := strconv.Atoi(f[2]); err == nil {
			e.id = id
		}
		if len(f) > 3 {
			if gid, err := strconv.Atoi(f[3]); err == nil {
				e.gid = gid
			}
		}
		es = append(es, e)
	}
	return es
}
