package kernel

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"

	"github.com/kmodcheck/kmodcheck/runner/cache"
)

// Vmlinux returns the uncompressed ELF kernel inside k's bzImage, extracted
// once into the cache. QEMU boots it directly through its PVH entry point,
// which skips the real-mode setup and the in-guest decompression (about 3 s
// of a TCG boot). ok is false when the image has no PVH entry: boot the
// bzImage then.
func Vmlinux(ctx context.Context, k *Kernel, c cache.Dir) (file string, ok bool, err error) {
	key, err := cache.StatKey(k.Image)
	if err != nil {
		return "", false, err
	}
	out := c.Path("vmlinux", cache.Key(key)+"-"+k.Release)
	if _, err := os.Stat(out); err != nil {
		img, err := os.ReadFile(k.Image)
		if err != nil {
			return "", false, err
		}
		elfData, err := extract(ctx, img)
		if err != nil {
			return "", false, fmt.Errorf("extract vmlinux from %s: %w", k.Image, err)
		}
		if err := cache.WriteFile(out, elfData); err != nil {
			return "", false, err
		}
	}
	pvh, err := hasPVH(out)
	if err != nil {
		return "", false, fmt.Errorf("%s: %w", out, err)
	}
	return out, pvh, nil
}

// extract finds the compressed payload through the x86 boot protocol header
// (payload_offset and payload_length) and decompresses it.
func extract(ctx context.Context, img []byte) ([]byte, error) {
	if len(img) < 0x250 || string(img[0x202:0x206]) != "HdrS" {
		return nil, fmt.Errorf("not a bzImage")
	}
	setupSects := int(img[0x1f1])
	if setupSects == 0 {
		setupSects = 4
	}
	start := (setupSects + 1) * 512
	off := int(binary.LittleEndian.Uint32(img[0x248:]))
	n := int(binary.LittleEndian.Uint32(img[0x24c:]))
	if start+off+n > len(img) {
		return nil, fmt.Errorf("payload beyond the image")
	}
	payload := img[start+off : start+off+n]
	magics := []struct {
		magic []byte
		tool  string
	}{
		{[]byte{0xfd, '7', 'z', 'X', 'Z', 0}, "xz"},
		{[]byte{0x28, 0xb5, 0x2f, 0xfd}, "zstd"},
		{[]byte{0x1f, 0x8b}, "gzip"},
		{[]byte{0x02, 0x21, 0x4c, 0x18}, "lz4"},
		{[]byte{0x5d, 0x00, 0x00}, "lzma"},
	}
	for _, m := range magics {
		if bytes.HasPrefix(payload, m.magic) {
			return Decompress(ctx, m.tool, payload)
		}
	}
	return nil, fmt.Errorf("unknown payload compression % x", payload[:4])
}

// Decompress runs tool -dc over data. The system's tools are used because
// the kernel's xz streams carry a BCJ filter that Go's xz readers lack, and
// they ignore the padding the kernel leaves after a payload.
func Decompress(ctx context.Context, tool string, data []byte) ([]byte, error) {
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, tool, "-dc")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(data), &out, &errb
	err := cmd.Run()
	if out.Len() > 4 && bytes.HasPrefix(out.Bytes(), []byte("\x7fELF")) {
		return out.Bytes(), nil // trailing garbage makes some tools complain
	}
	if err != nil {
		return nil, fmt.Errorf("%s -dc: %w: %s", tool, err, bytes.TrimSpace(errb.Bytes()))
	}
	return out.Bytes(), nil
}

// ReadModule returns a module file's ELF contents, decompressing .ko.xz,
// .ko.zst and .ko.gz files.
func ReadModule(ctx context.Context, file string) ([]byte, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var tool string
	switch {
	case bytes.HasPrefix(data, []byte("\x7fELF")):
		return data, nil
	case bytes.HasSuffix([]byte(file), []byte(".xz")):
		tool = "xz"
	case bytes.HasSuffix([]byte(file), []byte(".zst")):
		tool = "zstd"
	case bytes.HasSuffix([]byte(file), []byte(".gz")):
		tool = "gzip"
	default:
		return nil, fmt.Errorf("module %s: neither ELF nor a known compression", file)
	}
	out, err := Decompress(ctx, tool, data)
	if err != nil {
		return nil, fmt.Errorf("module %s: %w", file, err)
	}
	return out, nil
}

// hasPVH reports whether the ELF kernel has a Xen PVH entry note
// (XEN_ELFNOTE_PHYS32_ENTRY), which QEMU needs to boot it directly.
func hasPVH(file string) (bool, error) {
	f, err := elf.Open(file)
	if err != nil {
		return false, err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE {
			continue
		}
		data := make([]byte, p.Filesz)
		if _, err := p.ReadAt(data, 0); err != nil {
			return false, err
		}
		for len(data) >= 12 {
			namesz := binary.LittleEndian.Uint32(data[0:])
			descsz := binary.LittleEndian.Uint32(data[4:])
			typ := binary.LittleEndian.Uint32(data[8:])
			name := data[12:]
			if int(namesz) <= len(name) && string(bytes.TrimRight(name[:namesz], "\x00")) == "Xen" && typ == 18 {
				return true, nil
			}
			adv := 12 + align4(namesz) + align4(descsz)
			if adv > len(data) {
				break
			}
			data = data[adv:]
		}
	}
	return false, nil
}

func align4(n uint32) int { return int((n + 3) &^ 3) }
