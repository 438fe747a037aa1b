package embedded

import (
	"context"
	"encoding/binary"
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
		if err := appendAudit(tx, r.region.name, recs); err != nil {
			return err
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

// appendAudit appends recs to the region's hash chain inside tx, after
// its head, as the DynamoDB adapter does (here bbolt's single writer
// orders the appends).
func appendAudit(tx *bolt.Tx, region string, recs []audit.Record) error {
	if len(recs) == 0 {
		return nil
	}
	top := tx.Bucket(regionKey(region))
	b, err := top.CreateBucketIfNotExists(bAudit)
	if err != nil {
		return err
	}
	hb, err := top.CreateBucketIfNotExists(bAuditHead)
	if err != nil {
		return err
	}
	var head audit.Head
	if v := hb.Get(auditHeadKey); v != nil {
		if err := json.Unmarshal(v, &head); err != nil {
			return fmt.Errorf("decode the audit chain's head: %w", err)
		}
	}
	chained, next := audit.Chain(head, recs)
	for _, a := range chained {
		key := auditSeqKey(a.Seq)
		if b.Get(key) != nil {
			return fmt.Errorf("audit entry %d exists already", a.Seq)
		}
		if err := putJSON(b, string(key), dynamo.NewAuditItem(a)); err != nil {
			return err
		}
	}
	return putJSON(hb, string(auditHeadKey), next)
}

// AppendAudit appends records that belong to no request change (a tenant
// registration, a quarantine release, a suppression check) to the chain.
func (r *Requests) AppendAudit(ctx context.Context, recs ...audit.Record) error {
	if err := dynamo.CheckRegionAudit(recs); err != nil {
		return err
	}
	err := r.db.commit.do(func(tx *bolt.Tx) error {
		if _, err := writeBucket(tx, r.region.name, bRequests); err != nil {
			return err
		}
		return appendAudit(tx, r.region.name, recs)
	})
	if err != nil {
		return unavailable("append audit records", err)
	}
	return nil
}

// Audit returns up to limit audit records of one request (requestID set),
// oldest first, or of the region (requestID ""), newest first, in the
// DynamoDB adapter's order.
func (r *Requests) Audit(ctx context.Context, requestID string, limit int) ([]audit.Record, error) {
	if limit <= 0 || limit > audit.MaxList {
		limit = audit.MaxList
	}
	return r.auditEntries(func(c *bolt.Cursor, add func(v []byte) (bool, error)) error {
		if requestID == "" {
			for k, v := c.Last(); k != nil; k, v = c.Prev() {
				if more, err := add(v); err != nil || !more {
					return err
				}
			}
			return nil
		}
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var it dynamo.AuditItem
			if err := json.Unmarshal(v, &it); err != nil {
				return fmt.Errorf("decode audit record: %w", err)
			}
			if it.RequestID != requestID {
				continue
			}
			if more, err := add(v); err != nil || !more {
				return err
			}
		}
		return nil
	}, limit)
}

// AuditFrom returns up to limit entries of the chain from entry from on,
// in chain order.
func (r *Requests) AuditFrom(ctx context.Context, from int64, limit int) ([]audit.Record, error) {
	if limit <= 0 || limit > audit.MaxList {
		limit = audit.MaxList
	}
	return r.auditEntries(func(c *bolt.Cursor, add func(v []byte) (bool, error)) error {
		for k, v := c.Seek(auditSeqKey(max(from, 1))); k != nil; k, v = c.Next() {
			if more, err := add(v); err != nil || !more {
				return err
			}
		}
		return nil
	}, limit)
}

// auditEntries collects up to limit entries the walk hands to add.
func (r *Requests) auditEntries(walk func(c *bolt.Cursor, add func(v []byte) (bool, error)) error, limit int) ([]audit.Record, error) {
	var out []audit.Record
	err := r.db.bolt.View(func(tx *bolt.Tx) error {
		b := readBucket(tx, r.region.name, bAudit)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		return walk(c, func(v []byte) (bool, error) {
			var it dynamo.AuditItem
			if err := json.Unmarshal(v, &it); err != nil {
				return false, fmt.Errorf("decode audit record: %w", err)
			}
			rec, err := it.Record()
			if err != nil {
				return false, err
			}
			out = append(out, rec)
			return len(out) < limit, nil
		})
	})
	if err != nil {
		return nil, unavailable("list audit records", err)
	}
	return out, nil
}

var auditHeadKey = []byte("head")

func auditSeqKey(seq int64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, uint64(seq))
	return k
}
