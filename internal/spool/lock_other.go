//go:build !unix

package spool

import (
	"fmt"
	"os"
	"path/filepath"
)

// lockDir holds a lock file open; without flock, two processes sharing a
// directory are not detected.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the spool's lock file: %w", err)
	}
	return f, nil
}

func unlockDir(f *os.File) { f.Close() }
