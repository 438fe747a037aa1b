package edgedynamo

import (
	"testing"
	"time"

	"github.com/lethe-erasure/lethe/internal/store/edgestoretest"
)

// TestContract runs the edge tables' contract (internal/store/edgestoretest),
// which the embedded store runs too, against DynamoDB Local on fresh
// tables; it skips like the other tests here when LETHE_DYNAMODB_ENDPOINT
// is unset.
func TestContract(t *testing.T) {
	edgestoretest.Run(t, func(t *testing.T, now func() time.Time) edgestoretest.Stores {
		s, _ := newStore(t)
		s = s.WithClock(now)
		return edgestoretest.Stores{Directory: s, Deliveries: s, Quarantine: s, Globals: s}
	})
}
