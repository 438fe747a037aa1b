package subjectkey_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lethe-erasure/lethe/internal/subjectkey"
)

func TestHashIsKeyedAndNormalised(t *testing.T) {
	a, err := subjectkey.New([]byte(strings.Repeat("a", 32)))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := subjectkey.New([]byte(strings.Repeat("b", 32)))
	if a.Hash("alice") == b.Hash("alice") {
		t.Fatal("two secrets name a subject alike")
	}
	if a.Hash("alice") == a.Hash("Alice") {
		t.Fatal("letter case must be kept")
	}
	// "é" composed (U+00E9) and decomposed (e + U+0301) are one subject.
	if a.Hash("ren\u00e9") != a.Hash("rene\u0301") {
		t.Fatal("NFC forms of one id name different subjects")
	}
	if h := a.Hash("alice"); len(h) != 64 || strings.Contains(h, "alice") {
		t.Fatalf("hash %q", h)
	}
}

func TestShortSecretRefused(t *testing.T) {
	if _, err := subjectkey.New(make([]byte, 16)); err == nil {
		t.Fatal("a 16-byte secret was accepted")
	}
	if _, err := subjectkey.Parse("not base64!"); err == nil {
		t.Fatal("a secret that is not base64 was accepted")
	}
}

func TestLoadOrCreateKeepsTheFirstKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "subject.key")
	k1, err := subjectkey.LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file %v %v", fi, err)
	}
	k2, err := subjectkey.LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	if k1.Hash("alice") != k2.Hash("alice") {
		t.Fatal("reloading the key file changed the key")
	}
	if err := os.WriteFile(path, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := subjectkey.LoadOrCreate(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("a broken key file: %v", err)
	}
}
