package guest

import (
	"cmp"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// buildKo makes a relocatable object with a GNU build ID as kbuild links
// a module (ld -r --build-id=sha1), from C source, in dir.
func buildKo(t *testing.T, dir, name, src string) string {
	t.Helper()
	c, o, ko := filepath.Join(dir, name+".c"), filepath.Join(dir, name+".o"), filepath.Join(dir, name+".ko")
	if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range [][]string{{"gcc", "-O2", "-c", "-o", o, c}, {"ld", "-r", "--build-id=sha1", "-o", ko, o}} {
		if out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", cmd, err, out)
		}
	}
	return ko
}

const leakSrc = `
static int counter;
int __attribute__((noinline)) leak_it(int n) { return n + counter++; }
int def_work_fn(int n) { return leak_it(n) * 2; }
int __attribute__((section(".init.text"))) leak_init(void) { return 1; }
`

// TestKoSymbols finds a module's .ko in a work directory by its build ID
// (not its name), and gives its symbols at the addresses its sections
// were loaded at, less init code the kernel frees and names no more.
func TestKoSymbols(t *testing.T) {
	work := t.TempDir()
	other := buildKo(t, work, "other", "int other_fn(void) { return 2; }\n")
	if err := os.Mkdir(filepath.Join(work, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	ko := buildKo(t, filepath.Join(work, "sub"), "leak", leakSrc)
	id := func(path string) []byte {
		f, err := elf.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		note, err := f.Section(".note.gnu.build-id").Data()
		if err != nil {
			t.Fatal(err)
		}
		return buildID(note)
	}
	if len(id(ko)) != 20 || slices.Equal(id(ko), id(other)) {
		t.Fatalf("build IDs %x and %x: want two SHA-1s", id(ko), id(other))
	}

	f, err := findKo(work, id(ko))
	if err != nil {
		t.Fatalf("findKo: %v", err)
	}
	defer f.Close()
	if _, err := findKo(work, []byte("no such build id")); !errors.Is(err, errNoKo) {
		t.Errorf("findKo of an unknown build ID: %v, want errNoKo", err)
	}

	loadedAt := map[string]uint64{".text": 0xffffffffc0001000, ".bss": 0xffffffffc0005000, ".init.text": 0xffffffffc0009000}
	syms, err := elfSymbols(f, func(section string) (uint64, bool) {
		addr, ok := loadedAt[section]
		return addr, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	// Each symbol's value in its section, as the ELF file has it.
	all, _ := f.Symbols()
	value := map[string]uint64{}
	for _, s := range all {
		value[s.Name] = s.Value
	}
	want := []symbol{
		{0xffffffffc0001000 + value["leak_it"], "leak_it"},
		{0xffffffffc0001000 + value["def_work_fn"], "def_work_fn"},
		{0xffffffffc0005000 + value["counter"], "counter"},
	}
	slices.SortFunc(want, func(a, b symbol) int { return cmp.Compare(a.addr, b.addr) })
	if !slices.Equal(syms, want) {
		t.Errorf("elfSymbols:\n got %x\nwant %x", syms, want)
	}
}

// TestBuildID reads a GNU build ID note and nothing else.
func TestBuildID(t *testing.T) {
	note := []byte{4, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 'G', 'N', 'U', 0, 0xab, 0xcd, 0xef}
	if got := buildID(note); !slices.Equal(got, []byte{0xab, 0xcd, 0xef}) {
		t.Errorf("buildID = %x", got)
	}
	for _, bad := range [][]byte{
		nil,
		note[:17], // shorter than its descsz
		append([]byte{4, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0}, note[12:]...), // another type
		append([]byte{4, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 'X', 'Y', 'Z', 0}, note[16:]...),
	} {
		if got := buildID(bad); got != nil {
			t.Errorf("buildID(%x) = %x, want nil", bad, got)
		}
	}
}
