package embedded

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/lethe-erasure/lethe/internal/audit"
	"github.com/lethe-erasure/lethe/internal/store/storetest"
)

// TestAuditChainTampering: an entry altered or deleted in the file is named
// by verification.
func TestAuditChainTampering(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "lethe.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	r := db.Requests("eu")
	ctx := context.Background()
	for range 3 {
		rec, _ := audit.New("", storetest.T0, "local:ops", audit.ActionSuppressionCheck, nil)
		if err := r.AppendAudit(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := storetest.VerifyChain(ctx, r); err != nil || n != 3 {
		t.Fatalf("chain %d, %v", n, err)
	}
	tamper := func(fn func(b *bolt.Bucket) error) {
		t.Helper()
		if err := db.bolt.Update(func(tx *bolt.Tx) error { return fn(tx.Bucket(regionKey("eu")).Bucket(bAudit)) }); err != nil {
			t.Fatal(err)
		}
	}
	var b *audit.Broken
	tamper(func(b *bolt.Bucket) error {
		v := b.Get(auditSeqKey(2))
		return b.Put(auditSeqKey(2), []byte(string(v[:len(v)-1])+`,"detail":{"checked":"forged"}}`))
	})
	if _, err := storetest.VerifyChain(ctx, r); !errors.As(err, &b) || b.Seq != 2 {
		t.Fatalf("altered entry: %v", err)
	}
	tamper(func(b *bolt.Bucket) error { return b.Delete(auditSeqKey(2)) })
	if _, err := storetest.VerifyChain(ctx, r); !errors.As(err, &b) || b.Seq != 2 {
		t.Fatalf("deleted entry: %v", err)
	}
}
