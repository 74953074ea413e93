package cache

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestLock: a second holder waits for the first, and gives up at its
// context's end.
func TestLock(t *testing.T) {
	file := filepath.Join(t.TempDir(), "x.lock")
	release, err := Lock(context.Background(), file)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := Lock(ctx, file); err == nil {
		t.Fatal("a second Lock got the lock while the first held it")
	}
	release()
	again, err := Lock(context.Background(), file)
	if err != nil {
		t.Fatalf("Lock after the release: %v", err)
	}
	again()
}
