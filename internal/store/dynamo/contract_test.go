package dynamo

import (
	"testing"
	"time"

	"github.com/lethe-erasure/lethe/internal/store/storetest"
)

var _ storetest.Store = (*Store)(nil)

// TestContract runs the requests-store contract that the embedded store of
// `lethe local` runs too, here against DynamoDB Local (skipped without it,
// like the other table tests), so that the two cannot drift apart.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) storetest.Store {
		s, _, _ := newTable(t)
		s.now = now
		return s
	})
}
