package edgeembedded

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"github.com/lethe-erasure/lethe/internal/edge"
	"github.com/lethe-erasure/lethe/internal/store/edgestoretest"
)

var t0 = edgestoretest.T0

// count is how many items a bucket holds, swept or not.
func count(t *testing.T, db *DB, bucket []byte) int {
	t.Helper()
	n := 0
	if err := db.bolt.View(func(tx *bolt.Tx) error { n = tx.Bucket(bucket).Stats().KeyN; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestReopenKeepsEverything: what was written is in the file, not in the
// process: closed and opened again, every table reads the same.
func TestReopenKeepsEverything(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "data", "edge.db")
	clock := edgestoretest.NewClock(t0)
	db, err := Open(path, Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	tenant, _, _, err := db.Directory().PutTenant(ctx, "eu-shop.myshopify.com", "eu", false, t0)
	if err != nil {
		t.Fatal(err)
	}
	k := edge.DeliveryKey("shopify", "eu-shop.myshopify.com", "d-1")
	r, _, err := db.Deliveries().Claim(ctx, edgestoretest.Receipt(k, "c1", t0), t0)
	if err != nil {
		t.Fatal(err)
	}
	r.State, r.Outcome, r.ForwardedTo = edge.StateForwarded, edge.OutcomeForwarded, []string{"eu"}
	if err := db.Deliveries().Settle(ctx, r); err != nil {
		t.Fatal(err)
	}
	inFlight := edge.DeliveryKey("shopify", "eu-shop.myshopify.com", "d-2")
	if _, _, err := db.Deliveries().Claim(ctx, edgestoretest.Receipt(inFlight, "c2", t0), t0); err != nil {
		t.Fatal(err)
	}
	h := edgestoretest.HeldFixture()
	if err := db.Quarantine().Hold(ctx, h); err != nil {
		t.Fatal(err)
	}
	g := edge.Global{ID: "eg_1", CreatedAt: t0, Regions: []edge.GlobalRegion{{Region: "eu", RequestID: "er_eu_1", Status: "running"}}}
	if err := db.Globals().CreateGlobal(ctx, g); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := db.Globals().ClaimIdempotencyKey(ctx, edge.Hash("k"), "eg_1", "p", t0.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = Open(path, Options{Now: clock.Now})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	if got, err := db.Directory().Tenant(ctx, tenant.Key); err != nil || got != tenant {
		t.Errorf("tenant after reopen = %+v, %v; want %+v", got, err, tenant)
	}
	cur, claimed, err := db.Deliveries().Claim(ctx, edgestoretest.Receipt(k, "c3", t0.Add(time.Hour)), t0.Add(time.Hour))
	if err != nil || claimed || cur.State != edge.StateForwarded || !cmp.Equal(cur.ForwardedTo, []string{"eu"}) {
		t.Errorf("a forwarded delivery after reopen = %+v, claimed=%v, %v; want a duplicate", cur, claimed, err)
	}
	cur, claimed, err = db.Deliveries().Claim(ctx, edgestoretest.Receipt(inFlight, "c4", t0.Add(time.Second)), t0.Add(time.Second))
	if err != nil || claimed || cur.Claim != "c2" {
		t.Errorf("a claimed delivery after reopen = %+v, claimed=%v, %v; want c2's claim to hold", cur, claimed, err)
	}
	if got, err := db.Quarantine().Held(ctx, h.ID); err != nil || !cmp.Equal(got, h) {
		t.Errorf("held delivery after reopen: %v\n%s", err, cmp.Diff(h, got))
	}
	if got, err := db.Globals().Global(ctx, g.ID); err != nil || !cmp.Equal(got, g) {
		t.Errorf("global after reopen: %v\n%s", err, cmp.Diff(g, got))
	}
	if id, _, created, err := db.Globals().ClaimIdempotencyKey(ctx, edge.Hash("k"), "eg_2", "q", t0.Add(24*time.Hour)); err != nil || created || id != "eg_1" {
		t.Errorf("idempotency key after reopen = %s, created=%v, %v; want eg_1", id, created, err)
	}
	// The file holds webhook bodies: its owner alone may read it.
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
}

// TestOpenWhileHeld: a second Open of a file another handle holds fails
// soon, saying why.
func TestOpenWhileHeld(t *testing.T) {
	path := filepath.Join(t.TempDir(), "edge.db")
	db, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	start := time.Now()
	second, err := Open(path, Options{NoSync: true})
	if err == nil {
		second.Close()
		t.Fatal("a second Open of a held file succeeded")
	}
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "another process") {
		t.Errorf("error = %v, want ErrLocked naming the file", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Open waited %v for the lock", d)
	}
	// Once the first lets go, the file opens.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatalf("Open after the holder closed: %v", err)
	}
	again.Close()
}

func TestOpenRefusesAnotherLayout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "edge.db")
	db, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.bolt.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyVersion, []byte("99")) }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if db, err := Open(path, Options{NoSync: true}); err == nil || !strings.Contains(err.Error(), `"99"`) {
		if db != nil {
			db.Close()
		}
		t.Fatalf("Open of a layout-99 file: %v", err)
	}
	// The refusal released the file.
	if db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second}); err != nil {
		t.Fatalf("file still held after the refused Open: %v", err)
	} else {
		db.Close()
	}
}

// TestClosedStoreIsUnavailable: after Close (the runtime shutting down),
// every call is a *edge.StoreUnavailable, which the edge answers 503.
func TestClosedStoreIsUnavailable(t *testing.T) {
	db := openTemp(t, nil)
	db.Close()
	ctx := context.Background()
	checks := map[string]error{}
	_, checks["Tenant"] = db.Directory().Tenant(ctx, "x")
	_, _, _, checks["PutTenant"] = db.Directory().PutTenant(ctx, "x", "eu", false, t0)
	_, _, checks["Claim"] = db.Deliveries().Claim(ctx, edgestoretest.Receipt("k", "c", t0), t0)
	checks["Settle"] = db.Deliveries().Settle(ctx, edgestoretest.Receipt("k", "c", t0))
	checks["Released"] = db.Deliveries().Released(ctx, "k", nil, t0)
	checks["Hold"] = db.Quarantine().Hold(ctx, edge.Held{ID: "q"})
	_, checks["Held"] = db.Quarantine().Held(ctx, "q")
	_, checks["List"] = db.Quarantine().List(ctx, 5)
	checks["Drop"] = db.Quarantine().Drop(ctx, "q")
	checks["CreateGlobal"] = db.Globals().CreateGlobal(ctx, edge.Global{ID: "g"})
	_, checks["Global"] = db.Globals().Global(ctx, "g")
	checks["RecordStates"] = db.Globals().RecordStates(ctx, "g", nil, t0)
	_, _, _, checks["ClaimIdempotencyKey"] = db.Globals().ClaimIdempotencyKey(ctx, "h", "g", "p", t0)
	_, checks["Sweep"] = db.Sweep(ctx)
	for name, err := range checks {
		var su *edge.StoreUnavailable
		if !errors.As(err, &su) {
			t.Errorf("%s after Close = %v, want *edge.StoreUnavailable", name, err)
		}
	}
}

func TestEndedContexts(t *testing.T) {
	db := openTemp(t, nil)
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := db.Deliveries().Claim(canceled, edgestoretest.Receipt("k", "c", t0), t0)
	var su *edge.StoreUnavailable
	if !errors.Is(err, context.Canceled) || errors.As(err, &su) {
		t.Errorf("Claim with a cancelled context = %v, want context.Canceled, not StoreUnavailable", err)
	}
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	if _, err := db.Directory().Tenant(expired, "x"); !errors.As(err, &su) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Tenant past its deadline = %v, want StoreUnavailable", err)
	}
	if count(t, db, bucketDeliveries) != 0 {
		t.Error("a cancelled Claim wrote")
	}
}

// TestReceiptExpiry: a receipt past its expiresAt, by Options.Now, is
// gone, as DynamoDB's TTL makes it (there, within days): the same delivery
// id is a new delivery again.
func TestReceiptExpiry(t *testing.T) {
	ctx := context.Background()
	clock := edgestoretest.NewClock(t0)
	db := openTemp(t, clock.Now)
	d := db.Deliveries()
	k := edge.DeliveryKey("shopify", "eu-shop.myshopify.com", "old")
	r := edgestoretest.Receipt(k, "c1", t0)
	r.ExpiresAt = t0.Add(time.Hour)
	r, _, err := d.Claim(ctx, r, t0)
	if err != nil {
		t.Fatal(err)
	}
	r.State, r.Outcome, r.ForwardedTo = edge.StateQuarantined, edge.OutcomeQuarantined, []string{edge.ForwardedToQuarantine}
	if err := d.Settle(ctx, r); err != nil {
		t.Fatal(err)
	}
	clock.Set(t0.Add(time.Hour)) // at expiresAt: still there
	if _, claimed, _ := d.Claim(ctx, edgestoretest.Receipt(k, "c2", t0.Add(time.Hour)), t0.Add(time.Hour)); claimed {
		t.Fatal("a receipt was claimed at its expiresAt")
	}
	clock.Set(t0.Add(time.Hour + time.Second))
	if err := d.Released(ctx, k, []string{"eu"}, clock.Now()); err != nil {
		t.Fatal(err)
	}
	now := clock.Now()
	got, claimed, err := d.Claim(ctx, edgestoretest.Receipt(k, "c3", now), now)
	if err != nil || !claimed || got.Attempts != 1 || got.Outcome != "" || got.ForwardedTo != nil || !got.ReceivedAt.Equal(now) {
		t.Fatalf("Claim of an expired receipt = %+v, %v, %v; want a fresh first claim", got, claimed, err)
	}

	// A claim whose receipt expires under it is lost.
	k2 := edge.DeliveryKey("shopify", "eu-shop.myshopify.com", "short")
	r2 := edgestoretest.Receipt(k2, "c1", now)
	r2.ExpiresAt = now.Add(time.Second)
	if _, _, err := d.Claim(ctx, r2, now); err != nil {
		t.Fatal(err)
	}
	clock.Set(now.Add(2 * time.Second))
	if err := d.Settle(ctx, r2); !errors.Is(err, edge.ErrClaimLost) {
		t.Fatalf("Settle of an expired receipt: %v, want ErrClaimLost", err)
	}

	// A receipt without expiresAt never expires.
	k3 := edge.DeliveryKey("shopify", "eu-shop.myshopify.com", "forever")
	r3 := edgestoretest.Receipt(k3, "c1", now)
	r3.ExpiresAt = time.Time{}
	if got, _, err := d.Claim(ctx, r3, now); err != nil || !got.ExpiresAt.IsZero() {
		t.Fatalf("Claim without expiry = %+v, %v", got, err)
	}
	clock.Set(now.AddDate(50, 0, 0))
	if _, claimed, _ := d.Claim(ctx, edgestoretest.Receipt(k3, "c2", now), now); claimed {
		t.Fatal("a receipt without expiresAt expired")
	}
}

// TestHoldOverAnExpiredDelivery: a held delivery past its expiry is gone,
// so holding its id again stores the new one (DynamoDB does the same once
// its TTL has deleted the old item).
func TestHoldOverAnExpiredDelivery(t *testing.T) {
	ctx := context.Background()
	clock := edgestoretest.NewClock(t0)
	q := openTemp(t, clock.Now).Quarantine()
	h := edgestoretest.HeldFixture()
	if err := q.Hold(ctx, h); err != nil {
		t.Fatal(err)
	}
	clock.Set(h.ExpiresAt.Add(time.Hour))
	again := h
	again.Body, again.ReceivedAt, again.ExpiresAt = []byte("again"), clock.Now(), clock.Now().Add(72*time.Hour)
	if err := q.Hold(ctx, again); err != nil {
		t.Fatal(err)
	}
	if got, err := q.Held(ctx, h.ID); err != nil || string(got.Body) != "again" {
		t.Fatalf("Held = %q, %v; want the new delivery", got.Body, err)
	}
}

// TestSweep: expired receipts, held deliveries and Idempotency-Key
// bindings are deleted; everything else stays. A write sweeps by itself
// once an hour of the store's clock has passed.
func TestSweep(t *testing.T) {
	ctx := context.Background()
	clock := edgestoretest.NewClock(t0)
	db := openTemp(t, clock.Now)
	if _, _, _, err := db.Directory().PutTenant(ctx, "eu-help", "eu", false, t0); err != nil {
		t.Fatal(err)
	}
	for i, ttl := range []time.Duration{time.Minute, 48 * time.Hour, 0} {
		r := edgestoretest.Receipt(edge.DeliveryKey("zendesk", "eu-help", string(rune('a'+i))), "c", t0)
		r.ExpiresAt = t0.Add(ttl)
		if ttl == 0 {
			r.ExpiresAt = time.Time{}
		}
		if _, _, err := db.Deliveries().Claim(ctx, r, t0); err != nil {
			t.Fatal(err)
		}
	}
	for i, ttl := range []time.Duration{time.Minute, 48 * time.Hour} {
		h := edgestoretest.HeldFixture()
		h.ID, h.ExpiresAt = edge.QuarantineID(strings.Repeat(string(rune('a'+i)), 32)), t0.Add(ttl)
		if err := db.Quarantine().Hold(ctx, h); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := db.Globals().ClaimIdempotencyKey(ctx, h.ID, "eg_x", "p", t0.Add(ttl)); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Globals().CreateGlobal(ctx, edge.Global{ID: "eg_x", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}

	clock.Set(t0.Add(10 * time.Minute))
	n, err := db.Sweep(ctx)
	if err != nil || n != 3 {
		t.Fatalf("Sweep = %d, %v; want the 3 items a minute past their expiry", n, err)
	}
	want := map[string]int{"tenants": 1, "deliveries": 2, "quarantine": 1, "global": 2}
	for _, b := range [][]byte{bucketTenants, bucketDeliveries, bucketQuarantine, bucketGlobal} {
		if got := count(t, db, b); got != want[string(b)] {
			t.Errorf("%s holds %d items after the sweep, want %d", b, got, want[string(b)])
		}
	}
	if n, _ := db.Sweep(ctx); n != 0 {
		t.Errorf("second Sweep deleted %d", n)
	}

	// Two days on, a write (any write) sweeps the rest: the 48-hour items
	// are gone without a call to Sweep.
	clock.Set(t0.Add(72 * time.Hour))
	if _, _, _, err := db.Directory().PutTenant(ctx, "us-help", "us", false, clock.Now()); err != nil {
		t.Fatal(err)
	}
	if got := count(t, db, bucketDeliveries) + count(t, db, bucketQuarantine) + count(t, db, bucketGlobal); got != 2 {
		t.Errorf("%d items left after the lazy sweep, want the receipt without expiry and the global record", got)
	}
	// Within the hour, writes do not sweep again.
	h := edgestoretest.HeldFixture()
	h.ExpiresAt = clock.Now().Add(time.Minute)
	if err := db.Quarantine().Hold(ctx, h); err != nil {
		t.Fatal(err)
	}
	clock.Set(clock.Now().Add(30 * time.Minute))
	if _, _, _, err := db.Directory().PutTenant(ctx, "x", "us", false, clock.Now()); err != nil {
		t.Fatal(err)
	}
	if count(t, db, bucketQuarantine) != 1 {
		t.Error("a write swept within the hour")
	}
}

// TestReceiptsHoldNoTenantKey: the deliveries bucket never holds the
// tenant key in clear, nor a body or a header.
func TestReceiptsHoldNoTenantKey(t *testing.T) {
	ctx := context.Background()
	db := openTemp(t, edgestoretest.NewClock(t0).Now)
	k := edge.DeliveryKey("shopify", "eu-shop.myshopify.com", "d-1")
	r, _, err := db.Deliveries().Claim(ctx, edgestoretest.Receipt(k, "c", t0), t0)
	if err != nil {
		t.Fatal(err)
	}
	r.State, r.ForwardedTo = edge.StateForwarded, []string{"eu"}
	if err := db.Deliveries().Settle(ctx, r); err != nil {
		t.Fatal(err)
	}
	err = db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDeliveries).ForEach(func(k, v []byte) error {
			for _, bad := range []string{"eu-shop", `"body"`, `"header"`} {
				if bytes.Contains(v, []byte(bad)) || bytes.Contains(k, []byte(bad)) {
					t.Errorf("receipt holds %s: %s", bad, v)
				}
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestReceipt(t *testing.T) {
	ctx := context.Background()
	clock := edgestoretest.NewClock(t0)
	d := openTemp(t, clock.Now).Deliveries()
	k := edge.DeliveryKey("shopify", "eu-shop.myshopify.com", "d-1")
	if _, err := d.Receipt(ctx, k); !errors.Is(err, edge.ErrNotFound) {
		t.Fatalf("Receipt before a claim: %v, want ErrNotFound", err)
	}
	claimed, _, err := d.Claim(ctx, edgestoretest.Receipt(k, "c1", t0), t0)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := d.Receipt(ctx, k); err != nil || !cmp.Equal(got, claimed) {
		t.Fatalf("Receipt = %+v, %v; want %+v", got, err, claimed)
	}
	clock.Set(claimed.ExpiresAt.Add(time.Second))
	if _, err := d.Receipt(ctx, k); !errors.Is(err, edge.ErrNotFound) {
		t.Fatalf("Receipt past its expiry: %v, want ErrNotFound", err)
	}
}

// BenchmarkClaimSettle is the store's part of one forwarded webhook: a
// claim and its settle, two committed transactions, with and without the
// fsync of each commit.
func BenchmarkClaimSettle(b *testing.B) {
	for _, noSync := range []bool{false, true} {
		b.Run(map[bool]string{false: "sync", true: "nosync"}[noSync], func(b *testing.B) {
			db, err := Open(filepath.Join(b.TempDir(), "edge.db"), Options{NoSync: noSync, Now: func() time.Time { return t0 }})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			ctx, d := context.Background(), db.Deliveries()
			for i := 0; b.Loop(); i++ {
				r := edgestoretest.Receipt(edge.DeliveryKey("shopify", "eu-shop.myshopify.com", strconv.Itoa(i)), "c", t0)
				if _, _, err := d.Claim(ctx, r, t0); err != nil {
					b.Fatal(err)
				}
				r.State, r.Outcome, r.ForwardedTo = edge.StateForwarded, edge.OutcomeForwarded, []string{"eu"}
				if err := d.Settle(ctx, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestQuarantinedBodyIsUnreadableOnceGone: a held body is sealed in the
// file; once the delivery is dropped (released) or swept (expired), its key
// is shredded, so nothing of it can be read from the file again — not even
// from bbolt's freed pages.
func TestQuarantinedBodyIsUnreadableOnceGone(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "edge.db")
	clock := edgestoretest.NewClock(t0)
	db, err := Open(path, Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	secret := []byte(`{"customer":{"email":"quentin-the-quarantined@example.com"}}`)
	for _, id := range []string{"released", "expired"} {
		if err := db.Quarantine().Hold(ctx, edge.Held{ID: id, Provider: "shopify", Body: secret, ReceivedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	raw, _ := os.ReadFile(path)
	if bytes.Contains(raw, []byte("quentin")) {
		t.Fatal("a held body is in the file in clear")
	}
	if h, err := db.Quarantine().Held(ctx, "released"); err != nil || !bytes.Equal(h.Body, secret) {
		t.Fatalf("held body = %q, %v", h.Body, err)
	}
	sealed := map[string][]byte{}
	for _, id := range []string{"released", "expired"} {
		_ = db.bolt.View(func(tx *bolt.Tx) error {
			sealed[id] = append([]byte(nil), tx.Bucket(bucketQuarantine).Get([]byte(id))...)
			return nil
		})
	}
	if err := db.Quarantine().Drop(ctx, "released"); err != nil {
		t.Fatal(err)
	}
	clock.Set(t0.Add(2 * time.Hour))
	if n, err := db.Sweep(ctx); err != nil || n == 0 {
		t.Fatalf("sweep = %d, %v", n, err)
	}
	// What a freed page may still hold no longer opens.
	for id, v := range sealed {
		var it heldItem
		if err := json.Unmarshal(v, &it); err != nil {
			t.Fatal(err)
		}
		if _, err := it.held(id, db.keys); err == nil {
			t.Errorf("%s: the sealed body still opens after its delivery is gone", id)
		}
	}
	if n, _ := db.keys.Count(); n != 0 {
		t.Fatalf("%d keys left", n)
	}
}
