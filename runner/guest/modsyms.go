package guest

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// maxKoWalk bounds the files looked at for a module's .ko in the work
// directory: a case's files and its builds are a few dozen; a tree of
// thousands is not worth the walk over 9p, /proc/kallsyms is.
const maxKoWalk = 2000

// errNoKo is why a module's symbols did not come from its .ko: no file
// under the work directory has the build ID the kernel keeps for it.
var errNoKo = errors.New("no .ko with the module's build ID in the work directory")

// koSymbols returns the symbols of module name as /proc/kallsyms gives
// them once its init is done, without making the kernel write all of
// /proc/kallsyms (0.15 s under TCG, most of an insmod step): the symbols
// of its .ko, which a reader built in the work directory, at the addresses
// the kernel loaded its sections at (/sys/module/NAME/sections). The file
// is the one whose build ID is the module's (/sys/module/NAME/notes), so
// a rebuilt or renamed .ko is never taken for it.
func koSymbols(name, work string) ([]symbol, error) {
	note, err := os.ReadFile("/sys/module/" + name + "/notes/.note.gnu.build-id")
	if err != nil {
		return nil, err
	}
	id := buildID(note)
	if id == nil || work == "" {
		return nil, errNoKo
	}
	f, err := findKo(work, id)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return elfSymbols(f, func(section string) (uint64, bool) { return sectionAddr(name, section) })
}

// elfSymbols returns the symbols of a module's ELF file that the kernel
// keeps once it is loaded, at their addresses: their sections' (loaded
// says where a section was loaded, false if it was not) plus their values,
// sorted by address.
func elfSymbols(f *elf.File, loaded func(section string) (uint64, bool)) ([]symbol, error) {
	elfSyms, err := f.Symbols()
	if err != nil {
		return nil, err
	}
	type where struct {
		addr   uint64
		loaded bool
	}
	bases := map[elf.SectionIndex]where{}
	var syms []symbol
	for _, s := range elfSyms {
		if !kallsymsSymbol(f, s) {
			continue
		}
		base, ok := bases[s.Section]
		if !ok {
			base.addr, base.loaded = loaded(f.Sections[s.Section].Name)
			bases[s.Section] = base
		}
		if base.loaded {
			syms = append(syms, symbol{base.addr + s.Value, s.Name})
		}
	}
	sort.Slice(syms, func(i, j int) bool { return syms[i].addr < syms[j].addr })
	return syms, nil
}

// kallsymsSymbol reports whether the kernel keeps s among a loaded
// module's symbols (kernel/module/kallsyms.c, is_core_symbol): named,
// defined in a section it loads, not in init code it frees after init.
func kallsymsSymbol(f *elf.File, s elf.Symbol) bool {
	if s.Name == "" || s.Section == elf.SHN_UNDEF || int(s.Section) >= len(f.Sections) {
		return false
	}
	switch elf.ST_TYPE(s.Info) {
	case elf.STT_SECTION, elf.STT_FILE:
		return false
	}
	sec := f.Sections[s.Section]
	return sec.Flags&elf.SHF_ALLOC != 0 && !strings.HasPrefix(sec.Name, ".init")
}

// sectionAddr reads where the kernel loaded a module's section.
func sectionAddr(module, section string) (uint64, bool) {
	b, err := os.ReadFile("/sys/module/" + module + "/sections/" + section)
	if err != nil {
		return 0, false
	}
	addr, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(string(b)), "0x"), 16, 64)
	return addr, err == nil && addr != 0
}

// findKo returns the .ko under work whose build ID is id.
func findKo(work string, id []byte) (*elf.File, error) {
	var found *elf.File
	seen := 0
	err := filepath.WalkDir(work, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a directory it cannot read holds no .ko it can use
		}
		if seen++; seen > maxKoWalk {
			return fs.SkipAll
		}
		if d.IsDir() || !strings.HasSuffix(path, ".ko") {
			return nil
		}
		f, err := elf.Open(path)
		if err != nil {
			return nil
		}
		if sec := f.Section(".note.gnu.build-id"); sec != nil {
			if note, err := sec.Data(); err == nil && bytes.Equal(buildID(note), id) {
				found = f
				return fs.SkipAll
			}
		}
		f.Close()
		return nil
	})
	if found == nil && err == nil {
		err = errNoKo
	}
	return found, err
}

// ntGNUBuildID is the type of a GNU build ID note (elf.h's NT_GNU_BUILD_ID).
const ntGNUBuildID = 3

// buildID returns the build ID of an ELF note section's first note, if it
// is the GNU build ID: namesz, descsz and type (3), then "GNU\0" and the ID.
func buildID(note []byte) []byte {
	if len(note) < 16 {
		return nil
	}
	namesz := binary.LittleEndian.Uint32(note[0:])
	descsz := binary.LittleEndian.Uint32(note[4:])
	if binary.LittleEndian.Uint32(note[8:]) != ntGNUBuildID || namesz != 4 || string(note[12:16]) != "GNU\x00" {
		return nil
	}
	if uint64(len(note)) < 16+uint64(descsz) || descsz == 0 {
		return nil
	}
	return note[16 : 16+descsz]
}
