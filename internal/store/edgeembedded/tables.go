package edgeembedded

import (
	"context"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/lethe-erasure/lethe/internal/edge"
	"github.com/lethe-erasure/lethe/internal/store/edgedynamo"
)

var (
	_ edge.Directory  = (*Directory)(nil)
	_ edge.Deliveries = (*Deliveries)(nil)
	_ edge.Quarantine = (*Quarantine)(nil)
	_ edge.Globals    = (*Globals)(nil)
)

// Directory is the tenant directory in the file.
type Directory struct{ db *DB }

// Tenant implements edge.Directory.
func (d *Directory) Tenant(ctx context.Context, key string) (edge.Tenant, error) {
	const op = "get tenant"
	var t edge.Tenant
	err := d.db.read(ctx, op, func(tx *bolt.Tx) error {
		var it tenantItem
		found, err := get(tx, op, bucketTenants, key, &it)
		if err != nil {
			return err
		}
		if !found || it.Kind != edgedynamo.KindTenant {
			return edge.ErrNotFound
		}
		t = it.tenant(key)
		return nil
	})
	return t, err
}

// PutTenant implements edge.Directory: the read and the write are one
// transaction, so of two racing first registrations one creates the
// tenant and the other finds it (and, in another region, conflicts).
func (d *Directory) PutTenant(ctx context.Context, key, region string, move bool, now time.Time) (edge.Tenant, bool, bool, error) {
	const op = "put tenant"
	var (
		stored           edge.Tenant
		created, changed bool
	)
	err := d.db.update(ctx, op, func(tx *bolt.Tx) error {
		var cur tenantItem
		found, err := get(tx, op, bucketTenants, key, &cur)
		if err != nil {
			return err
		}
		if found && cur.Region == region {
			stored = cur.tenant(key)
			return errNoWrite
		}
		if found && !move {
			return &edge.TenantConflict{Tenant: key, Current: cur.Region}
		}
		next := tenantItem{Kind: edgedynamo.KindTenant, Region: region, RegisteredAt: edgedynamo.FormatTime(now), UpdatedAt: edgedynamo.FormatTime(now)}
		if found {
			next.RegisteredAt = cur.RegisteredAt
		}
		if err := put(tx, op, bucketTenants, key, next); err != nil {
			return err
		}
		stored, created, changed = next.tenant(key), !found, true
		return nil
	})
	if err != nil {
		return edge.Tenant{}, false, false, err
	}
	return stored, created, changed, nil
}

// Deliveries is the de-duplication and receipt store in the file.
type Deliveries struct{ db *DB }

// liveReceipt reads the receipt at key unless it is absent or past its
// expiry.
func (d *Deliveries) liveReceipt(tx *bolt.Tx, op, key string) (deliveryItem, bool, error) {
	var it deliveryItem
	found, err := get(tx, op, bucketDeliveries, key, &it)
	if err != nil || !found || it.Kind != edgedynamo.KindDelivery || it.expired(d.db.now()) {
		return deliveryItem{}, false, err
	}
	return it, true, nil
}

// Receipt returns the delivery's residency receipt, or edge.ErrNotFound
// when there is none (or it expired): what the local runtime's status page
// and tests read to show where a delivery went. It is not part of
// edge.Deliveries, which only claims and settles.
func (d *Deliveries) Receipt(ctx context.Context, key string) (edge.Receipt, error) {
	const op = "get receipt"
	var out edge.Receipt
	err := d.db.read(ctx, op, func(tx *bolt.Tx) error {
		cur, found, err := d.liveReceipt(tx, op, key)
		if err != nil {
			return err
		}
		if !found {
			return edge.ErrNotFound
		}
		out = cur.receipt(key)
		return nil
	})
	return out, err
}

// Claim implements edge.Deliveries: it succeeds for a new delivery, a
// released one or one whose claim's lease ended before now, keeping the
// first receivedAt and the last outcome and counting the attempt.
func (d *Deliveries) Claim(ctx context.Context, r edge.Receipt, now time.Time) (edge.Receipt, bool, error) {
	const op = "claim delivery"
	var (
		out     edge.Receipt
		claimed bool
	)
	err := d.db.update(ctx, op, func(tx *bolt.Tx) error {
		cur, found, err := d.liveReceipt(tx, op, r.Key)
		if err != nil {
			return err
		}
		if found && !claimable(cur, now) {
			out = cur.receipt(r.Key)
			return errNoWrite
		}
		next := deliveryItem{
			Kind: edgedynamo.KindDelivery, Provider: r.Provider, DeliveryID: r.DeliveryID, TenantHash: r.TenantHash, ReceivedIn: r.ReceivedIn,
			State: string(edge.StateClaimed), ReceivedAt: edgedynamo.FormatTime(r.ReceivedAt), UpdatedAt: edgedynamo.FormatTime(r.UpdatedAt),
			Claim: r.Claim, Attempts: 1, ExpiresAt: unixOrZero(r.ExpiresAt),
		}
		if !r.LeaseUntil.IsZero() {
			next.LeaseUntil = r.LeaseUntil.UnixMilli()
		}
		if found {
			next.ReceivedAt, next.Attempts = cur.ReceivedAt, cur.Attempts+1
			next.Outcome, next.ForwardedTo = cur.Outcome, cur.ForwardedTo
		}
		if err := put(tx, op, bucketDeliveries, r.Key, next); err != nil {
			return err
		}
		out, claimed = next.receipt(r.Key), true
		return nil
	})
	if err != nil {
		return edge.Receipt{}, false, err
	}
	return out, claimed, nil
}

// claimable is the adapter's claim condition on an existing receipt.
func claimable(cur deliveryItem, now time.Time) bool {
	switch edge.State(cur.State) {
	case edge.StateReleased:
		return true
	case edge.StateClaimed:
		return cur.LeaseUntil < now.UnixMilli()
	}
	return false
}

// Settle implements edge.Deliveries: only the claim that holds the
// delivery settles it; the claim and its lease are cleared.
func (d *Deliveries) Settle(ctx context.Context, r edge.Receipt) error {
	const op = "settle delivery"
	return d.db.update(ctx, op, func(tx *bolt.Tx) error {
		cur, found, err := d.liveReceipt(tx, op, r.Key)
		if err != nil {
			return err
		}
		if !found || edge.State(cur.State) != edge.StateClaimed || cur.Claim != r.Claim {
			return edge.ErrClaimLost
		}
		cur.State, cur.Outcome, cur.ForwardedTo, cur.UpdatedAt = string(r.State), r.Outcome, r.ForwardedTo, edgedynamo.FormatTime(r.UpdatedAt)
		cur.Claim, cur.LeaseUntil = "", 0
		return put(tx, op, bucketDeliveries, r.Key, cur)
	})
}

// Released implements edge.Deliveries: a quarantined (or already
// released) receipt becomes forwarded to regions; any other, or none, is
// left alone.
func (d *Deliveries) Released(ctx context.Context, key string, regions []string, now time.Time) error {
	const op = "record release"
	return d.db.update(ctx, op, func(tx *bolt.Tx) error {
		cur, found, err := d.liveReceipt(tx, op, key)
		if err != nil {
			return err
		}
		if !found || (edge.State(cur.State) != edge.StateQuarantined && edge.State(cur.State) != edge.StateForwarded) {
			return errNoWrite // expired, or settled otherwise: nothing to record
		}
		cur.State, cur.Outcome, cur.ForwardedTo, cur.UpdatedAt = string(edge.StateForwarded), edge.OutcomeReleased, regions, edgedynamo.FormatTime(now)
		return put(tx, op, bucketDeliveries, key, cur)
	})
}

// Quarantine is the quarantine in the file.
type Quarantine struct{ db *DB }

// Hold implements edge.Quarantine: it only creates; a delivery held under
// the same id (and not expired) is left as it is.
func (q *Quarantine) Hold(ctx context.Context, h edge.Held) error {
	const op = "hold delivery"
	return q.db.update(ctx, op, func(tx *bolt.Tx) error {
		var cur heldListing
		found, err := get(tx, op, bucketQuarantine, h.ID, &cur)
		if err != nil {
			return err
		}
		if found && !heldGone(cur.ExpiresAt, q.db.now()) {
			return errNoWrite // held already
		}
		it, err := newHeldItem(h, q.db.keys)
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		return put(tx, op, bucketQuarantine, h.ID, it)
	})
}

// Held implements edge.Quarantine.
func (q *Quarantine) Held(ctx context.Context, id string) (edge.Held, error) {
	const op = "get held delivery"
	var h edge.Held
	err := q.db.read(ctx, op, func(tx *bolt.Tx) error {
		var it heldItem
		found, err := get(tx, op, bucketQuarantine, id, &it)
		if err != nil {
			return err
		}
		if !found || it.Kind != edgedynamo.KindHeld || heldGone(it.ExpiresAt, q.db.now()) {
			return edge.ErrNotFound
		}
		h, err = it.held(id, q.db.keys)
		return err
	})
	return h, err
}

// List implements edge.Quarantine: newest first (ties by id), without
// body, headers, query or tenant key, expired deliveries left out.
func (q *Quarantine) List(ctx context.Context, limit int) ([]edge.Held, error) {
	const op = "list held deliveries"
	var out []edge.Held
	err := q.db.read(ctx, op, func(tx *bolt.Tx) error {
		now := q.db.now()
		return tx.Bucket(bucketQuarantine).ForEach(func(k, v []byte) error {
			var it heldListing
			if err := decode(op, bucketQuarantine, v, &it); err != nil {
				return err
			}
			if it.Kind == edgedynamo.KindHeld && !heldGone(it.ExpiresAt, now) {
				out = append(out, it.held(string(k)))
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	// receivedAt is stored at millisecond precision: compare as stored.
	sort.Slice(out, func(i, j int) bool {
		ti, tj := out[i].ReceivedAt, out[j].ReceivedAt
		if !ti.Equal(tj) {
			return ti.After(tj)
		}
		return out[i].ID < out[j].ID
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	if out == nil {
		out = []edge.Held{}
	}
	return out, nil
}

// Drop implements edge.Quarantine.
// The delivery's key is shredded once the drop is written.
func (q *Quarantine) Drop(ctx context.Context, id string) error {
	const op = "drop held delivery"
	err := q.db.update(ctx, op, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketQuarantine)
		if b.Get([]byte(id)) == nil {
			return errNoWrite
		}
		if err := b.Delete([]byte(id)); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	_ = q.db.keys.Shred(id) // one left behind is shredded at the next Open
	return nil
}

// Globals stores global erasures in the file.
type Globals struct{ db *DB }

// CreateGlobal implements edge.Globals: it only creates; a replay that
// finds the same regional request ids is no error, other ones are.
func (g *Globals) CreateGlobal(ctx context.Context, gl edge.Global) error {
	const op = "create global erasure"
	return g.db.update(ctx, op, func(tx *bolt.Tx) error {
		var cur globalItem
		found, err := get(tx, op, bucketGlobal, gl.ID, &cur)
		if err != nil {
			return err
		}
		if found {
			if cur.Kind != edgedynamo.KindGlobal {
				return edge.ErrNotFound
			}
			if !edgedynamo.SameRequests(cur.global(gl.ID).Regions, gl.Regions) {
				return fmt.Errorf("create global erasure %s: stored with other regional requests", gl.ID)
			}
			return errNoWrite
		}
		return put(tx, op, bucketGlobal, gl.ID, globalItem{Kind: edgedynamo.KindGlobal, CreatedAt: edgedynamo.FormatTime(gl.CreatedAt),
			UpdatedAt: edgedynamo.FormatTime(gl.UpdatedAt), Regions: newGlobalRegions(gl.Regions)})
	})
}

// Global implements edge.Globals.
func (g *Globals) Global(ctx context.Context, id string) (edge.Global, error) {
	const op = "get global erasure"
	var out edge.Global
	err := g.db.read(ctx, op, func(tx *bolt.Tx) error {
		var it globalItem
		found, err := get(tx, op, bucketGlobal, id, &it)
		if err != nil {
			return err
		}
		if !found || it.Kind != edgedynamo.KindGlobal {
			return edge.ErrNotFound
		}
		out = it.global(id)
		return nil
	})
	return out, err
}

// RecordStates implements edge.Globals: it sets the regions' states on an
// existing record.
func (g *Globals) RecordStates(ctx context.Context, id string, regions []edge.GlobalRegion, now time.Time) error {
	const op = "record states"
	return g.db.update(ctx, op, func(tx *bolt.Tx) error {
		var cur globalItem
		found, err := get(tx, op, bucketGlobal, id, &cur)
		if err != nil {
			return err
		}
		if !found || cur.Kind != edgedynamo.KindGlobal {
			return edge.ErrNotFound
		}
		cur.Regions, cur.UpdatedAt = newGlobalRegions(regions), edgedynamo.FormatTime(now)
		return put(tx, op, bucketGlobal, id, cur)
	})
}

// ClaimIdempotencyKey implements edge.Globals: the key is bound to
// globalID and planHash unless a binding that has not expired holds it;
// then that binding is returned with created=false.
func (g *Globals) ClaimIdempotencyKey(ctx context.Context, keyHash, globalID, planHash string, expires time.Time) (string, string, bool, error) {
	const op = "claim idempotency key"
	boundID, boundPlan, created := globalID, planHash, true
	err := g.db.update(ctx, op, func(tx *bolt.Tx) error {
		var cur idemItem
		found, err := get(tx, op, bucketGlobal, edgedynamo.IdempotencyPrefix+keyHash, &cur)
		if err != nil {
			return err
		}
		if found && !idemGone(cur.ExpiresAt, g.db.now()) {
			boundID, boundPlan, created = cur.GlobalID, cur.PlanHash, false
			return errNoWrite
		}
		return put(tx, op, bucketGlobal, edgedynamo.IdempotencyPrefix+keyHash, idemItem{Kind: edgedynamo.KindIdempotency, GlobalID: globalID,
			PlanHash: planHash, ExpiresAt: expires.Unix()})
	})
	if err != nil {
		return "", "", false, err
	}
	return boundID, boundPlan, created, nil
}
