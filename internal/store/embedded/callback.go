package embedded

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/store/dynamo"
)

// PutCallback records a callback token's hash, as the DynamoDB adapter
// does.
func (r *Requests) PutCallback(ctx context.Context, hash, requestID, subsystem string, expires time.Time) error {
	err := r.db.commit.do(func(tx *bolt.Tx) error {
		if _, err := writeBucket(tx, r.region.name, bRequests); err != nil {
			return err
		}
		b, err := tx.Bucket(regionKey(r.region.name)).CreateBucketIfNotExists(bCallbacks) // files older than callbacks lack it
		if err != nil {
			return err
		}
		if b.Get([]byte(hash)) != nil {
			return nil
		}
		return putJSON(b, hash, dynamo.CallbackItem{RequestID: requestID, Subsystem: subsystem, ExpiresAt: expires.Unix()})
	})
	if err != nil {
		return unavailable("record a callback token", err)
	}
	return nil
}

// CallbackTarget returns what the token of this hash answers for, as the
// DynamoDB adapter does.
func (r *Requests) CallbackTarget(ctx context.Context, hash string) (requestID, subsystem string, err error) {
	var it dynamo.CallbackItem
	found := false
	err = r.db.bolt.View(func(tx *bolt.Tx) error {
		b := readBucket(tx, r.region.name, bCallbacks)
		if b == nil {
			return nil
		}
		v := b.Get([]byte(hash))
		if v == nil {
			return nil
		}
		found = true
		return json.Unmarshal(v, &it)
	})
	if err != nil {
		return "", "", unavailable("read a callback token", fmt.Errorf("%w", err))
	}
	if !found || it.ExpiresAt <= r.db.now().Unix() {
		return "", "", erasure.ErrNotFound
	}
	return it.RequestID, it.Subsystem, nil
}
