// Package shred keeps a secret at rest so that it can be destroyed for good:
// each record's secret is sealed (AES-256-GCM) under a key of its own, kept
// in a file of its own, and shredding the record overwrites and removes that
// file. `lethe local` stores subject ids and quarantined bodies this way,
// because its bbolt files keep freed pages as they were: once the key is
// gone, what a freed page still holds can never be read again, and no
// compaction of a whole store is needed on every close.
package shred

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// prefix marks a sealed value, so that a store can tell it from a value
// written in clear before sealing existed.
const prefix = "sealed:v1:"

const keySize = 32

// ErrShredded means the record's key is gone: its secret cannot be read.
var ErrShredded = errors.New("the record's key is shredded")

// Keys is a directory of per-record keys. It is safe for concurrent use.
type Keys struct {
	dir    string
	noSync bool

	mu    sync.Mutex
	cache map[string][]byte
}

// Options tune Keys.
type Options struct {
	// NoSync skips fsync of key files and the directory (tests and
	// benchmarks, as bbolt's NoSync).
	NoSync bool
}

// Open opens (creating it, mode 0700) the key directory.
func Open(dir string, opts Options) (*Keys, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("key directory: %w", err)
	}
	return &Keys{dir: dir, noSync: opts.NoSync, cache: map[string][]byte{}}, nil
}

// Dir is the key directory.
func (k *Keys) Dir() string { return k.dir }

// name is the file of a record's key: the record id may itself be personal
// (a demo subsystem keys by subject), so files are named by its SHA-256.
func name(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// Name is the file name Keys gives the record's key, for sweeps that
// compare the directory with the records a store still holds.
func Name(id string) string { return name(id) }

// Sealed reports whether v is a sealed value.
func Sealed(v string) bool { return strings.HasPrefix(v, prefix) }

// Seal encrypts plaintext under the record's key, creating the key (durably,
// before Seal returns) when the record has none. The record id is bound to
// the ciphertext: a value moved to another record does not open.
func (k *Keys) Seal(id string, plaintext []byte) (string, error) {
	key, err := k.key(id, true)
	if err != nil {
		return "", err
	}
	aead, err := newAEAD(key)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}
	out := aead.Seal(nonce, nonce, plaintext, []byte(id))
	return prefix + base64.RawStdEncoding.EncodeToString(out), nil
}

// Unseal decrypts a value Seal made for the record; ErrShredded when the
// record's key is gone.
func (k *Keys) Unseal(id, sealed string) ([]byte, error) {
	if !Sealed(sealed) {
		return nil, errors.New("unseal: not a sealed value")
	}
	raw, err := base64.RawStdEncoding.DecodeString(sealed[len(prefix):])
	if err != nil {
		return nil, fmt.Errorf("unseal: %w", err)
	}
	key, err := k.key(id, false)
	if err != nil {
		return nil, err
	}
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	if len(raw) < aead.NonceSize() {
		return nil, errors.New("unseal: value too short")
	}
	out, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(id))
	if err != nil {
		return nil, fmt.Errorf("unseal: %w", err)
	}
	return out, nil
}

// Shred destroys the record's key: the file is overwritten with zeros,
// synced and removed. Shredding a record without a key does nothing.
func (k *Keys) Shred(id string) error {
	return k.shredName(name(id), id)
}

func (k *Keys) shredName(file, id string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if id != "" {
		delete(k.cache, id)
	} else {
		for cached := range k.cache {
			if name(cached) == file {
				delete(k.cache, cached)
			}
		}
	}
	path := filepath.Join(k.dir, file)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("shred: %w", err)
	}
	_, werr := f.Write(make([]byte, keySize))
	if werr == nil && !k.noSync {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("shred: %w", werr)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("shred: %w", err)
	}
	return k.syncDir()
}

// Sweep shreds every key whose record keep does not claim: after a crash
// between a store's commit and a shred, or between a key's creation and a
// commit that never came. keep receives key file names (Name of an id).
func (k *Keys) Sweep(keep func(file string) bool) (int, error) {
	entries, err := os.ReadDir(k.dir)
	if err != nil {
		return 0, fmt.Errorf("sweep keys: %w", err)
	}
	n := 0
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			if strings.HasPrefix(e.Name(), ".") {
				_ = os.Remove(filepath.Join(k.dir, e.Name())) // a key never renamed into place
			}
			continue
		}
		if keep(e.Name()) {
			continue
		}
		if err := k.shredName(e.Name(), ""); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Count is how many keys the directory holds.
func (k *Keys) Count() (int, error) {
	entries, err := os.ReadDir(k.dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		if !e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			n++
		}
	}
	return n, nil
}

func (k *Keys) key(id string, create bool) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if key, ok := k.cache[id]; ok {
		return key, nil
	}
	path := filepath.Join(k.dir, name(id))
	key, err := os.ReadFile(path)
	switch {
	case err == nil && len(key) == keySize:
		k.cache[id] = key
		return key, nil
	case err == nil:
		return nil, fmt.Errorf("key of a record: %d bytes, want %d", len(key), keySize)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("key of a record: %w", err)
	case !create:
		return nil, ErrShredded
	}
	key = make([]byte, keySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("new key: %w", err)
	}
	if err := k.write(path, key); err != nil {
		return nil, fmt.Errorf("new key: %w", err)
	}
	k.cache[id] = key
	return key, nil
}

func (k *Keys) write(path string, key []byte) error {
	tmp, err := os.CreateTemp(k.dir, ".new-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(key)
	if err == nil && !k.noSync {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return k.syncDir()
}

func (k *Keys) syncDir() error {
	if k.noSync {
		return nil
	}
	d, err := os.Open(k.dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
