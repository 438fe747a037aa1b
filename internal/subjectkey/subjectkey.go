// Package subjectkey is the one way Lethe names a subject without holding
// its id: HMAC-SHA256 under a per-region secret over the normalised subject
// id. The name keys the subject's open-request lock and the suppression list
// that backup restores and pipelines query; unlike a plain hash, nobody
// without the region's secret can test a guessed id against it.
//
// On AWS the secret is a Secrets Manager secret the regional stack creates
// (encrypted with the region's CMK); under `lethe local` a key file in the
// data directory.
package subjectkey

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/text/unicode/norm"

	"github.com/lethe-erasure/lethe/internal/keyfile"
)

// Size is the secret's length in bytes.
const Size = 32

// Key hashes subject ids under one region's secret.
type Key struct {
	secret []byte
}

// New returns the key over secret, which must be at least Size bytes.
func New(secret []byte) (*Key, error) {
	if len(secret) < Size {
		return nil, fmt.Errorf("subject key: the secret has %d bytes, at least %d are needed", len(secret), Size)
	}
	return &Key{secret: append([]byte(nil), secret...)}, nil
}

// Parse reads the secret as stored: base64 (standard or URL alphabet,
// padded or not) of at least Size bytes, surrounding white space ignored.
// Secrets Manager stores what the stack generated in this form.
func Parse(stored string) (*Key, error) {
	s := strings.TrimSpace(stored)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return New(b)
		}
	}
	return nil, errors.New("subject key: the stored secret is not base64")
}

// Normalise is the form of a subject id that is hashed: Unicode NFC, so
// that one id typed on two keyboards names one subject. Letter case is kept:
// subject ids are case-sensitive in most subsystems.
func Normalise(subject string) string { return norm.NFC.String(subject) }

// Hash is the subject's name under the key: hex HMAC-SHA256 over the
// normalised id.
func (k *Key) Hash(subject string) string {
	m := hmac.New(sha256.New, k.secret)
	m.Write([]byte(Normalise(subject)))
	return hex.EncodeToString(m.Sum(nil))
}

// LoadOrCreate reads the key file at path (base64, mode 0600), creating it
// with a fresh random secret when there is none: `lethe local`'s stand-in
// for the stack's secret. The file is written whole or not at all.
func LoadOrCreate(path string) (*Key, error) {
	raw, err := os.ReadFile(path)
	if err == nil {
		k, err := Parse(string(raw))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return k, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("subject key: %w", err)
	}
	secret := make([]byte, Size)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("subject key: %w", err)
	}
	if err := keyfile.CreateOnce(path, []byte(base64.StdEncoding.EncodeToString(secret)+"\n")); err != nil {
		return nil, fmt.Errorf("subject key: %w", err)
	}
	return New(secret)
}
