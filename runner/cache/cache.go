// Package cache keeps the files kmodcheck derives from its inputs (kernels
// extracted from their images, initramfs archives, probe results, fetched
// packages) under one directory, named by what they were made from, so that
// the work is done once per machine and never shared half-written.
package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// EnvDir overrides the cache directory.
const EnvDir = "KMODCHECK_CACHE"

// A Dir is a cache directory.
type Dir string

// Default returns $KMODCHECK_CACHE, or kmodcheck under the user cache directory.
func Default() (Dir, error) {
	if d := os.Getenv(EnvDir); d != "" {
		return Dir(d), nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("cache directory: %w (set %s)", err, EnvDir)
	}
	return Dir(filepath.Join(d, "kmodcheck")), nil
}

// Key hashes what a derived file is made from into a short file name part.
func Key(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s\n", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))[:24]
}

// Path returns the path of name within kind, e.g. d.Path("initramfs", key+".cpio").
func (d Dir) Path(kind, name string) string { return filepath.Join(string(d), kind, name) }

// StatKey describes a file by path, size and modification time: enough to
// notice that a package upgrade replaced it, without reading it.
func StatKey(file string) (string, error) {
	st, err := os.Stat(file)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s %d %d", file, st.Size(), st.ModTime().UnixNano()), nil
}

// WriteFile writes data to file through a temporary file and a rename, so
// that a concurrent reader sees all of it or none.
func WriteFile(file string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".tmp-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}

// Lock takes an exclusive lock on file (created if needed), for work that
// must be done once however many processes want it at the same time. It
// waits for another holder at most until ctx ends, and returns the release.
func Lock(ctx context.Context, file string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(file, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", file, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock %s (held by another kmodcheck doing the same work): %w", file, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
