package embedded

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/lethe-erasure/lethe/internal/erasure"
)

// Suppressed answers, for each subject hash, the requests that erased the
// subject in this region, as the DynamoDB adapter does.
func (r *Requests) Suppressed(ctx context.Context, hashes []string) (map[string][]erasure.Erased, error) {
	out := map[string][]erasure.Erased{}
	err := r.db.bolt.View(func(tx *bolt.Tx) error {
		b := readBucket(tx, r.region.name, bErased)
		if b == nil {
			return nil
		}
		for _, h := range hashes {
			v := b.Get([]byte(h))
			if v == nil {
				continue
			}
			var list []erasure.Erased
			if err := json.Unmarshal(v, &list); err != nil {
				return fmt.Errorf("decode suppression record: %w", err)
			}
			out[h] = list
		}
		return nil
	})
	if err != nil {
		return nil, unavailable("check suppressions", err)
	}
	return out, nil
}

// HeldRequests returns the failed requests that still hold their subject
// and whose deadline passed before the cutoff, soonest deadline first,
// without subject ids, as the DynamoDB adapter's GSI "open" does.
func (r *Requests) HeldRequests(ctx context.Context, deadlineBefore time.Time) ([]erasure.Request, error) {
	return r.soonestFirst("list failed requests holding their subject", func(req erasure.Request) bool {
		return req.Status == erasure.StatusFailed && req.ForgottenAt == nil && req.Deadline.Before(deadlineBefore)
	})
}
