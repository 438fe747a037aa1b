package shred_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lethe-erasure/lethe/internal/shred"
)

func TestSealUnsealShred(t *testing.T) {
	dir := t.TempDir()
	k, err := shred.Open(dir, shred.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := k.Seal("er_1", []byte("alice@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	if !shred.Sealed(sealed) || strings.Contains(sealed, "alice") {
		t.Fatalf("sealed value %q", sealed)
	}
	if _, err := k.Unseal("er_2", sealed); err == nil {
		t.Fatal("a value sealed for er_1 opened as er_2's")
	}
	// A second handle on the directory (a restarted process) reads it.
	k2, _ := shred.Open(dir, shred.Options{})
	got, err := k2.Unseal("er_1", sealed)
	if err != nil || string(got) != "alice@example.com" {
		t.Fatalf("unseal = %q, %v", got, err)
	}
	if err := k.Shred("er_1"); err != nil {
		t.Fatal(err)
	}
	k3, _ := shred.Open(dir, shred.Options{})
	for _, h := range []*shred.Keys{k, k3} {
		if _, err := h.Unseal("er_1", sealed); err == nil {
			t.Fatal("a shredded record opened")
		}
	}
	if _, err := k.Unseal("er_1", sealed); !errors.Is(err, shred.ErrShredded) {
		t.Fatalf("after shred: %v, want ErrShredded", err)
	}
	if err := k.Shred("er_1"); err != nil {
		t.Fatalf("shredding twice: %v", err)
	}
	if n, _ := k.Count(); n != 0 {
		t.Fatalf("%d keys left", n)
	}
}

func TestSweepKeepsOnlyClaimedKeys(t *testing.T) {
	dir := t.TempDir()
	k, _ := shred.Open(dir, shred.Options{NoSync: true})
	for _, id := range []string{"a", "b", "c"} {
		if _, err := k.Seal(id, []byte("secret-"+id)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, ".new-123"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	n, err := k.Sweep(func(file string) bool { return file == shred.Name("b") })
	if err != nil || n != 2 {
		t.Fatalf("sweep = %d, %v; want 2 shredded", n, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != shred.Name("b") {
		t.Fatalf("left %v", entries)
	}
	for _, e := range entries {
		raw, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		if bytes.Contains(raw, []byte("secret")) {
			t.Fatal("a key file holds the secret")
		}
	}
}
