package target

import (
	"bytes"
	"strings"
)

// A machine made from the host's own root (the system kernel's, in the
// guest and for builds) is the host as a reader would have it, not the
// host kmodcheck runs on: what no tutorial needs and what holds other
// users' files, the runner's work or keys is hidden. Release roots hold
// none of it; hiding there costs a few mounts.

// HiddenDirs are directories a machine shows empty (a tmpfs each): users'
// homes, the runner's and other services' files, backups (Debian keeps
// copies of the shadow files in /var/backups), mail and spools, and
// private keys.
var HiddenDirs = []string{
	"/root", "/home", "/srv", "/mnt", "/media", "/opt",
	"/var/backups", "/var/mail", "/var/spool", "/var/lib/private",
	"/var/cache/private", "/var/log/private",
	"/etc/ssh", "/etc/ssl/private",
}

// HiddenFiles are files a machine shows empty: old passwords, debconf's
// saved passwords, failed logins.
var HiddenFiles = []string{"/etc/security/opasswd", "/var/cache/debconf/passwords.dat", "/var/log/btmp"}

// ShadowFiles hold password hashes; a machine keeps them, for the tools
// that read them (su, sudo, passwd), with every hash replaced by ScrubShadow.
var ShadowFiles = []string{"/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-"}

// ScrubShadow returns a shadow or gshadow file with each entry's password
// field (the second) replaced by "*", which no password matches; the
// names, ages and group members stay.
func ScrubShadow(data []byte) []byte {
	var out bytes.Buffer
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if line == "" {
			continue
		}
		body, nl := strings.CutSuffix(line, "\n")
		if fields := strings.SplitN(body, ":", 3); len(fields) == 3 {
			body = fields[0] + ":*:" + fields[2]
		} else if len(fields) == 2 {
			body = fields[0] + ":*"
		}
		out.WriteString(body)
		if nl {
			out.WriteByte('\n')
		}
	}
	return out.Bytes()
}

// readerEnvNames are what of kmodcheck's environment a build step keeps:
// a reader's login has these, and no CI runner's tokens.
var readerEnvNames = map[string]bool{
	"HOME": true, "USER": true, "LOGNAME": true, "SHELL": true, "TERM": true,
	"LANG": true, "LANGUAGE": true, "TZ": true, "PATH": true,
}

// ReaderEnv returns what of env a reader's own shell would have: the
// login's variables and the locale's (LANG, LC_*), so that the compiler
// speaks as it would, and nothing else (tokens and secrets a CI runner
// keeps in its environment).
func ReaderEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if readerEnvNames[name] || strings.HasPrefix(name, "LC_") {
			out = append(out, kv)
		}
	}
	return out
}
