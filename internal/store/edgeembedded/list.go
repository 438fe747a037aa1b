package edgeembedded

import (
	"bytes"
	"context"
	"sort"

	bolt "go.etcd.io/bbolt"

	"github.com/lethe-erasure/lethe/internal/edge"
	"github.com/lethe-erasure/lethe/internal/store/edgedynamo"
)

// The operator listings, in the orders and with the cursors of the
// DynamoDB adapter's listing index (edgedynamo.Cursor): tenants by key and
// global erasures by id, highest first, walk their bucket, which bbolt
// keeps in key order; receipts, newest first by receivedAt, are read whole
// and sorted, which a laptop's month of deliveries allows (the file keeps
// no second order, and a layout change would cost a migration).

// maxListLimit bounds a page whatever the caller asks, as the adapter's.
const maxListLimit = 1000

// clampLimit is the adapter's rule for a page's size.
func clampLimit(limit int) int { return min(max(limit, 1), maxListLimit) }

// ListTenants implements edge.Directory.
func (d *Directory) ListTenants(ctx context.Context, limit int, cursor string) ([]edge.Tenant, string, error) {
	const op = "list tenants"
	limit = clampLimit(limit)
	var after []byte
	if cursor != "" {
		c, err := edgedynamo.DecodeCursor(cursor, edgedynamo.CursorTenants)
		if err != nil {
			return nil, "", err
		}
		after = []byte(c.PK)
	}
	out := []edge.Tenant{}
	next := ""
	err := d.db.read(ctx, op, func(tx *bolt.Tx) error {
		cur := tx.Bucket(bucketTenants).Cursor()
		k, v := cur.First()
		if after != nil {
			k, v = cur.Seek(after)
			if bytes.Equal(k, after) {
				k, v = cur.Next()
			}
		}
		for ; k != nil; k, v = cur.Next() {
			var it tenantItem
			if err := decode(op, bucketTenants, v, &it); err != nil {
				return err
			}
			if it.Kind != edgedynamo.KindTenant {
				continue
			}
			if len(out) == limit {
				next = edgedynamo.Cursor{List: edgedynamo.CursorTenants, PK: out[limit-1].Key}.Encode()
				return nil
			}
			out = append(out, it.tenant(string(k)))
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return out, next, nil
}

// ListGlobals implements edge.Globals: the bucket backwards from the
// cursor, Idempotency-Key bindings ("idem#...") skipped.
func (g *Globals) ListGlobals(ctx context.Context, limit int, cursor string) ([]edge.Global, string, error) {
	const op = "list global erasures"
	limit = clampLimit(limit)
	var before []byte
	if cursor != "" {
		c, err := edgedynamo.DecodeCursor(cursor, edgedynamo.CursorGlobals)
		if err != nil {
			return nil, "", err
		}
		before = []byte(c.PK)
	}
	out := []edge.Global{}
	next := ""
	err := g.db.read(ctx, op, func(tx *bolt.Tx) error {
		cur := tx.Bucket(bucketGlobal).Cursor()
		k, v := cur.Last()
		if before != nil {
			// Seek lands on the first key at or after the cursor; the page
			// goes on from the key before it.
			if k, _ = cur.Seek(before); k == nil {
				k, v = cur.Last()
			} else {
				k, v = cur.Prev()
			}
		}
		for ; k != nil; k, v = cur.Prev() {
			var it globalItem
			if err := decode(op, bucketGlobal, v, &it); err != nil {
				return err
			}
			if it.Kind != edgedynamo.KindGlobal {
				continue
			}
			if len(out) == limit {
				next = edgedynamo.Cursor{List: edgedynamo.CursorGlobals, PK: out[limit-1].ID}.Encode()
				return nil
			}
			out = append(out, it.global(string(k)))
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return out, next, nil
}

// ListReceipts implements edge.Deliveries: live receipts but the hour
// alerts' (edge.OutcomeAlerted), newest first by receivedAt as stored,
// equal times by key, highest first.
func (d *Deliveries) ListReceipts(ctx context.Context, limit int, cursor string) ([]edge.Receipt, string, error) {
	const op = "list receipts"
	limit = clampLimit(limit)
	var after *edgedynamo.Cursor
	if cursor != "" {
		c, err := edgedynamo.DecodeCursor(cursor, edgedynamo.CursorReceipts)
		if err != nil {
			return nil, "", err
		}
		after = &c
	}
	type entry struct {
		key string
		it  deliveryItem
	}
	var all []entry
	err := d.db.read(ctx, op, func(tx *bolt.Tx) error {
		now := d.db.now()
		return tx.Bucket(bucketDeliveries).ForEach(func(k, v []byte) error {
			var it deliveryItem
			if err := decode(op, bucketDeliveries, v, &it); err != nil {
				return err
			}
			if it.Kind == edgedynamo.KindDelivery && !it.expired(now) && it.Outcome != edge.OutcomeAlerted {
				all = append(all, entry{string(k), it})
			}
			return nil
		})
	})
	if err != nil {
		return nil, "", err
	}
	// first says whether a comes before b in the listing.
	first := func(aAt, aKey, bAt, bKey string) bool {
		if aAt != bAt {
			return aAt > bAt
		}
		return aKey > bKey
	}
	sort.Slice(all, func(i, j int) bool { return first(all[i].it.ReceivedAt, all[i].key, all[j].it.ReceivedAt, all[j].key) })
	i := 0
	if after != nil {
		i = sort.Search(len(all), func(i int) bool { return first(after.At, after.PK, all[i].it.ReceivedAt, all[i].key) })
	}
	out := []edge.Receipt{}
	next := ""
	for ; i < len(all); i++ {
		if len(out) == limit {
			last := all[i-1]
			next = edgedynamo.Cursor{List: edgedynamo.CursorReceipts, PK: last.key, At: last.it.ReceivedAt}.Encode()
			break
		}
		out = append(out, all[i].it.receipt(all[i].key))
	}
	return out, next, nil
}
