package kernel

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeKernel describes a root laid out as Debian's kernel packages unpack,
// with the release each part claims to be.
type fakeKernel struct {
	release string // the name everything is filed under
	image   string // the release the bzImage's version string says; "" skips the image
	modules string // the vermagic of the module; "" skips the modules
	headers string // UTS_RELEASE of the headers; "" skips the headers
	noDep   bool   // leave out modules.dep
	common  bool   // leave out the -common headers
	kbuild  bool   // leave out linux-kbuild
}

// makeFakeRoot writes k under root, with absolute symlinks as the packages
// have them (/lib/modules/REL/build -> /usr/src/linux-headers-REL).
func makeFakeRoot(t testing.TB, root string, k fakeKernel) {
	t.Helper()
	rel := k.release
	ver := strings.TrimSuffix(rel, "-"+Flavour(rel))
	write := func(name string, data []byte, mode os.FileMode) {
		t.Helper()
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, mode); err != nil {
			t.Fatal(err)
		}
	}
	link := func(name, target string) {
		t.Helper()
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	if root != "/" {
		write(metaFile, []byte(`{"suite":"bookworm-backports","needs":["gcc-12"]}`), 0o644)
	}
	if k.image != "" {
		write("boot/vmlinuz-"+rel, fakeBzImage(k.image+" (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC Debian"), 0o644)
	}
	mods := "lib/modules/" + rel + "/"
	if k.modules != "" {
		write(mods+"kernel/fs/9p/9p.ko", fakeModule("vermagic="+k.modules+" SMP preempt mod_unload modversions ", "name=9p"), 0o644)
		write(mods+"modules.order", []byte("kernel/fs/9p/9p.ko\n"), 0o644)
		if !k.noDep {
			write(mods+"modules.dep", []byte("kernel/fs/9p/9p.ko:\n"), 0o644)
		}
	}
	if k.headers != "" {
		hdr := "usr/src/linux-headers-" + rel + "/"
		link(mods+"build", "/usr/src/linux-headers-"+rel)
		write(hdr+"Makefile", []byte("include /usr/src/linux-headers-"+ver+"-common/Makefile\n"), 0o644)
		write(hdr+".kernelvariables", []byte("override ARCH = x86\noverride KERNELRELEASE = "+k.headers+"\n"), 0o644)
		write(hdr+"include/generated/utsrelease.h", []byte(`#define UTS_RELEASE "`+k.headers+"\"\n"), 0o644)
		link(hdr+"scripts", "../../lib/linux-kbuild-"+ver+"/scripts")
		if !k.common {
			write("usr/src/linux-headers-"+ver+"-common/Makefile", []byte("VERSION = 6\n"), 0o644)
		}
		if !k.kbuild {
			write("usr/lib/linux-kbuild-"+ver+"/scripts/basic/fixdep", []byte("#!/bin/sh\n"), 0o755)
		}
	}
}

// fakeBzImage is enough of a bzImage for ImageRelease: the boot header with
// its kernel_version pointer, and the version string.
func fakeBzImage(version string) []byte {
	img := make([]byte, 4096)
	img[0x1f1] = 3 // setup_sects
	copy(img[0x202:], "HdrS")
	binary.LittleEndian.PutUint16(img[0x206:], 0x020f)
	binary.LittleEndian.PutUint16(img[0x20e:], 0x0300) // the string at 0x200+0x300
	copy(img[0x500:], version+"\x00")
	return img
}

// fakeModule is a minimal ELF64 relocatable file with a .modinfo section
// holding the key=value strings.
func fakeModule(modinfo ...string) []byte {
	info := []byte(strings.Join(modinfo, "\x00") + "\x00")
	shstr := []byte("\x00.modinfo\x00.shstrtab\x00")
	const ehsize, shentsize = 64, 64
	infoOff := ehsize
	shstrOff := infoOff + len(info)
	shOff := (shstrOff + len(shstr) + 7) &^ 7
	var b bytes.Buffer
	le := binary.LittleEndian
	// ELF header
	b.Write([]byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0})
	b.Write(make([]byte, 8))
	binary.Write(&b, le, uint16(1))         // ET_REL
	binary.Write(&b, le, uint16(62))        // EM_X86_64
	binary.Write(&b, le, uint32(1))         // EV_CURRENT
	binary.Write(&b, le, uint64(0))         // entry
	binary.Write(&b, le, uint64(0))         // phoff
	binary.Write(&b, le, uint64(shOff))     // shoff
	binary.Write(&b, le, uint32(0))         // flags
	binary.Write(&b, le, uint16(ehsize))    // ehsize
	binary.Write(&b, le, uint16(0))         // phentsize
	binary.Write(&b, le, uint16(0))         // phnum
	binary.Write(&b, le, uint16(shentsize)) // shentsize
	binary.Write(&b, le, uint16(3))         // shnum
	binary.Write(&b, le, uint16(2))         // shstrndx
	b.Write(info)
	b.Write(shstr)
	b.Write(make([]byte, shOff-b.Len()))
	sh := func(name, typ uint32, off, size int) {
		binary.Write(&b, le, name)
		binary.Write(&b, le, typ)
		binary.Write(&b, le, uint64(0)) // flags
		binary.Write(&b, le, uint64(0)) // addr
		binary.Write(&b, le, uint64(off))
		binary.Write(&b, le, uint64(size))
		binary.Write(&b, le, uint32(0)) // link
		binary.Write(&b, le, uint32(0)) // info
		binary.Write(&b, le, uint64(1)) // addralign
		binary.Write(&b, le, uint64(0)) // entsize
	}
	sh(0, 0, 0, 0)
	sh(1, 1, infoOff, len(info))    // .modinfo, SHT_PROGBITS
	sh(10, 3, shstrOff, len(shstr)) // .shstrtab, SHT_STRTAB
	return b.Bytes()
}
