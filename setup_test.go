package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmodcheck/kmodcheck/runner/local"
)

// TestSetupDistributions runs make setup's script against the package
// lists of Debian 12 and Ubuntu 24.04 on a host that has nothing: it asks
// apt-get only for packages the distribution has, and on Ubuntu, which
// has no Debian kernel package, for no kernel (kernels then come from the
// cache).
func TestSetupDistributions(t *testing.T) {
	for _, tt := range []struct {
		list       string
		wantKernel bool
	}{
		{"debian-12.txt", true},
		{"ubuntu-24.04.txt", false},
	} {
		t.Run(tt.list, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata/setup", tt.list))
			if err != nil {
				t.Fatal(err)
			}
			have := map[string]bool{}
			for _, l := range strings.Split(string(data), "\n") {
				if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
					have[l] = true
				}
			}
			bin := t.TempDir()
			// apt-cache answers from the list: exit 0 for a package it has.
			fake := "#!/bin/sh\n[ \"$1 $2\" = 'show --no-all-versions' ] || exit 2\ngrep -qx \"$3\" " + filepath.Join(bin, "list") + "\n"
			local.WriteProgram(filepath.Join(bin, "apt-cache"), []byte(fake))
			os.WriteFile(filepath.Join(bin, "list"), data, 0o644)
			cmd := exec.Command("sh", "scripts/setup.sh")
			cmd.Env = append(os.Environ(), "SETUP_DRY_RUN=1", "SETUP_ROOT="+t.TempDir(), "SETUP_PATH="+t.TempDir(),
				"PATH="+bin+":"+os.Getenv("PATH"))
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			var asked []string
			for _, l := range strings.Split(string(out), "\n") {
				if rest, ok := strings.CutPrefix(l, "apt-get install -y -q --no-install-recommends "); ok {
					asked = strings.Fields(rest)
				}
			}
			if len(asked) == 0 {
				t.Fatalf("no apt-get install line: %s", out)
			}
			for _, p := range asked {
				if !have[p] {
					t.Errorf("asks for %s, which %s does not have", p, tt.list)
				}
			}
			gotKernel := strings.Contains(" "+strings.Join(asked, " ")+" ", " linux-image-amd64 ")
			if gotKernel != tt.wantKernel {
				t.Errorf("asks for linux-image-amd64: %v, want %v\n%s", gotKernel, tt.wantKernel, out)
			}
			if !strings.Contains(string(out), "\nlocaledef -i en_US -c -f UTF-8 en_US.UTF-8\n") {
				t.Errorf("does not make the reader's locale on a host without it: %s", out)
			}
			for _, p := range []string{"qemu-system-x86", "mmdebstrap", "busybox-static", "debian-archive-keyring", "locales"} {
				if !strings.Contains(" "+strings.Join(asked, " ")+" ", " "+p+" ") {
					t.Errorf("does not ask for %s on a host without it: %s", p, out)
				}
			}
		})
	}
}
