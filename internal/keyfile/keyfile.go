// Package keyfile writes the key files of lethe local's data directory (a
// region's subject key, its signing key): once, whole, readable by the
// owner only.
package keyfile

import (
	"errors"
	"os"
	"path/filepath"
)

// CreateOnce writes data to path (mode 0600) unless a file is there
// already: it is written to a temporary file, synced, and linked into
// place, so that a reader never sees half a key and a concurrent creator's
// file is kept.
func CreateOnce(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	err = tmp.Chmod(0o600)
	if err == nil {
		_, err = tmp.Write(data)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return nil
}
