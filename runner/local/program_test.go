package local

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// TestWriteProgramNotBusy: programs written and run at once on several
// goroutines, as parallel tests and cases do, all run; none is refused as
// a text file busy because another goroutine's fork held it open.
func TestWriteProgramNotBusy(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 40 {
				name := filepath.Join(dir, fmt.Sprintf("prog-%d-%d", g, i))
				if err := WriteProgram(name, []byte("#!/bin/sh\nexit 0\n")); err != nil {
					errs <- err
					return
				}
				if err := exec.Command(name).Run(); err != nil {
					errs <- fmt.Errorf("run %s: %w", name, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
