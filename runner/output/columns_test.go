package output

import (
	"slices"
	"testing"
)

func TestLsColumns(t *testing.T) {
	for line, want := range map[string]bool{
		"ls":                      true,
		"ls -a /dev":              true,
		"sudo ls -AF --sort=time": true,
		"ls /dev/etx*":            true,
		"ls -l":                   false,
		"ls -1":                   false,
		"ls -la":                  false,
		"ls -x":                   false,
		"ls -i":                   false,
		"ls -R":                   false,
		"ls --format=long":        false,
		"ls | grep ko":            false,
		"ls > files":              false,
		"ls; ls":                  false,
		"lsmod":                   false,
		"sudo -u x ls":            false,
		"":                        false,
	} {
		if got := LsColumns(line); got != want {
			t.Errorf("LsColumns(%q) = %v, want %v", line, got, want)
		}
	}
}

func TestColumns(t *testing.T) {
	names := []string{"Makefile", "modules.order", "Module.symvers", "procbuf.c", "procbuf.ko", "procbuf.mod", "procbuf.mod.c", "procbuf.mod.o", "procbuf.o"}
	for _, tt := range []struct {
		rows  int
		names []string
		want  []string
	}{
		// ls at 80 columns: two rows, the last column short.
		{2, names, []string{"Makefile Module.symvers procbuf.ko procbuf.mod.c procbuf.o", "modules.order procbuf.c procbuf.mod procbuf.mod.o"}},
		// At 60: three rows.
		{3, names, []string{"Makefile procbuf.c procbuf.mod.c", "modules.order procbuf.ko procbuf.mod.o", "Module.symvers procbuf.mod procbuf.o"}},
		{1, names[:3], []string{"Makefile modules.order Module.symvers"}},
		{9, names, names},
		{12, names, names},
		{0, names, names},
		{1, []string{"a b", "c"}, []string{"a b", "c"}}, // a name with a space: left as it is
		{1, []string{"dir:", "", "a"}, []string{"dir:", "", "a"}},
	} {
		if got := Columns(tt.names, tt.rows); !slices.Equal(got, tt.want) {
			t.Errorf("Columns(%q, %d) = %q, want %q", tt.names, tt.rows, got, tt.want)
		}
	}
}
