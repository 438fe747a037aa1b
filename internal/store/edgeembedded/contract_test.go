package edgeembedded

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/lethe-erasure/lethe/internal/store/edgestoretest"
)

// openTemp opens a fresh store in the test's temporary directory.
func openTemp(t *testing.T, now func() time.Time) *DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "edge.db"), Options{NoSync: true, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func stores(db *DB) edgestoretest.Stores {
	return edgestoretest.Stores{Directory: db.Directory(), Deliveries: db.Deliveries(), Quarantine: db.Quarantine(), Globals: db.Globals()}
}

// TestContract runs the edge tables' contract, which the DynamoDB adapter
// runs too.
func TestContract(t *testing.T) {
	edgestoretest.Run(t, func(t *testing.T, now func() time.Time) edgestoretest.Stores {
		return stores(openTemp(t, now))
	})
}
