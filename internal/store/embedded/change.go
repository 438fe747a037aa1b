package embedded

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/lethe-erasure/lethe/internal/audit"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/store/dynamo"
)

// errFnRefused carries an error of a Change function out of the
// transaction, so that it is returned as is rather than as an outage.
type errFnRefused struct{ err error }

func (e errFnRefused) Error() string { return e.err.Error() }

// Change reads a request, lets fn change it, and writes the result with the
// audit records fn returns, in one transaction, as the DynamoDB adapter's
// Change does (there by a condition on rev, here by bbolt's single writer).
// fn returning erasure.ErrUnchanged writes nothing; any other error of fn
// is returned as is, with nothing written.
func (r *Requests) Change(ctx context.Context, id string, fn func(*erasure.Request) ([]audit.Record, error)) (erasure.Request, error) {
	var out erasure.Request
	forgot := false
	err := r.db.commit.do(func(tx *bolt.Tx) error {
		forgot = false
		reqs := readBucket(tx, r.region.name, bRequests)
		rec, ok, err := getRecord(reqs, id)
		if err != nil {
			return err
		}
		if !ok {
			return erasure.ErrNotFound
		}
		cur, err := r.db.request(rec, true)
		if err != nil {
			return err
		}
		next, recs, err := dynamo.Apply(cur, fn)
		if errors.Is(err, erasure.ErrUnchanged) {
			out = cur
			return nil
		}
		if err != nil {
			out = cur
			return errFnRefused{err}
		}
		if err := r.put(tx, cur, next); err != nil {
			return err
		}
		forgot = dynamo.Forgot(cur, next)
		if len(recs) > 0 {
			b, err := tx.Bucket(regionKey(r.region.name)).CreateBucketIfNotExists(bAudit)
			if err != nil {
				return err
			}
			for _, a := range recs {
				key := dynamo.AuditKey(a)
				if b.Get([]byte(key)) != nil {
					return errFnRefused{fmt.Errorf("change request %s: audit record %s exists already", id, a.ID)}
				}
				if err := putJSON(b, key, dynamo.NewAuditItem(a)); err != nil {
					return err
				}
			}
		}
		out = dynamo.Normalise(next)
		return nil
	})
	var refused errFnRefused
	switch {
	case err == nil:
		if forgot {
			r.shred(id)
		}
		return out, nil
	case errors.As(err, &refused):
		return out, refused.err
	case errors.Is(err, erasure.ErrNotFound):
		return erasure.Request{}, erasure.ErrNotFound
	default:
		return erasure.Request{}, unavailable("change request "+id, err)
	}
}

// Audit returns up to limit audit records, oldest first, of one request
// (requestID set) or of the region, newest request first (requestID ""),
// in the DynamoDB adapter's order.
func (r *Requests) Audit(ctx context.Context, requestID string, limit int) ([]audit.Record, error) {
	if limit <= 0 || limit > audit.MaxList {
		limit = audit.MaxList
	}
	var items []dynamo.AuditItem
	err := r.db.bolt.View(func(tx *bolt.Tx) error {
		b := readBucket(tx, r.region.name, bAudit)
		if b == nil {
			return nil
		}
		add := func(k, v []byte) error {
			var it dynamo.AuditItem
			if err := json.Unmarshal(v, &it); err != nil {
				return fmt.Errorf("decode audit record %s: %w", k, err)
			}
			items = append(items, it)
			return nil
		}
		c := b.Cursor()
		if requestID == "" {
			for k, v := c.Last(); k != nil && len(items) < limit; k, v = c.Prev() {
				if err := add(k, v); err != nil {
					return err
				}
			}
			return nil
		}
		prefix := []byte(dynamo.AuditKey(audit.Record{RequestID: requestID}))
		for k, v := c.Seek(prefix); k != nil && len(items) < limit && len(k) >= len(prefix) && string(k[:len(prefix)]) == string(prefix); k, v = c.Next() {
			if err := add(k, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, unavailable("list audit records", err)
	}
	out := make([]audit.Record, 0, len(items))
	for _, it := range items {
		rec, err := it.Record()
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}
