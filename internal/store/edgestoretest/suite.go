// Package edgestoretest is the contract of the edge's tables (the
// interfaces of internal/edge: Directory, Deliveries, Quarantine, Globals)
// as one suite that every implementation runs: the DynamoDB adapter
// against DynamoDB Local, the embedded store over a bbolt file. What one
// store does, the other does; the edge's handlers cannot tell them apart.
//
// Behaviours that belong to one store alone stay in that store's tests:
// the DynamoDB adapter's item attributes and throttling, the embedded
// store's reopening, locking and sweeping, and the expiry of receipts
// (DynamoDB deletes those within days, at a time no test can choose; both
// stores' listings leave out a receipt past its expiry by their clock,
// which the suite checks).
package edgestoretest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/lethe-erasure/lethe/internal/edge"
)

// Stores is one implementation of the edge's tables, fresh and empty.
type Stores struct {
	Directory  edge.Directory
	Deliveries edge.Deliveries
	Quarantine edge.Quarantine
	Globals    edge.Globals
}

// Open returns fresh stores whose expiries (quarantine, Idempotency-Keys)
// are read by now, and arranges their cleanup with t.Cleanup. It may skip
// t when the store's server is absent.
type Open func(t *testing.T, now func() time.Time) Stores

// T0 is the suite's epoch; every time the suite writes is a whole second
// after it, so that millisecond and second precision round nothing.
var T0 = time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)

// Clock is a settable clock, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock starts a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now reads the clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Run runs every scenario of the contract, each on fresh stores.
func Run(t *testing.T, open Open) {
	scenarios := []struct {
		name string
		run  func(t *testing.T, s Stores, c *Clock)
	}{
		{"Tenants", tenants},
		{"PutTenantConcurrentFirstRegistrations", putTenantConcurrent},
		{"DeliveryClaimSettleAndDuplicates", claimSettleDuplicates},
		{"ClaimLeaseBoundary", claimLeaseBoundary},
		{"ClaimTakesOverAnExpiredLease", claimTakeOver},
		{"ConcurrentClaimsOneWinner", concurrentClaims},
		{"SettleWithoutClaim", settleWithoutClaim},
		{"Quarantine", quarantine},
		{"QuarantineExpiryBoundary", quarantineExpiryBoundary},
		{"ReleasedReceipt", releasedReceipt},
		{"Globals", globals},
		{"IdempotencyKey", idempotencyKey},
		{"ListTenants", listTenants},
		{"ListReceipts", listReceipts},
		{"ListGlobals", listGlobals},
		{"ListCursorsAreTheirListings", listCursors},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			c := NewClock(T0)
			sc.run(t, open(t, c.Now), c)
		})
	}
}

func tenants(t *testing.T, s Stores, _ *Clock) {
	ctx := context.Background()
	d := s.Directory
	if _, err := d.Tenant(ctx, "eu-shop.myshopify.com"); !errors.Is(err, edge.ErrNotFound) {
		t.Fatalf("Tenant of an empty directory: %v, want ErrNotFound", err)
	}
	got, created, changed, err := d.PutTenant(ctx, "eu-shop.myshopify.com", "eu", false, T0)
	if err != nil || !created || !changed || got.Region != "eu" || !got.RegisteredAt.Equal(T0) {
		t.Fatalf("first PutTenant = %+v, created=%v changed=%v, %v", got, created, changed, err)
	}
	// Same region again: nothing changes, not even updatedAt.
	again, created, changed, err := d.PutTenant(ctx, "eu-shop.myshopify.com", "eu", false, T0.Add(time.Hour))
	if err != nil || created || changed || !again.UpdatedAt.Equal(T0) || again != got {
		t.Fatalf("repeated PutTenant = %+v, created=%v changed=%v, %v", again, created, changed, err)
	}
	// Same region with move: still nothing to do.
	if _, created, changed, err := d.PutTenant(ctx, "eu-shop.myshopify.com", "eu", true, T0.Add(time.Hour)); err != nil || created || changed {
		t.Fatalf("PutTenant to its own region with move: created=%v changed=%v, %v", created, changed, err)
	}
	// Another region without move: a conflict naming the current region.
	_, _, _, err = d.PutTenant(ctx, "eu-shop.myshopify.com", "us", false, T0.Add(time.Hour))
	var tc *edge.TenantConflict
	if !errors.As(err, &tc) || tc.Current != "eu" || tc.Tenant != "eu-shop.myshopify.com" {
		t.Fatalf("PutTenant to us without move: %v, want TenantConflict{Current: eu}", err)
	}
	if cur, _ := d.Tenant(ctx, "eu-shop.myshopify.com"); cur.Region != "eu" {
		t.Fatalf("refused move changed the region to %s", cur.Region)
	}
	// With move: moved, registeredAt kept.
	moved, created, changed, err := d.PutTenant(ctx, "eu-shop.myshopify.com", "us", true, T0.Add(2*time.Hour))
	if err != nil || created || !changed || moved.Region != "us" || !moved.RegisteredAt.Equal(T0) || !moved.UpdatedAt.Equal(T0.Add(2*time.Hour)) {
		t.Fatalf("move = %+v, created=%v changed=%v, %v", moved, created, changed, err)
	}
	read, err := d.Tenant(ctx, "eu-shop.myshopify.com")
	if err != nil || read != moved {
		t.Fatalf("Tenant after move = %+v, %v; want %+v", read, err, moved)
	}
	// Another tenant is another entry.
	if _, err := d.Tenant(ctx, "us-shop.myshopify.com"); !errors.Is(err, edge.ErrNotFound) {
		t.Fatalf("Tenant of another key: %v, want ErrNotFound", err)
	}
}

func putTenantConcurrent(t *testing.T, s Stores, _ *Clock) {
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	created, conflicts := 0, 0
	for i := range 12 {
		region := []string{"eu", "us"}[i%2]
		wg.Go(func() {
			_, c, _, err := s.Directory.PutTenant(ctx, "race.example", region, false, T0)
			mu.Lock()
			defer mu.Unlock()
			var tc *edge.TenantConflict
			switch {
			case err == nil && c:
				created++
			case errors.As(err, &tc):
				conflicts++
			case err != nil:
				t.Errorf("PutTenant: %v", err)
			}
		})
	}
	wg.Wait()
	if created != 1 {
		t.Errorf("%d registrations created the tenant, want exactly 1 (%d conflicts)", created, conflicts)
	}
	if conflicts != 6 {
		t.Errorf("%d conflicts, want the 6 registrations of the other region", conflicts)
	}
}

// Receipt is a fresh claim of the delivery key by the invocation claim at
// now, with a one-minute lease and the fan-out's 35-day receipt TTL.
func Receipt(key, claim string, now time.Time) edge.Receipt {
	return edge.Receipt{
		Key: key, Provider: "shopify", DeliveryID: "d-1", TenantHash: edge.Hash("eu-shop.myshopify.com"), ReceivedIn: "eu-central-1",
		State: edge.StateClaimed, ReceivedAt: now, UpdatedAt: now, Claim: claim, LeaseUntil: now.Add(time.Minute), ExpiresAt: now.Add(35 * 24 * time.Hour),
	}
}

// equateEmpty: an empty forwarded-to list may come back nil or empty.
var equateEmpty = cmpopts.EquateEmpty()

func claimSettleDuplicates(t *testing.T, s Stores, _ *Clock) {
	ctx := context.Background()
	d := s.Deliveries
	k := edge.DeliveryKey("shopify", "eu-shop.myshopify.com", "d-1")

	got, claimed, err := d.Claim(ctx, Receipt(k, "c1", T0), T0)
	if err != nil || !claimed {
		t.Fatalf("first Claim = %+v, %v, %v", got, claimed, err)
	}
	first := Receipt(k, "c1", T0)
	first.Attempts = 1
	if diff := cmp.Diff(first, got, equateEmpty); diff != "" {
		t.Errorf("first Claim's receipt (-want +got):\n%s", diff)
	}
	// In flight: a second invocation is told who holds it.
	cur, claimed, err := d.Claim(ctx, Receipt(k, "c2", T0.Add(time.Second)), T0.Add(time.Second))
	if err != nil || claimed {
		t.Fatalf("Claim while in flight = %+v, %v, %v; want c1's claim", cur, claimed, err)
	}
	if diff := cmp.Diff(first, cur, equateEmpty); diff != "" {
		t.Errorf("Claim while in flight returned (-stored +got):\n%s", diff)
	}
	// Settling with someone else's claim is refused.
	if err := d.Settle(ctx, edge.Receipt{Key: k, Claim: "c2", State: edge.StateForwarded}); !errors.Is(err, edge.ErrClaimLost) {
		t.Fatalf("Settle with a foreign claim: %v, want ErrClaimLost", err)
	}
	// The region was down: the claim is released with the outcome.
	rel := got
	rel.State, rel.Outcome, rel.UpdatedAt = edge.StateReleased, edge.OutcomeRegionUnavailable, T0.Add(2*time.Second)
	if err := d.Settle(ctx, rel); err != nil {
		t.Fatal(err)
	}
	// Settling twice: the claim is gone.
	if err := d.Settle(ctx, rel); !errors.Is(err, edge.ErrClaimLost) {
		t.Fatalf("second Settle: %v, want ErrClaimLost", err)
	}
	// The provider's retry claims it again; attempts count, receivedAt stays.
	got, claimed, err = d.Claim(ctx, Receipt(k, "c3", T0.Add(time.Hour)), T0.Add(time.Hour))
	if err != nil || !claimed || got.Attempts != 2 || !got.ReceivedAt.Equal(T0) || got.Outcome != edge.OutcomeRegionUnavailable || got.Claim != "c3" {
		t.Fatalf("Claim after release = %+v, %v, %v", got, claimed, err)
	}
	fwd := got
	fwd.State, fwd.Outcome, fwd.ForwardedTo, fwd.UpdatedAt = edge.StateForwarded, edge.OutcomeForwarded, []string{"eu"}, T0.Add(time.Hour+time.Second)
	if err := d.Settle(ctx, fwd); err != nil {
		t.Fatal(err)
	}
	// A duplicate of a forwarded delivery is not claimed, even long after.
	cur, claimed, err = d.Claim(ctx, Receipt(k, "c4", T0.Add(48*time.Hour)), T0.Add(48*time.Hour))
	if err != nil || claimed || cur.State != edge.StateForwarded {
		t.Fatalf("Claim of a forwarded delivery = %+v, %v, %v", cur, claimed, err)
	}
	want := edge.Receipt{
		Key: k, Provider: "shopify", DeliveryID: "d-1", TenantHash: edge.Hash("eu-shop.myshopify.com"), ReceivedIn: "eu-central-1",
		ForwardedTo: []string{"eu"}, State: edge.StateForwarded, Outcome: edge.OutcomeForwarded,
		ReceivedAt: T0, UpdatedAt: T0.Add(time.Hour + time.Second), Attempts: 2, ExpiresAt: T0.Add(time.Hour + 35*24*time.Hour),
	}
	if diff := cmp.Diff(want, cur, equateEmpty); diff != "" {
		t.Errorf("stored receipt (-want +got):\n%s", diff)
	}
	// A delivery its region refused is not claimed again: the retry is
	// answered from the receipt.
	rk := edge.DeliveryKey("shopify", "eu-shop.myshopify.com", "d-rejected")
	rej, claimed, err := d.Claim(ctx, Receipt(rk, "r1", T0), T0)
	if err != nil || !claimed {
		t.Fatalf("Claim = %+v, %v, %v", rej, claimed, err)
	}
	rej.State, rej.Outcome, rej.UpdatedAt = edge.StateRejected, edge.OutcomeRegionRejected, T0.Add(time.Second)
	if err := d.Settle(ctx, rej); err != nil {
		t.Fatal(err)
	}
	if cur, claimed, err := d.Claim(ctx, Receipt(rk, "r2", T0.Add(time.Hour)), T0.Add(time.Hour)); err != nil || claimed || cur.State != edge.StateRejected {
		t.Fatalf("Claim of a rejected delivery = %+v, %v, %v; want the rejected receipt", cur, claimed, err)
	}
	// Another delivery of the same tenant is another receipt.
	if _, claimed, err := d.Claim(ctx, Receipt(edge.DeliveryKey("shopify", "eu-shop.myshopify.com", "d-2"), "c5", T0), T0); err != nil || !claimed {
		t.Fatalf("Claim of another delivery: %v, %v", claimed, err)
	}
}

// claimLeaseBoundary: a lease holds up to and including its last
// millisecond.
func claimLeaseBoundary(t *testing.T, s Stores, _ *Clock) {
	ctx := context.Background()
	k := edge.DeliveryKey("shopify", "eu-shop.myshopify.com", "lease")
	if _, claimed, err := s.Deliveries.Claim(ctx, Receipt(k, "a", T0), T0); err != nil || !claimed {
		t.Fatal(claimed, err)
	}
	at := T0.Add(time.Minute)
	if cur, claimed, err := s.Deliveries.Claim(ctx, Receipt(k, "b", at), at); err != nil || claimed || cur.Claim != "a" {
		t.Fatalf("Claim at the lease's end = %+v, %v, %v; want a's claim to hold", cur, claimed, err)
	}
	after := at.Add(time.Millisecond)
	if got, claimed, err := s.Deliveries.Claim(ctx, Receipt(k, "b", after), after); err != nil || !claimed || got.Claim != "b" {
		t.Fatalf("Claim a millisecond after the lease = %+v, %v, %v", got, claimed, err)
	}
}

func claimTakeOver(t *testing.T, s Stores, _ *Clock) {
	ctx := context.Background()
	d := s.Deliveries
	k := edge.DeliveryKey("zendesk", "eu-help", "inv-1")
	if _, claimed, err := d.Claim(ctx, Receipt(k, "dead", T0), T0); err != nil || !claimed {
		t.Fatal(claimed, err)
	}
	later := T0.Add(61 * time.Second) // the lease was a minute
	got, claimed, err := d.Claim(ctx, Receipt(k, "alive", later), later)
	if err != nil || !claimed || got.Claim != "alive" || got.Attempts != 2 || !got.ReceivedAt.Equal(T0) || !got.LeaseUntil.Equal(later.Add(time.Minute)) {
		t.Fatalf("Claim after the lease = %+v, %v, %v", got, claimed, err)
	}
	if err := d.Settle(ctx, edge.Receipt{Key: k, Claim: "dead", State: edge.StateForwarded}); !errors.Is(err, edge.ErrClaimLost) {
		t.Fatalf("the dead invocation's settle: %v, want ErrClaimLost", err)
	}
	got.State, got.Outcome, got.ForwardedTo, got.UpdatedAt = edge.StateForwarded, edge.OutcomeForwarded, []string{"eu"}, later
	if err := d.Settle(ctx, got); err != nil {
		t.Fatalf("the live invocation's settle: %v", err)
	}
}

func concurrentClaims(t *testing.T, s Stores, _ *Clock) {
	ctx := context.Background()
	k := edge.DeliveryKey("shopify", "eu-shop.myshopify.com", "burst")
	var wg sync.WaitGroup
	var mu sync.Mutex
	var winners []string
	for i := range 20 {
		wg.Go(func() {
			r, claimed, err := s.Deliveries.Claim(ctx, Receipt(k, fmt.Sprint("c", i), T0), T0)
			if err != nil {
				t.Error(err)
			}
			if claimed {
				mu.Lock()
				winners = append(winners, r.Claim)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("%d concurrent claims won, want 1", len(winners))
	}
	// The winner, and only the winner, settles it.
	for i := range 20 {
		err := s.Deliveries.Settle(ctx, edge.Receipt{Key: k, Claim: fmt.Sprint("c", i), State: edge.StateForwarded, UpdatedAt: T0})
		if fmt.Sprint("c", i) == winners[0] {
			if err != nil {
				t.Errorf("winner's Settle: %v", err)
			}
		} else if !errors.Is(err, edge.ErrClaimLost) {
			t.Errorf("loser c%d's Settle: %v, want ErrClaimLost", i, err)
		}
	}
}

func settleWithoutClaim(t *testing.T, s Stores, _ *Clock) {
	ctx := context.Background()
	k := edge.DeliveryKey("shopify", "eu-shop.myshopify.com", "never")
	if err := s.Deliveries.Settle(ctx, edge.Receipt{Key: k, Claim: "c1", State: edge.StateForwarded}); !errors.Is(err, edge.ErrClaimLost) {
		t.Fatalf("Settle of a delivery never claimed: %v, want ErrClaimLost", err)
	}
	// Nothing was created by the refused settle: the first claim is a first.
	if r, claimed, err := s.Deliveries.Claim(ctx, Receipt(k, "c1", T0), T0); err != nil || !claimed || r.Attempts != 1 {
		t.Fatalf("Claim after a refused Settle = %+v, %v, %v", r, claimed, err)
	}
}

// HeldFixture is a quarantined delivery received at T0 and held 72 hours.
func HeldFixture() edge.Held {
	k := edge.DeliveryKey("shopify", "new-shop.myshopify.com", "d-9")
	return edge.Held{
		ID: edge.QuarantineID(k), DeliveryKey: k, Provider: "shopify", Tenant: "new-shop.myshopify.com",
		TenantHash: edge.Hash("new-shop.myshopify.com"), DeliveryID: "d-9", Topic: "customers/redact", Verified: false,
		Body:   []byte("{\"customer\":{\"id\":1,\"email\":\"a@example.com\"}}\x00\xff"),
		Header: http.Header{"X-Shopify-Hmac-Sha256": {"c2ln"}, "X-Shopify-Topic": {"customers/redact"}}, RawQuery: "",
		ReceivedAt: T0, ExpiresAt: T0.Add(72 * time.Hour),
	}
}

func quarantine(t *testing.T, s Stores, c *Clock) {
	ctx := context.Background()
	q := s.Quarantine
	c.Set(T0.Add(time.Hour))
	if l, err := q.List(ctx, 10); err != nil || len(l) != 0 {
		t.Fatalf("List of an empty quarantine = %v, %v", l, err)
	}
	h := HeldFixture()
	if _, err := q.Held(ctx, h.ID); !errors.Is(err, edge.ErrNotFound) {
		t.Fatalf("Held before Hold: %v, want ErrNotFound", err)
	}
	if err := q.Hold(ctx, h); err != nil {
		t.Fatal(err)
	}
	changed := h
	changed.Body = []byte("other")
	if err := q.Hold(ctx, changed); err != nil {
		t.Fatalf("holding again: %v", err)
	}
	got, err := q.Held(ctx, h.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(h, got); diff != "" {
		t.Errorf("Held (-held +read; the second Hold must not overwrite):\n%s", diff)
	}

	older := h
	older.ID, older.DeliveryKey, older.ReceivedAt = edge.QuarantineID("ab"+h.DeliveryKey[2:]), "ab"+h.DeliveryKey[2:], T0.Add(-time.Minute)
	expired := h
	expired.ID, expired.ExpiresAt = edge.QuarantineID("cd"+h.DeliveryKey[2:]), T0.Add(30*time.Minute)
	sameTime := h
	sameTime.ID = edge.QuarantineID("00" + h.DeliveryKey[2:])
	for _, x := range []edge.Held{older, expired, sameTime} {
		if err := q.Hold(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	list, err := q.List(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, l := range list {
		ids = append(ids, l.ID)
		if l.Body != nil || l.Header != nil || l.Tenant != "" || l.RawQuery != "" {
			t.Errorf("List returned body, headers, query or tenant key: %+v", l)
		}
		if l.TenantHash == "" || l.Provider == "" || l.ReceivedAt.IsZero() || l.DeliveryID == "" || l.Topic == "" || l.ExpiresAt.IsZero() {
			t.Errorf("List lacks what an operator reads: %+v", l)
		}
	}
	// Newest first; equal times by id; the expired one left out.
	if diff := cmp.Diff([]string{sameTime.ID, h.ID, older.ID}, ids); diff != "" {
		t.Errorf("List ids (-want +got):\n%s", diff)
	}
	if _, err := q.Held(ctx, expired.ID); !errors.Is(err, edge.ErrNotFound) {
		t.Errorf("Held of an expired delivery: %v, want ErrNotFound", err)
	}
	if l, err := q.List(ctx, 1); err != nil || len(l) != 1 || l[0].ID != sameTime.ID {
		t.Errorf("List(1) = %v, %v", l, err)
	}
	for range 2 {
		if err := q.Drop(ctx, h.ID); err != nil {
			t.Fatalf("Drop: %v", err)
		}
	}
	if _, err := q.Held(ctx, h.ID); !errors.Is(err, edge.ErrNotFound) {
		t.Errorf("Held after Drop: %v", err)
	}
	if l, _ := q.List(ctx, 0); len(l) != 2 {
		t.Errorf("List(0) after Drop = %d items, want the 2 left (0 means no limit)", len(l))
	}
}

// quarantineExpiryBoundary: a held delivery is gone from the second of its
// expiry on, by the store's clock.
func quarantineExpiryBoundary(t *testing.T, s Stores, c *Clock) {
	ctx := context.Background()
	h := HeldFixture()
	if err := s.Quarantine.Hold(ctx, h); err != nil {
		t.Fatal(err)
	}
	c.Set(h.ExpiresAt.Add(-time.Second))
	if _, err := s.Quarantine.Held(ctx, h.ID); err != nil {
		t.Fatalf("Held a second before expiry: %v", err)
	}
	if l, _ := s.Quarantine.List(ctx, 10); len(l) != 1 {
		t.Fatalf("List a second before expiry: %d items", len(l))
	}
	c.Set(h.ExpiresAt)
	if _, err := s.Quarantine.Held(ctx, h.ID); !errors.Is(err, edge.ErrNotFound) {
		t.Fatalf("Held at expiry: %v, want ErrNotFound", err)
	}
	if l, _ := s.Quarantine.List(ctx, 10); len(l) != 0 {
		t.Fatalf("List at expiry: %d items", len(l))
	}
}

func releasedReceipt(t *testing.T, s Stores, _ *Clock) {
	ctx := context.Background()
	d := s.Deliveries
	k := edge.DeliveryKey("shopify", "new-shop.myshopify.com", "d-9")
	r, _, err := d.Claim(ctx, Receipt(k, "c1", T0), T0)
	if err != nil {
		t.Fatal(err)
	}
	// Released of a delivery still claimed records nothing.
	if err := d.Released(ctx, k, []string{"eu"}, T0); err != nil {
		t.Fatal(err)
	}
	if cur, _, _ := d.Claim(ctx, Receipt(k, "x", T0), T0); cur.State != edge.StateClaimed || cur.Claim != "c1" {
		t.Fatalf("Released changed a claimed receipt: %+v", cur)
	}
	r.State, r.Outcome, r.ForwardedTo = edge.StateQuarantined, edge.OutcomeQuarantined, []string{edge.ForwardedToQuarantine}
	if err := d.Settle(ctx, r); err != nil {
		t.Fatal(err)
	}
	if _, claimed, _ := d.Claim(ctx, Receipt(k, "c2", T0.Add(time.Hour)), T0.Add(time.Hour)); claimed {
		t.Fatal("a quarantined delivery was claimed again")
	}
	for range 2 {
		if err := d.Released(ctx, k, []string{"eu"}, T0.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	cur, claimed, err := d.Claim(ctx, Receipt(k, "c3", T0.Add(3*time.Hour)), T0.Add(3*time.Hour))
	if err != nil || claimed || cur.State != edge.StateForwarded || cur.Outcome != edge.OutcomeReleased ||
		!cmp.Equal(cur.ForwardedTo, []string{"eu"}) || !cur.UpdatedAt.Equal(T0.Add(2*time.Hour)) {
		t.Fatalf("receipt after release = %+v, %v", cur, err)
	}
	if err := d.Released(ctx, edge.DeliveryKey("shopify", "x", "gone"), []string{"eu"}, T0); err != nil {
		t.Fatalf("Released of a receipt that is gone: %v", err)
	}
	// ... and it creates none.
	if r, claimed, err := d.Claim(ctx, Receipt(edge.DeliveryKey("shopify", "x", "gone"), "c", T0), T0); err != nil || !claimed || r.Attempts != 1 {
		t.Fatalf("Released of a missing receipt created one: %+v, %v, %v", r, claimed, err)
	}
}

func globals(t *testing.T, s Stores, _ *Clock) {
	ctx := context.Background()
	gs := s.Globals
	g := edge.Global{ID: "eg_0196a0a0-0000-7000-8000-000000000001", CreatedAt: T0, Regions: []edge.GlobalRegion{
		{Region: "eu", RequestID: "er_eu_0196a0a0-0000-7000-8000-00000000000a"},
		{Region: "us", RequestID: "er_us_0196a0a0-0000-7000-8000-00000000000b"},
	}}
	if _, err := gs.Global(ctx, g.ID); !errors.Is(err, edge.ErrNotFound) {
		t.Fatalf("Global before create: %v", err)
	}
	for range 2 {
		if err := gs.CreateGlobal(ctx, g); err != nil {
			t.Fatalf("CreateGlobal (replay must pass): %v", err)
		}
	}
	other := g
	other.Regions = g.Regions[:1]
	if err := gs.CreateGlobal(ctx, other); err == nil {
		t.Fatal("CreateGlobal with other regional requests under the same id passed")
	}
	got, err := gs.Global(ctx, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(g, got); diff != "" {
		t.Errorf("Global (-want +got):\n%s", diff)
	}
	states := []edge.GlobalRegion{{Region: "eu", RequestID: g.Regions[0].RequestID, Status: "completed"}, {Region: "us", RequestID: g.Regions[1].RequestID, Status: "running"}}
	if err := gs.RecordStates(ctx, g.ID, states, T0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, _ = gs.Global(ctx, g.ID)
	if !cmp.Equal(got.Regions, states) || !got.UpdatedAt.Equal(T0.Add(time.Hour)) || !got.CreatedAt.Equal(T0) {
		t.Errorf("after RecordStates: %+v", got)
	}
	// A replay of the creation after states were recorded keeps them.
	if err := gs.CreateGlobal(ctx, g); err != nil {
		t.Fatalf("CreateGlobal replay after RecordStates: %v", err)
	}
	if got, _ = gs.Global(ctx, g.ID); !cmp.Equal(got.Regions, states) {
		t.Errorf("a replayed CreateGlobal overwrote the states: %+v", got.Regions)
	}
	if err := gs.RecordStates(ctx, "eg_0196a0a0-0000-7000-8000-0000000000ff", states, T0); !errors.Is(err, edge.ErrNotFound) {
		t.Errorf("RecordStates of an unknown id: %v, want ErrNotFound", err)
	}
	if _, err := gs.Global(ctx, "eg_0196a0a0-0000-7000-8000-0000000000ff"); !errors.Is(err, edge.ErrNotFound) {
		t.Errorf("RecordStates of an unknown id created it: %v", err)
	}
}

func idempotencyKey(t *testing.T, s Stores, c *Clock) {
	ctx := context.Background()
	gs := s.Globals
	id, plan, created, err := gs.ClaimIdempotencyKey(ctx, edge.Hash("k1"), "eg_a", "plan-1", T0.Add(24*time.Hour))
	if err != nil || !created || id != "eg_a" || plan != "plan-1" {
		t.Fatalf("first claim = %s %s %v %v", id, plan, created, err)
	}
	id, plan, created, err = gs.ClaimIdempotencyKey(ctx, edge.Hash("k1"), "eg_b", "plan-2", T0.Add(24*time.Hour))
	if err != nil || created || id != "eg_a" || plan != "plan-1" {
		t.Fatalf("second claim = %s %s %v %v; want the first binding", id, plan, created, err)
	}
	// Another key is another binding.
	if id, _, created, err := gs.ClaimIdempotencyKey(ctx, edge.Hash("k2"), "eg_b", "plan-2", T0.Add(24*time.Hour)); err != nil || !created || id != "eg_b" {
		t.Fatalf("claim of another key = %s %v %v", id, created, err)
	}
	// At its expiry the binding still holds; after it, the key may be
	// bound anew.
	c.Set(T0.Add(24 * time.Hour))
	if id, _, created, err := gs.ClaimIdempotencyKey(ctx, edge.Hash("k1"), "eg_c", "plan-3", T0.Add(49*time.Hour)); err != nil || created || id != "eg_a" {
		t.Fatalf("claim at expiry = %s %v %v; want the first binding", id, created, err)
	}
	c.Set(T0.Add(25 * time.Hour))
	id, plan, created, err = gs.ClaimIdempotencyKey(ctx, edge.Hash("k1"), "eg_c", "plan-3", T0.Add(49*time.Hour))
	if err != nil || !created || id != "eg_c" || plan != "plan-3" {
		t.Fatalf("claim after expiry = %s %s %v %v", id, plan, created, err)
	}
	if id, _, created, _ := gs.ClaimIdempotencyKey(ctx, edge.Hash("k1"), "eg_d", "plan-4", T0.Add(49*time.Hour)); created || id != "eg_c" {
		t.Fatalf("claim after rebinding = %s %v; want eg_c", id, created)
	}
}

// lister is one page of a listing, as the stores' List* methods read it,
// reduced to the items' ids.
type lister func(ctx context.Context, limit int, cursor string) (ids []string, next string, err error)

// pages follows next from the first page at limit and returns every id in
// order and how many pages it took. Each page must hold limit items but
// the last, and the last must hand out no next.
func pages(t *testing.T, list lister, limit int) (ids []string, n int) {
	t.Helper()
	ctx := context.Background()
	cursor := ""
	for {
		got, next, err := list(ctx, limit, cursor)
		if err != nil {
			t.Fatalf("page %d: %v", n+1, err)
		}
		n++
		ids = append(ids, got...)
		if next == "" {
			if len(got) > limit {
				t.Fatalf("last page holds %d items, over the limit %d", len(got), limit)
			}
			return ids, n
		}
		if len(got) != limit {
			t.Fatalf("page %d holds %d items and a next, want %d", n, len(got), limit)
		}
		if n > 50 {
			t.Fatal("next never ends")
		}
		cursor = next
	}
}

func tenantIDs(d edge.Directory) lister {
	return func(ctx context.Context, limit int, cursor string) ([]string, string, error) {
		ts, next, err := d.ListTenants(ctx, limit, cursor)
		ids := []string{}
		for _, t := range ts {
			ids = append(ids, t.Key)
		}
		return ids, next, err
	}
}

func receiptIDs(d edge.Deliveries) lister {
	return func(ctx context.Context, limit int, cursor string) ([]string, string, error) {
		rs, next, err := d.ListReceipts(ctx, limit, cursor)
		ids := []string{}
		for _, r := range rs {
			ids = append(ids, r.DeliveryID)
		}
		return ids, next, err
	}
}

func globalIDs(g edge.Globals) lister {
	return func(ctx context.Context, limit int, cursor string) ([]string, string, error) {
		gs, next, err := g.ListGlobals(ctx, limit, cursor)
		ids := []string{}
		for _, g := range gs {
			ids = append(ids, g.ID)
		}
		return ids, next, err
	}
}

// badCursors are cursors no listing hands out.
var badCursors = []string{"garbage", "e30", "%%%", "eyJsIjoidGVuYW50cyJ9"}

func listTenants(t *testing.T, s Stores, _ *Clock) {
	ctx := context.Background()
	d := s.Directory
	if ts, next, err := d.ListTenants(ctx, 10, ""); err != nil || len(ts) != 0 || next != "" {
		t.Fatalf("ListTenants of an empty directory = %v, %q, %v", ts, next, err)
	}
	keys := []string{"us-shop.myshopify.com", "eu-help", "a.example", "zz-help", "eu-shop.myshopify.com", "b.example", "m-help"}
	for i, k := range keys {
		if _, _, _, err := d.PutTenant(ctx, k, []string{"eu", "us"}[i%2], false, T0.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	want := append([]string(nil), keys...)
	sort.Strings(want)
	for _, limit := range []int{1, 2, 3, 7, 100} {
		got, n := pages(t, tenantIDs(d), limit)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("limit %d: tenants over %d pages (-want in key order, each once +got):\n%s", limit, n, diff)
		}
		if wantPages := (len(keys) + limit - 1) / limit; n != wantPages {
			t.Errorf("limit %d: %d pages, want %d (no empty last page)", limit, n, wantPages)
		}
	}
	// The entries are the directory's, moved tenants as they are now.
	if _, _, _, err := d.PutTenant(ctx, "a.example", "us", true, T0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	ts, next, err := d.ListTenants(ctx, 1, "")
	wantFirst := edge.Tenant{Key: "a.example", Region: "us", RegisteredAt: T0.Add(2 * time.Second), UpdatedAt: T0.Add(time.Hour)}
	if err != nil || len(ts) != 1 || ts[0] != wantFirst || next == "" {
		t.Fatalf("ListTenants(1) = %+v, %q, %v; want %+v and a next", ts, next, err, wantFirst)
	}
	// A cursor goes on after its page's last tenant: one registered since
	// before it is not listed, one after it is.
	for _, k := range []string{"0.example", "c.example"} {
		if _, _, _, err := d.PutTenant(ctx, k, "eu", false, T0); err != nil {
			t.Fatal(err)
		}
	}
	ts, _, err = d.ListTenants(ctx, 2, next)
	if err != nil || len(ts) != 2 || ts[0].Key != "b.example" || ts[1].Key != "c.example" {
		t.Fatalf("page after a.example = %+v, %v; want b.example, c.example", ts, err)
	}
	for _, c := range badCursors {
		if _, _, err := d.ListTenants(ctx, 2, c); !errors.Is(err, edge.ErrInvalidCursor) {
			t.Errorf("ListTenants with cursor %q: %v, want ErrInvalidCursor", c, err)
		}
	}
}

func listReceipts(t *testing.T, s Stores, c *Clock) {
	ctx := context.Background()
	d := s.Deliveries
	if rs, next, err := d.ListReceipts(ctx, 10, ""); err != nil || len(rs) != 0 || next != "" {
		t.Fatalf("ListReceipts of an empty table = %v, %q, %v", rs, next, err)
	}
	// d-0 ... d-6, received a minute apart in a shuffled order.
	claim := func(id string, at time.Time) edge.Receipt {
		t.Helper()
		r := Receipt(edge.DeliveryKey("shopify", "eu-shop.myshopify.com", id), "c-"+id, at)
		r.DeliveryID = id
		got, claimed, err := d.Claim(ctx, r, at)
		if err != nil || !claimed {
			t.Fatalf("Claim %s = %v, %v", id, claimed, err)
		}
		return got
	}
	settle := func(r edge.Receipt, state edge.State, outcome string, at time.Time) {
		t.Helper()
		r.State, r.Outcome, r.UpdatedAt = state, outcome, at
		if state == edge.StateForwarded {
			r.ForwardedTo = []string{"eu"}
		}
		if err := d.Settle(ctx, r); err != nil {
			t.Fatalf("Settle %s: %v", r.DeliveryID, err)
		}
	}
	for _, i := range []int{3, 0, 6, 1, 5, 2, 4} {
		id := fmt.Sprint("d-", i)
		at := T0.Add(time.Duration(i) * time.Minute)
		r := claim(id, at)
		if i != 4 { // d-4 stays in flight
			settle(r, edge.StateForwarded, edge.OutcomeForwarded, at.Add(time.Second))
		}
	}
	// d-7's region was down; the provider's retry an hour later keeps the
	// first receipt time, so d-7 keeps its place.
	k7 := edge.DeliveryKey("shopify", "eu-shop.myshopify.com", "d-7")
	r7 := claim("d-7", T0.Add(7*time.Minute))
	settle(r7, edge.StateReleased, edge.OutcomeRegionUnavailable, T0.Add(7*time.Minute+time.Second))
	retry := Receipt(k7, "c-d-7-retry", T0.Add(90*time.Minute))
	retry.DeliveryID = "d-7"
	if _, claimed, err := d.Claim(ctx, retry, T0.Add(90*time.Minute)); err != nil || !claimed {
		t.Fatalf("retry of d-7: %v, %v", claimed, err)
	}
	// An hour's alert throttle receipt, the newest of all: not a delivery.
	alert := claim("alert:secret_missing", T0.Add(2*time.Hour))
	settle(alert, edge.StateForwarded, edge.OutcomeAlerted, T0.Add(2*time.Hour))
	// A receipt past its expiry is gone from the listing, as from Claim.
	expired := Receipt(edge.DeliveryKey("shopify", "eu-shop.myshopify.com", "d-old"), "c-old", T0.Add(-time.Hour))
	expired.DeliveryID, expired.ExpiresAt = "d-old", T0.Add(30*time.Minute)
	if _, _, err := d.Claim(ctx, expired, T0.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	c.Set(T0.Add(3 * time.Hour))

	want := []string{"d-7", "d-6", "d-5", "d-4", "d-3", "d-2", "d-1", "d-0"}
	for _, limit := range []int{1, 3, 8, 50} {
		got, n := pages(t, receiptIDs(d), limit)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("limit %d: receipts over %d pages (-want newest first, each once +got):\n%s", limit, n, diff)
		}
		if wantPages := (len(want) + limit - 1) / limit; n != wantPages {
			t.Errorf("limit %d: %d pages, want %d (no empty last page)", limit, n, wantPages)
		}
	}
	rs, next, err := d.ListReceipts(ctx, 2, "")
	if err != nil || len(rs) != 2 || next == "" {
		t.Fatalf("ListReceipts(2) = %+v, %q, %v", rs, next, err)
	}
	want7 := edge.Receipt{Key: k7, Provider: "shopify", DeliveryID: "d-7", TenantHash: edge.Hash("eu-shop.myshopify.com"), ReceivedIn: "eu-central-1",
		State: edge.StateClaimed, Outcome: edge.OutcomeRegionUnavailable, ReceivedAt: T0.Add(7 * time.Minute), UpdatedAt: T0.Add(90 * time.Minute),
		Claim: "c-d-7-retry", LeaseUntil: T0.Add(91 * time.Minute), Attempts: 2, ExpiresAt: T0.Add(90*time.Minute + 35*24*time.Hour)}
	if diff := cmp.Diff(want7, rs[0], equateEmpty); diff != "" {
		t.Errorf("listed receipt (-want +got):\n%s", diff)
	}
	if rs[1].State != edge.StateForwarded || !cmp.Equal(rs[1].ForwardedTo, []string{"eu"}) || rs[1].Outcome != edge.OutcomeForwarded {
		t.Errorf("listed d-6 = %+v", rs[1])
	}
	// The cursor goes on after d-6: a delivery received since is not on
	// the later pages (it is newer than the cursor).
	claim("d-8", T0.Add(150*time.Minute))
	got := []string{}
	for cursor := next; cursor != ""; {
		rs, n, err := d.ListReceipts(ctx, 4, cursor)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			got = append(got, r.DeliveryID)
		}
		cursor = n
	}
	if diff := cmp.Diff(want[2:], got); diff != "" {
		t.Errorf("pages after d-6 (-want +got):\n%s", diff)
	}
	for _, bad := range badCursors {
		if _, _, err := d.ListReceipts(ctx, 2, bad); !errors.Is(err, edge.ErrInvalidCursor) {
			t.Errorf("ListReceipts with cursor %q: %v, want ErrInvalidCursor", bad, err)
		}
	}
}

func listGlobals(t *testing.T, s Stores, _ *Clock) {
	ctx := context.Background()
	gs := s.Globals
	if l, next, err := gs.ListGlobals(ctx, 10, ""); err != nil || len(l) != 0 || next != "" {
		t.Fatalf("ListGlobals of an empty table = %v, %q, %v", l, next, err)
	}
	id := func(i int) string { return fmt.Sprintf("eg_0196a0a0-%04x-7000-8000-000000000001", i) }
	for _, i := range []int{4, 1, 6, 0, 3, 5, 2} {
		g := edge.Global{ID: id(i), CreatedAt: T0.Add(time.Duration(i) * time.Minute), Regions: []edge.GlobalRegion{
			{Region: "eu", RequestID: fmt.Sprintf("er_eu_0196a0a0-%04x-7000-8000-00000000000a", i)},
		}}
		if err := gs.CreateGlobal(ctx, g); err != nil {
			t.Fatal(err)
		}
		// Idempotency-Key bindings live beside the records; not listed.
		if _, _, _, err := gs.ClaimIdempotencyKey(ctx, edge.Hash(fmt.Sprint("key-", i)), id(i), "plan", T0.Add(24*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	states := []edge.GlobalRegion{{Region: "eu", RequestID: "er_eu_0196a0a0-0005-7000-8000-00000000000a", Status: "completed"}}
	if err := gs.RecordStates(ctx, id(5), states, T0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	want := []string{id(6), id(5), id(4), id(3), id(2), id(1), id(0)}
	for _, limit := range []int{1, 2, 7, 50} {
		got, n := pages(t, globalIDs(gs), limit)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("limit %d: global erasures over %d pages (-want newest first, each once +got):\n%s", limit, n, diff)
		}
		if wantPages := (len(want) + limit - 1) / limit; n != wantPages {
			t.Errorf("limit %d: %d pages, want %d (no empty last page)", limit, n, wantPages)
		}
	}
	l, next, err := gs.ListGlobals(ctx, 2, "")
	if err != nil || len(l) != 2 || next == "" {
		t.Fatalf("ListGlobals(2) = %+v, %q, %v", l, next, err)
	}
	want5 := edge.Global{ID: id(5), CreatedAt: T0.Add(5 * time.Minute), UpdatedAt: T0.Add(time.Hour), Regions: states}
	if diff := cmp.Diff(want5, l[1]); diff != "" {
		t.Errorf("listed record (-want +got):\n%s", diff)
	}
	// A record created since the first page is newer than its cursor: not
	// on the pages that follow.
	if err := gs.CreateGlobal(ctx, edge.Global{ID: id(7), CreatedAt: T0.Add(7 * time.Minute), Regions: states}); err != nil {
		t.Fatal(err)
	}
	l, next, err = gs.ListGlobals(ctx, 3, next)
	if err != nil || len(l) != 3 || l[0].ID != id(4) || l[2].ID != id(2) || next == "" {
		t.Fatalf("page after %s = %+v, %q, %v", id(5), l, next, err)
	}
	for _, bad := range badCursors {
		if _, _, err := gs.ListGlobals(ctx, 2, bad); !errors.Is(err, edge.ErrInvalidCursor) {
			t.Errorf("ListGlobals with cursor %q: %v, want ErrInvalidCursor", bad, err)
		}
	}
}

// listCursors: a cursor of one listing is refused by the others.
func listCursors(t *testing.T, s Stores, _ *Clock) {
	ctx := context.Background()
	for _, k := range []string{"a.example", "b.example"} {
		if _, _, _, err := s.Directory.PutTenant(ctx, k, "eu", false, T0); err != nil {
			t.Fatal(err)
		}
	}
	for i, id := range []string{"d-1", "d-2"} {
		r := Receipt(edge.DeliveryKey("shopify", "a.example", id), "c", T0.Add(time.Duration(i)*time.Second))
		r.DeliveryID = id
		if _, _, err := s.Deliveries.Claim(ctx, r, T0); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"eg_0196a0a0-0000-7000-8000-000000000001", "eg_0196a0a0-0000-7000-8000-000000000002"} {
		if err := s.Globals.CreateGlobal(ctx, edge.Global{ID: id, CreatedAt: T0, Regions: []edge.GlobalRegion{{Region: "eu", RequestID: "er_eu_1"}}}); err != nil {
			t.Fatal(err)
		}
	}
	listers := map[string]lister{"tenants": tenantIDs(s.Directory), "receipts": receiptIDs(s.Deliveries), "globals": globalIDs(s.Globals)}
	cursors := map[string]string{}
	for name, list := range listers {
		_, next, err := list(ctx, 1, "")
		if err != nil || next == "" {
			t.Fatalf("%s: first page of 1 handed out next %q, %v", name, next, err)
		}
		cursors[name] = next
	}
	for name, list := range listers {
		for other, cursor := range cursors {
			_, _, err := list(ctx, 1, cursor)
			if other == name && err != nil {
				t.Errorf("%s refused its own cursor: %v", name, err)
			}
			if other != name && !errors.Is(err, edge.ErrInvalidCursor) {
				t.Errorf("%s took a cursor of %s: %v, want ErrInvalidCursor", name, other, err)
			}
		}
	}
}
