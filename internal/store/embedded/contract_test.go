package embedded_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/store/embedded"
	"github.com/lethe-erasure/lethe/internal/store/storetest"
)

// requestStore is internal/api's (unexported) interface, copied here so
// that a change to it that the embedded store does not follow fails a
// test.
type requestStore interface {
	Create(ctx context.Context, req erasure.Request, idempotencyKey string) (stored erasure.Request, created bool, err error)
	Get(ctx context.Context, id string) (erasure.Request, error)
	List(ctx context.Context, limit int) ([]erasure.Request, error)
	RegisterTenant(ctx context.Context, tenant string) (registeredAt time.Time, created bool, err error)
	TenantRegistration(ctx context.Context, tenant string) (registeredAt time.Time, ok bool, err error)
}

// subjectLookup is internal/subsystem's (unexported) interface.
type subjectLookup interface {
	SubjectOf(ctx context.Context, requestID string) (string, error)
}

var (
	_ requestStore    = (*embedded.Requests)(nil)
	_ subjectLookup   = (*embedded.Requests)(nil)
	_ storetest.Store = (*embedded.Requests)(nil)
)

// openDB opens a fresh data file in the test's directory.
func openDB(t testing.TB, opts embedded.Options) (*embedded.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lethe.db")
	db, err := embedded.Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db, path
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) storetest.Store {
		db, _ := openDB(t, embedded.Options{Now: now})
		return db.Requests("eu")
	})
}
