// Package storetest is the contract every requests store of Lethe keeps:
// the DynamoDB adapter (against DynamoDB Local) and the embedded store of
// `lethe local` run the same suite, so that the handlers behave the same on
// a laptop as on AWS. A behaviour one store has and the other lacks shows up
// here as a failure of one of them.
package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lethe-erasure/lethe/internal/audit"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/subjectkey/subjectkeytest"
	"github.com/lethe-erasure/lethe/internal/webhook"
)

// Store is what the handlers (api, starter, subsystem connectors, outcome,
// receiver) need of a region's requests table, together.
type Store interface {
	Create(ctx context.Context, req erasure.Request, idempotencyKey string) (stored erasure.Request, created bool, err error)
	Get(ctx context.Context, id string) (erasure.Request, error)
	List(ctx context.Context, limit int) ([]erasure.Request, error)
	MarkRunning(ctx context.Context, id string) error
	SubjectOf(ctx context.Context, requestID string) (string, error)
	RecordOutcome(ctx context.Context, id string, status erasure.Status, completedAt time.Time, results []erasure.SubsystemResult) (erasure.Request, error)
	RegisterTenant(ctx context.Context, tenant string) (registeredAt time.Time, created bool, err error)
	TenantRegistration(ctx context.Context, tenant string) (registeredAt time.Time, ok bool, err error)
	OwnsTenant(ctx context.Context, tenant string) (bool, error)
	Change(ctx context.Context, id string, fn func(*erasure.Request) ([]audit.Record, error)) (erasure.Request, error)
	Audit(ctx context.Context, requestID string, limit int) ([]audit.Record, error)
	OpenRequests(ctx context.Context) ([]erasure.Request, error)
	HeldRequests(ctx context.Context, deadlineBefore time.Time) ([]erasure.Request, error)
	Suppressed(ctx context.Context, hashes []string) (map[string][]erasure.Erased, error)
	AppendAudit(ctx context.Context, recs ...audit.Record) error
	AuditFrom(ctx context.Context, from int64, limit int) ([]audit.Record, error)
	Page(ctx context.Context, after string, limit, examine int, match func(erasure.Request) bool) ([]erasure.Request, string, error)
	PutCallback(ctx context.Context, hash, requestID, subsystem string, expires time.Time) error
	CallbackTarget(ctx context.Context, hash string) (requestID, subsystem string, err error)
}

// Opener returns a new, empty store of region "eu" whose clock (idempotency
// key expiry, tenant registration times) is now. It cleans up with
// t.Cleanup, and skips t when its server is not available.
type Opener func(t *testing.T, now func() time.Time) Store

// Clock is the suite's clock: the wall clock moved by an offset, so that a
// test can jump past an Idempotency-Key's lifetime.
type Clock struct{ offset atomic.Int64 }

// Now is the clock's time.
func (c *Clock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// T0 is the receipt time of the suite's requests.
var T0 = time.Date(2026, 3, 31, 9, 30, 0, 123456789, time.UTC)

// unknownID is a well-formed request id that no test creates.
const unknownID = "er_eu_0198f0a4-7b1c-7d2e-8f00-000000000000"

// NewRequest returns a pending request as the API handler builds it.
func NewRequest(t testing.TB, subject string) erasure.Request {
	t.Helper()
	id, err := erasure.NewID("eu")
	if err != nil {
		t.Fatal(err)
	}
	r := erasure.Request{
		ID:         id,
		Source:     erasure.SourceAPI,
		Status:     erasure.StatusPending,
		ReceivedAt: T0,
		Deadline:   T0.AddDate(0, 1, 0),
	}
	if err := r.SetSubject(subjectkeytest.Key(), subject); err != nil {
		t.Fatal(err)
	}
	return r
}

// itemKey is the key the requests table's layout gives a lock or
// Idempotency-Key item: prefix + hex(SHA-256(value)). No store may answer
// such a key as a request.
func itemKey(prefix, value string) string {
	sum := sha256.Sum256([]byte(value))
	return prefix + hex.EncodeToString(sum[:])
}

// MustCreate creates req with the key and fails t unless a new request
// was stored.
func MustCreate(t *testing.T, s Store, req erasure.Request, key string) erasure.Request {
	t.Helper()
	got, created, err := s.Create(context.Background(), req, key)
	if err != nil {
		t.Fatalf("Create(%s): %v", req.ID, err)
	}
	if !created || got.ID != req.ID {
		t.Fatalf("Create(%s) = %s, created=%v; want a new request", req.ID, got.ID, created)
	}
	return got
}

// Run runs the contract against stores made by open, one per subtest.
func Run(t *testing.T, open Opener) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, s Store, clock *Clock)
	}{
		{"CreateGetList", testCreateGetList},
		{"CreateNormalisesTimes", testCreateNormalisesTimes},
		{"CreateRejectsBadRequests", testCreateRejectsBadRequests},
		{"OpenSubjectDedup", testOpenSubjectDedup},
		{"IdempotencyKey", testIdempotencyKey},
		{"IdempotencyKeyExpires", testIdempotencyKeyExpires},
		{"IdempotencyKeyBoundToOpenRequest", testIdempotencyKeyBoundToOpenRequest},
		{"Change", testChange},
		{"ConcurrentCreatesOneSubject", testConcurrentCreates},
		{"ConcurrentCreatesOneKey", testConcurrentCreatesOneKey},
		{"RecordOutcome", testRecordOutcome},
		{"RecordOutcomeConcurrent", testRecordOutcomeConcurrent},
		{"MarkRunning", testMarkRunning},
		{"SubjectOf", testSubjectOf},
		{"ForgetOnCompletion", testForgetOnCompletion},
		{"ForgetSettledByChange", testForgetSettledByChange},
		{"ForgetHeldFailed", testForgetHeldFailed},
		{"AuditChain", testAuditChain},
		{"Paging", testPaging},
		{"Callbacks", testCallbacks},
		{"OpenRequests", testOpenRequests},
		{"Tenants", testTenants},
		{"TenantsConcurrent", testTenantsConcurrent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := &Clock{}
			s := open(t, clock.Now)
			tc.test(t, s, clock)
		})
	}
}

func ids(reqs []erasure.Request) []string {
	var out []string
	for _, r := range reqs {
		out = append(out, r.ID)
	}
	return out
}

func testCreateGetList(t *testing.T, s Store, _ *Clock) {
	ctx := context.Background()
	var reqs []erasure.Request
	for i := range 3 {
		r := NewRequest(t, fmt.Sprintf("user-%d@example.com", i))
		r.TenantID = "tenant-1"
		if i == 1 {
			r.Status = "" // defaults to pending
			r.Source = erasure.WebhookSource("shopify")
		}
		reqs = append(reqs, MustCreate(t, s, r, ""))
	}
	for _, want := range reqs {
		got, err := s.Get(ctx, want.ID)
		if err != nil {
			t.Fatalf("Get(%s): %v", want.ID, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Get(%s) (-created +read):\n%s", want.ID, diff)
		}
		if got.Status != erasure.StatusPending || !got.ReceivedAt.Equal(T0) || got.CompletedAt != nil || got.Subsystems != nil {
			t.Errorf("Get(%s) = %+v", want.ID, got)
		}
	}
	for _, tc := range []struct {
		limit int
		want  []string
	}{
		{1, []string{reqs[2].ID}},
		{2, []string{reqs[2].ID, reqs[1].ID}},
		{0, []string{reqs[2].ID, reqs[1].ID, reqs[0].ID}},
		{-1, []string{reqs[2].ID, reqs[1].ID, reqs[0].ID}},
		{1000, []string{reqs[2].ID, reqs[1].ID, reqs[0].ID}},
	} {
		list, err := s.List(ctx, tc.limit)
		if err != nil {
			t.Fatalf("List(%d): %v", tc.limit, err)
		}
		if diff := cmp.Diff(tc.want, ids(list)); diff != "" {
			t.Errorf("List(%d) ids, newest first (-want +got):\n%s", tc.limit, diff)
		}
		for _, r := range list {
			if r.SubjectID == "" {
				t.Errorf("List(%d): %s has no subject id (the item holds it)", tc.limit, r.ID)
			}
		}
	}
	for _, id := range []string{unknownID, "", "subject#0000", itemKey("subject#", "user-0@example.com"), "tenant#eu-help"} {
		if _, err := s.Get(ctx, id); !errors.Is(err, erasure.ErrNotFound) {
			t.Errorf("Get(%q) error = %v, want ErrNotFound", id, err)
		}
	}
}

// testCreateNormalisesTimes: what Create returns is what Get reads back,
// even for times in another location and with monotonic readings.
func testCreateNormalisesTimes(t *testing.T, s Store, _ *Clock) {
	ctx := context.Background()
	paris := time.FixedZone("CEST", 2*3600)
	r := NewRequest(t, "nina@example.com")
	r.ReceivedAt = time.Now().In(paris) // monotonic reading included
	r.Deadline = r.ReceivedAt.AddDate(0, 1, 0)
	got := MustCreate(t, s, r, "")
	if got.ReceivedAt.Location() != time.UTC || !got.ReceivedAt.Equal(r.ReceivedAt) {
		t.Errorf("Create returned receivedAt %v, want %v in UTC", got.ReceivedAt, r.ReceivedAt)
	}
	read, err := s.Get(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, read); diff != "" {
		t.Errorf("Create's answer differs from Get's (-created +read):\n%s", diff)
	}
}

// testCreateRejectsBadRequests: malformed requests are refused before
// anything is written, with errors that never carry the subject id.
func testCreateRejectsBadRequests(t *testing.T, s Store, _ *Clock) {
	ctx := context.Background()
	const subject = "secret-subject@example.com"
	bad := NewRequest(t, subject)
	bad.ID = "not-a-request-id"
	noSubject := NewRequest(t, "")
	for name, req := range map[string]erasure.Request{"bad id": bad, "no subject": noSubject} {
		_, _, err := s.Create(ctx, req, "")
		if err == nil {
			t.Errorf("%s: Create succeeded", name)
			continue
		}
		if strings.Contains(err.Error(), subject) {
			t.Errorf("%s: error carries the subject id: %v", name, err)
		}
	}
	if list, err := s.List(ctx, 0); err != nil || len(list) != 0 {
		t.Errorf("after refusals List = %v, %v; want nothing", ids(list), err)
	}
	// The refused request took no lock.
	MustCreate(t, s, NewRequest(t, subject), "")
}

func testOpenSubjectDedup(t *testing.T, s Store, _ *Clock) {
	ctx := context.Background()
	first := MustCreate(t, s, NewRequest(t, "alice@example.com"), "")
	second := NewRequest(t, "alice@example.com")
	got, created, err := s.Create(ctx, second, "")
	if err != nil || created || got.ID != first.ID {
		t.Fatalf("second Create = %s, created=%v, %v; want %s, created=false", got.ID, created, err, first.ID)
	}
	if diff := cmp.Diff(first, got); diff != "" {
		t.Errorf("second Create did not return the open request (-first +got):\n%s", diff)
	}
	if _, err := s.Get(ctx, second.ID); !errors.Is(err, erasure.ErrNotFound) {
		t.Errorf("the refused request was stored: Get error = %v", err)
	}
	// Running still counts as open.
	if err := s.MarkRunning(ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	if got, created, err := s.Create(ctx, NewRequest(t, "alice@example.com"), "some-key"); err != nil || created || got.ID != first.ID || got.Status != erasure.StatusRunning {
		t.Fatalf("Create while running = %s %s, created=%v, %v; want %s running", got.ID, got.Status, created, err, first.ID)
	}
	// The key answered with the open request is bound to it: it cannot file
	// bob's request, and another subject is not affected.
	if _, _, err := s.Create(ctx, NewRequest(t, "bob@example.com"), "some-key"); !errors.Is(err, erasure.ErrIdempotencyKeyReused) {
		t.Errorf("some-key for bob: error = %v; want ErrIdempotencyKeyReused", err)
	}
	MustCreate(t, s, NewRequest(t, "bob@example.com"), "other-key")
	if list, err := s.List(ctx, 0); err != nil || len(list) != 2 {
		t.Errorf("List = %v, %v; want 2 requests", ids(list), err)
	}
}

// testIdempotencyKeyBoundToOpenRequest: a key first answered with the
// subject's already-open request, replayed after that request closed,
// returns that request again and files nothing.
func testIdempotencyKeyBoundToOpenRequest(t *testing.T, s Store, _ *Clock) {
	ctx := context.Background()
	first := MustCreate(t, s, NewRequest(t, "alice@example.com"), "")
	got, created, err := s.Create(ctx, NewRequest(t, "alice@example.com"), "webhook-1")
	if err != nil || created || got.ID != first.ID {
		t.Fatalf("Create with webhook-1 = %s, created=%v, %v; want %s", got.ID, created, err, first.ID)
	}
	if _, err := s.RecordOutcome(ctx, first.ID, erasure.StatusCompleted, T0.Add(time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	replay := NewRequest(t, "alice@example.com")
	got, created, err = s.Create(ctx, replay, "webhook-1")
	if err != nil || created || got.ID != first.ID {
		t.Fatalf("replay of webhook-1 after close = %s, created=%v, %v; want %s, created=false", got.ID, created, err, first.ID)
	}
	if _, err := s.Get(ctx, replay.ID); !errors.Is(err, erasure.ErrNotFound) {
		t.Errorf("the replay stored a second request: Get error = %v", err)
	}
	// Without the key, the closed request no longer holds the subject.
	MustCreate(t, s, NewRequest(t, "alice@example.com"), "")
}

// testChange: Change writes what fn made of the request with its audit
// records, bumps rev, writes nothing on ErrUnchanged or a refusal, and
// loses no update among concurrent writers.
func testChange(t *testing.T, s Store, _ *Clock) {
	ctx := context.Background()
	req := MustCreate(t, s, NewRequest(t, "alice@example.com"), "")
	if err := s.MarkRunning(ctx, req.ID); err != nil {
		t.Fatal(err)
	}
	running, err := s.Get(ctx, req.ID)
	if err != nil {
		t.Fatal(err)
	}
	if running.Rev != 1 {
		t.Errorf("rev after MarkRunning = %d; want 1", running.Rev)
	}
	rec, err := audit.New(req.ID, T0, "arn:aws:iam::123456789012:user/ops", audit.ActionExtension, map[string]string{"months": "1"})
	if err != nil {
		t.Fatal(err)
	}
	newDeadline := req.Deadline.AddDate(0, 1, 0)
	at := T0.Add(time.Hour)
	changed, err := s.Change(ctx, req.ID, func(r *erasure.Request) ([]audit.Record, error) {
		r.Extensions = append(r.Extensions, erasure.Extension{By: "ops", At: at, Months: 1, Reason: "complex", OldDeadline: r.Deadline, NewDeadline: newDeadline})
		r.Deadline = newDeadline
		r.Subsystems = append(r.Subsystems, erasure.SubsystemResult{Name: "orders", Mode: "async", Status: erasure.SubsystemPending,
			Attempts: 3, LastError: "503", UnavailableSince: &at, Streak: 2, NextAttemptAt: &newDeadline, Alerts: []string{erasure.AlertUnavailable},
			Attestation: &erasure.Attestation{By: "ops", At: at, Outcome: erasure.SubsystemNotFound, Note: "checked"}})
		return []audit.Record{rec}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, req.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(changed, got); diff != "" {
		t.Errorf("Change's answer differs from Get (-answer +get):\n%s", diff)
	}
	if got.Rev != 2 || !got.Deadline.Equal(newDeadline) || len(got.Extensions) != 1 || got.Extensions[0].Reason != "complex" ||
		len(got.Subsystems) != 1 || got.Subsystems[0].Attestation == nil || got.Subsystems[0].Streak != 2 || !got.Subsystems[0].Alerted(erasure.AlertUnavailable) {
		t.Errorf("after Change: %+v", got)
	}
	if sub, _ := s.SubjectOf(ctx, req.ID); sub != "alice@example.com" {
		t.Errorf("SubjectOf after Change = %q", sub)
	}
	recs, err := s.Audit(ctx, req.ID, 0)
	if err != nil || len(recs) != 1 || recs[0].ID != rec.ID || recs[0].Actor != rec.Actor || recs[0].Detail["months"] != "1" || !recs[0].At.Equal(T0.Truncate(time.Millisecond)) {
		t.Errorf("Audit = %+v, %v; want the one record", recs, err)
	}

	// Refusals and ErrUnchanged write nothing.
	refusal := errors.New("not allowed")
	if _, err := s.Change(ctx, req.ID, func(r *erasure.Request) ([]audit.Record, error) {
		r.Status = erasure.StatusFailed
		return nil, refusal
	}); !errors.Is(err, refusal) {
		t.Errorf("refused Change error = %v; want the function's", err)
	}
	if _, err := s.Change(ctx, req.ID, func(r *erasure.Request) ([]audit.Record, error) {
		r.Status = erasure.StatusFailed
		return nil, erasure.ErrUnchanged
	}); err != nil {
		t.Errorf("unchanged Change error = %v", err)
	}
	if after, _ := s.Get(ctx, req.ID); after.Rev != 2 || after.Status != erasure.StatusRunning {
		t.Errorf("after refused changes: rev %d status %s; want 2 running", after.Rev, after.Status)
	}
	if _, err := s.Change(ctx, unknownID, func(*erasure.Request) ([]audit.Record, error) { return nil, nil }); !errors.Is(err, erasure.ErrNotFound) {
		t.Errorf("Change of an unknown id: %v; want ErrNotFound", err)
	}

	// Concurrent writers each add one attempt: none is lost.
	const writers = 8
	var wg sync.WaitGroup
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Change(ctx, req.ID, func(r *erasure.Request) ([]audit.Record, error) {
				r.Subsystems[0].Attempts++
				return nil, nil
			}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if after, _ := s.Get(ctx, req.ID); after.Subsystems[0].Attempts != 3+writers || after.Rev != 2+writers {
		t.Errorf("after %d concurrent changes: attempts %d rev %d; want %d and %d", writers, after.Subsystems[0].Attempts, after.Rev, 3+writers, 2+writers)
	}

	// RecordOutcome bumps rev too, so a write that read before it fails over.
	if _, err := s.RecordOutcome(ctx, req.ID, erasure.StatusFailed, T0.Add(2*time.Hour), got.Subsystems); err != nil {
		t.Fatal(err)
	}
	if after, _ := s.Get(ctx, req.ID); after.Rev != 3+writers {
		t.Errorf("rev after RecordOutcome = %d; want %d", after.Rev, 3+writers)
	}
	// Region-wide audit listing.
	other := MustCreate(t, s, NewRequest(t, "bob@example.com"), "")
	rec2, _ := audit.New(other.ID, T0, "ops", audit.ActionRetry, nil)
	if _, err := s.Change(ctx, other.ID, func(*erasure.Request) ([]audit.Record, error) { return []audit.Record{rec2}, nil }); err != nil {
		t.Fatal(err)
	}
	all, err := s.Audit(ctx, "", 0)
	if err != nil || len(all) != 2 {
		t.Errorf("Audit of the region = %+v, %v; want 2 records", all, err)
	}
	if only, _ := s.Audit(ctx, other.ID, 0); len(only) != 1 || only[0].Action != audit.ActionRetry {
		t.Errorf("Audit of %s = %+v", other.ID, only)
	}
}

func testIdempotencyKey(t *testing.T, s Store, _ *Clock) {
	ctx := context.Background()
	first := MustCreate(t, s, NewRequest(t, "alice@example.com"), "key-1")

	// Same key, same subject: the same request, nothing new stored.
	again := NewRequest(t, "alice@example.com")
	got, created, err := s.Create(ctx, again, "key-1")
	if err != nil || created || got.ID != first.ID {
		t.Fatalf("retry with key-1 = %s, created=%v, %v; want %s", got.ID, created, err, first.ID)
	}
	if _, err := s.Get(ctx, again.ID); !errors.Is(err, erasure.ErrNotFound) {
		t.Errorf("retry stored a second request: %v", err)
	}

	// Same key, another subject: refused, nothing of it stored, and the
	// error does not name either subject.
	other := NewRequest(t, "bob@example.com")
	_, _, err = s.Create(ctx, other, "key-1")
	if !errors.Is(err, erasure.ErrIdempotencyKeyReused) {
		t.Fatalf("key-1 for another subject: error = %v, want ErrIdempotencyKeyReused", err)
	}
	if msg := err.Error(); strings.Contains(msg, "alice") || strings.Contains(msg, "bob") {
		t.Errorf("error carries a subject id: %s", msg)
	}
	if _, err := s.Get(ctx, other.ID); !errors.Is(err, erasure.ErrNotFound) {
		t.Errorf("refused request stored: %v", err)
	}
	MustCreate(t, s, NewRequest(t, "bob@example.com"), "key-2") // bob's subject was not locked

	// The key keeps answering with its request after the request closed
	// and the subject's lock was released.
	if _, err := s.RecordOutcome(ctx, first.ID, erasure.StatusCompleted, T0.Add(time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	got, created, err = s.Create(ctx, NewRequest(t, "alice@example.com"), "key-1")
	if err != nil || created || got.ID != first.ID || got.Status != erasure.StatusCompleted {
		t.Fatalf("key-1 after close = %s %s, created=%v, %v; want %s completed", got.ID, got.Status, created, err, first.ID)
	}
	// Without the key, alice can file anew.
	MustCreate(t, s, NewRequest(t, "alice@example.com"), "")
}

// testIdempotencyKeyExpires: after IdempotencyTTL (7 days) on the store's
// clock a key no longer binds, for the same subject or another.
func testIdempotencyKeyExpires(t *testing.T, s Store, clock *Clock) {
	ctx := context.Background()
	first := MustCreate(t, s, NewRequest(t, "alice@example.com"), "key-1")
	if _, err := s.RecordOutcome(ctx, first.ID, erasure.StatusCompleted, T0, nil); err != nil {
		t.Fatal(err)
	}
	clock.Advance(6 * 24 * time.Hour) // within the week: still bound
	if _, _, err := s.Create(ctx, NewRequest(t, "bob@example.com"), "key-1"); !errors.Is(err, erasure.ErrIdempotencyKeyReused) {
		t.Fatalf("key-1 for bob after 6 days: %v, want ErrIdempotencyKeyReused", err)
	}
	clock.Advance(24*time.Hour + time.Minute) // past 7 days
	second := MustCreate(t, s, NewRequest(t, "bob@example.com"), "key-1")
	// And the key now belongs to bob's request.
	got, created, err := s.Create(ctx, NewRequest(t, "bob@example.com"), "key-1")
	if err != nil || created || got.ID != second.ID {
		t.Fatalf("key-1 again = %s, created=%v, %v; want %s", got.ID, created, err, second.ID)
	}
	if _, _, err := s.Create(ctx, NewRequest(t, "alice@example.com"), "key-1"); !errors.Is(err, erasure.ErrIdempotencyKeyReused) {
		t.Errorf("key-1 for alice after it was re-bound to bob: %v, want ErrIdempotencyKeyReused", err)
	}
}

type createResult struct {
	id      string
	created bool
	err     error
}

func createAll(s Store, reqs []erasure.Request, key func(i int) string) []createResult {
	results := make([]createResult, len(reqs))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, req := range reqs {
		wg.Go(func() {
			<-start
			got, created, err := s.Create(context.Background(), req, key(i))
			results[i] = createResult{got.ID, created, err}
		})
	}
	close(start)
	wg.Wait()
	return results
}

func testConcurrentCreates(t *testing.T, s Store, _ *Clock) {
	const n = 30
	reqs := make([]erasure.Request, n)
	for i := range reqs {
		reqs[i] = NewRequest(t, "carol@example.com")
	}
	results := createAll(s, reqs, func(int) string { return "" })
	createdCount := 0
	seen := map[string]int{}
	for _, r := range results {
		if r.err != nil {
			t.Errorf("Create: %v", r.err)
			continue
		}
		seen[r.id]++
		if r.created {
			createdCount++
		}
	}
	if createdCount != 1 || len(seen) != 1 {
		t.Fatalf("%d concurrent Creates of one subject: %d created, ids %v; want exactly one request", n, createdCount, seen)
	}
	list, err := s.List(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Errorf("store holds %d requests, want 1", len(list))
	}
}

// testConcurrentCreatesOneKey: one key sent concurrently for several
// subjects binds to exactly one of them; the others are refused.
func testConcurrentCreatesOneKey(t *testing.T, s Store, _ *Clock) {
	const n = 12
	reqs := make([]erasure.Request, n)
	for i := range reqs {
		reqs[i] = NewRequest(t, fmt.Sprintf("user-%d@example.com", i%3))
	}
	results := createAll(s, reqs, func(int) string { return "shared-key" })
	created, reused := 0, 0
	winner := ""
	for i, r := range results {
		switch {
		case errors.Is(r.err, erasure.ErrIdempotencyKeyReused):
			reused++
		case r.err != nil:
			t.Errorf("Create %d: %v", i, r.err)
		case r.created:
			created++
			winner = r.id
		}
	}
	if created != 1 {
		t.Fatalf("%d creates with one key: %d created, %d refused as reused; want exactly 1 created", n, created, reused)
	}
	for i, r := range results {
		if r.err == nil && r.id != winner {
			t.Errorf("Create %d = %s; want the key's request %s", i, r.id, winner)
		}
	}
	if reused != n-n/3 {
		t.Errorf("%d refused as reused, want %d (the other subjects' calls)", reused, n-n/3)
	}
}

func testRecordOutcome(t *testing.T, s Store, _ *Clock) {
	ctx := context.Background()
	req := MustCreate(t, s, NewRequest(t, "dave@example.com"), "")
	if err := s.MarkRunning(ctx, req.ID); err != nil {
		t.Fatal(err)
	}
	fin := T0.Add(2 * time.Hour).In(time.FixedZone("X", 3600))
	results := []erasure.SubsystemResult{
		{Name: "projects", Mode: "sync", Status: erasure.SubsystemDeleted, Attempts: 1, FinishedAt: &fin, Detail: "204"},
		{Name: "orders", Mode: "async", Status: erasure.SubsystemFailed, Detail: "SubsystemUnavailable: orders answered 503 (attempt 9)"},
		{Name: "customers", Mode: "async", Status: erasure.SubsystemNotFound, Attempts: 2},
	}
	done := T0.Add(3 * time.Hour)
	got, err := s.RecordOutcome(ctx, req.ID, erasure.StatusFailed, done, results)
	if err != nil {
		t.Fatalf("RecordOutcome: %v", err)
	}
	if got.Status != erasure.StatusFailed || got.CompletedAt == nil || !got.CompletedAt.Equal(done) || len(got.Subsystems) != 3 ||
		got.SubjectID != "dave@example.com" || !got.Subsystems[0].FinishedAt.Equal(fin) {
		t.Fatalf("RecordOutcome = %+v", got)
	}
	read, err := s.Get(ctx, req.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, read); diff != "" {
		t.Errorf("stored outcome differs from returned (-returned +stored):\n%s", diff)
	}

	// Retried with another outcome: the first one stands.
	again, err := s.RecordOutcome(ctx, req.ID, erasure.StatusCompleted, done.Add(time.Hour), nil)
	if err != nil {
		t.Fatalf("second RecordOutcome: %v", err)
	}
	if diff := cmp.Diff(read, again); diff != "" {
		t.Errorf("second RecordOutcome changed the request (-first +second):\n%s", diff)
	}

	// The subject's lock is released: a new request can be filed, and
	// closing it with no results stores none.
	next := MustCreate(t, s, NewRequest(t, "dave@example.com"), "")
	closed, err := s.RecordOutcome(ctx, next.ID, erasure.StatusCompleted, done, nil)
	if err != nil {
		t.Fatal(err)
	}
	if stored, _ := s.Get(ctx, next.ID); !cmp.Equal(closed, stored) || stored.Subsystems != nil {
		t.Errorf("closed without results: returned %+v, stored %+v", closed, stored)
	}

	if _, err := s.RecordOutcome(ctx, unknownID, erasure.StatusCompleted, done, nil); !errors.Is(err, erasure.ErrNotFound) {
		t.Errorf("RecordOutcome of unknown request: %v, want ErrNotFound", err)
	}
	for _, status := range []erasure.Status{erasure.StatusRunning, erasure.StatusPending, "done"} {
		if _, err := s.RecordOutcome(ctx, next.ID, status, done, nil); err == nil {
			t.Errorf("RecordOutcome with status %q: no error", status)
		}
	}
}

func testRecordOutcomeConcurrent(t *testing.T, s Store, _ *Clock) {
	req := MustCreate(t, s, NewRequest(t, "erin@example.com"), "")
	var wg sync.WaitGroup
	outs := make([]erasure.Request, 8)
	errs := make([]error, 8)
	for i := range outs {
		wg.Go(func() {
			status := erasure.StatusCompleted
			if i%2 == 1 {
				status = erasure.StatusFailed
			}
			outs[i], errs[i] = s.RecordOutcome(context.Background(), req.ID, status, T0.Add(time.Duration(i)*time.Minute), nil)
		})
	}
	wg.Wait()
	stored, err := s.Get(context.Background(), req.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i := range outs {
		if errs[i] != nil {
			t.Errorf("RecordOutcome %d: %v", i, errs[i])
			continue
		}
		if outs[i].Status != stored.Status || !outs[i].CompletedAt.Equal(*stored.CompletedAt) {
			t.Errorf("RecordOutcome %d returned %s at %v; stored %s at %v", i, outs[i].Status, outs[i].CompletedAt, stored.Status, stored.CompletedAt)
		}
	}
	MustCreate(t, s, NewRequest(t, "erin@example.com"), "")
}

func testMarkRunning(t *testing.T, s Store, _ *Clock) {
	ctx := context.Background()
	req := MustCreate(t, s, NewRequest(t, "frank@example.com"), "")
	for i := range 2 {
		if err := s.MarkRunning(ctx, req.ID); err != nil {
			t.Fatalf("MarkRunning #%d: %v", i+1, err)
		}
		got, _ := s.Get(ctx, req.ID)
		if got.Status != erasure.StatusRunning {
			t.Fatalf("after MarkRunning #%d status = %s", i+1, got.Status)
		}
	}
	if _, err := s.RecordOutcome(ctx, req.ID, erasure.StatusCompleted, T0, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkRunning(ctx, req.ID); err != nil {
		t.Fatalf("MarkRunning of a closed request: %v", err)
	}
	if got, _ := s.Get(ctx, req.ID); got.Status != erasure.StatusCompleted {
		t.Errorf("MarkRunning reopened a closed request: status %s", got.Status)
	}
	for _, id := range []string{unknownID, "", "subject#0000", itemKey("subject#", "frank@example.com")} {
		if err := s.MarkRunning(ctx, id); !errors.Is(err, erasure.ErrNotFound) {
			t.Errorf("MarkRunning(%q) = %v, want ErrNotFound", id, err)
		}
	}
}

func testSubjectOf(t *testing.T, s Store, _ *Clock) {
	ctx := context.Background()
	req := MustCreate(t, s, NewRequest(t, "grace@example.com"), "k")
	got, err := s.SubjectOf(ctx, req.ID)
	if err != nil || got != "grace@example.com" {
		t.Fatalf("SubjectOf = %q, %v", got, err)
	}
	// Still known once the request failed: a retry or an operator may
	// still need it.
	if _, err := s.RecordOutcome(ctx, req.ID, erasure.StatusFailed, T0, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s.SubjectOf(ctx, req.ID); err != nil || got != "grace@example.com" {
		t.Errorf("SubjectOf a failed request = %q, %v", got, err)
	}
	for _, id := range []string{unknownID, "", "idem#0000", itemKey("idem#", "k")} {
		if _, err := s.SubjectOf(ctx, id); !errors.Is(err, erasure.ErrNotFound) {
			t.Errorf("SubjectOf(%q) error = %v, want ErrNotFound", id, err)
		}
	}
}

func testTenants(t *testing.T, s Store, clock *Clock) {
	ctx := context.Background()
	got, created, err := s.RegisterTenant(ctx, "eu-shop.myshopify.com")
	if err != nil || !created {
		t.Fatalf("first RegisterTenant = %v, created=%v, %v", got, created, err)
	}
	if got.Location() != time.UTC || time.Since(got) > time.Minute || got != got.Round(0) {
		t.Errorf("first RegisterTenant = %v; want the store's clock, in UTC, without monotonic reading", got)
	}

	// Again, later: nothing changes, the first registration is returned.
	clock.Advance(time.Hour)
	again, created, err := s.RegisterTenant(ctx, "eu-shop.myshopify.com")
	if err != nil || created {
		t.Fatalf("second RegisterTenant = %v, created=%v, %v; want created=false", again, created, err)
	}
	if diff := cmp.Diff(got, again); diff != "" {
		t.Errorf("second RegisterTenant (-first +second):\n%s", diff)
	}
	read, ok, err := s.TenantRegistration(ctx, "eu-shop.myshopify.com")
	if err != nil || !ok {
		t.Fatalf("TenantRegistration = %v, %v", ok, err)
	}
	if diff := cmp.Diff(got, read); diff != "" {
		t.Errorf("TenantRegistration (-registered +read):\n%s", diff)
	}
	if _, ok, err := s.TenantRegistration(ctx, "us-shop.myshopify.com"); err != nil || ok {
		t.Errorf("TenantRegistration of an unregistered tenant = %v, %v", ok, err)
	}

	req := MustCreate(t, s, NewRequest(t, "alice@example.com"), "")
	for key, want := range map[string]bool{
		"eu-shop.myshopify.com": true,
		"us-shop.myshopify.com": false,
		"EU-SHOP.myshopify.com": false, // keys are exact
		"":                      false,
		"tenant#x":              false,
		req.ID:                  false,
	} {
		owns, err := s.OwnsTenant(ctx, key)
		if err != nil || owns != want {
			t.Errorf("OwnsTenant(%q) = %v, %v; want %v", key, owns, err, want)
		}
	}
	for _, key := range []string{"", "Acme", "a/b", "a b", "a:b", "-x"} {
		_, _, err := s.RegisterTenant(ctx, key)
		var inv *webhook.InvalidDelivery
		if !errors.As(err, &inv) || inv.Field != "tenant" {
			t.Errorf("RegisterTenant(%q) = %v, want *webhook.InvalidDelivery on tenant", key, err)
		}
	}
	// Tenants are not requests.
	if list, err := s.List(ctx, 0); err != nil || len(list) != 1 || list[0].ID != req.ID {
		t.Errorf("List = %v, %v; want only %s", ids(list), err, req.ID)
	}
	if _, err := s.Get(ctx, "tenant#eu-shop.myshopify.com"); !errors.Is(err, erasure.ErrNotFound) {
		t.Errorf("Get(tenant item) = %v, want ErrNotFound", err)
	}
}

func testTenantsConcurrent(t *testing.T, s Store, _ *Clock) {
	var createdN atomic.Int32
	var wg sync.WaitGroup
	times := make([]time.Time, 20)
	for i := range times {
		wg.Go(func() {
			at, created, err := s.RegisterTenant(context.Background(), "eu-help")
			if err != nil {
				t.Errorf("RegisterTenant: %v", err)
			}
			if created {
				createdN.Add(1)
			}
			times[i] = at
		})
	}
	wg.Wait()
	if n := createdN.Load(); n != 1 {
		t.Errorf("%d registrations reported created, want 1", n)
	}
	for i, at := range times {
		if !at.Equal(times[0]) {
			t.Errorf("registration %d returned %v, registration 0 %v: want the one registration's time", i, at, times[0])
		}
	}
}

// testOpenRequests: the open requests (pending, running, reopened by a
// retry) soonest deadline first, never a closed one, without subject ids;
// the deadline watch's state of a request reads back.
func testOpenRequests(t *testing.T, s Store, _ *Clock) {
	ctx := context.Background()
	var reqs []erasure.Request
	for i, subject := range []string{"open-a", "open-b", "open-c", "open-d"} {
		r := NewRequest(t, subject)
		r.Deadline = T0.AddDate(0, 1, 3-i) // d soonest, a latest
		reqs = append(reqs, MustCreate(t, s, r, ""))
	}
	if err := s.MarkRunning(ctx, reqs[1].ID); err != nil {
		t.Fatal(err)
	}
	done := T0.Add(time.Hour)
	for _, r := range reqs[2:] {
		if _, err := s.RecordOutcome(ctx, r.ID, erasure.StatusFailed, done, nil); err != nil {
			t.Fatal(err)
		}
	}
	// d is retried: open again; a is marked at risk by the watch.
	if _, err := s.Change(ctx, reqs[3].ID, func(r *erasure.Request) ([]audit.Record, error) {
		r.Status, r.Run, r.CompletedAt = erasure.StatusRunning, 1, nil
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Change(ctx, reqs[0].ID, func(r *erasure.Request) ([]audit.Record, error) {
		r.Watch = erasure.WatchAtRisk
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	var got []erasure.Request
	var err error
	for range 50 { // DynamoDB's GSIs are eventually consistent
		if got, err = s.OpenRequests(ctx); err != nil {
			t.Fatal(err)
		}
		if len(got) == 3 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	want := []string{reqs[3].ID, reqs[1].ID, reqs[0].ID}
	if !slices.Equal(ids(got), want) {
		t.Fatalf("open requests %v, want d, b, a: %v", ids(got), want)
	}
	for _, r := range got {
		if r.SubjectID != "" {
			t.Errorf("open request %s carries its subject id", r.ID)
		}
	}
	if got[2].Watch != erasure.WatchAtRisk || got[0].Watch != "" {
		t.Errorf("watch states %q, %q; want at_risk on a only", got[2].Watch, got[0].Watch)
	}
}

// testForgetOnCompletion: closing a request as completed removes its subject
// id in the same write, releases the lock, and lists the subject (by its
// keyed hash) on the suppression list; a failed close keeps the subject.
func testForgetOnCompletion(t *testing.T, s Store, _ *Clock) {
	ctx := context.Background()
	done := MustCreate(t, s, NewRequest(t, "heidi@example.com"), "")
	kept := MustCreate(t, s, NewRequest(t, "ivan@example.com"), "")
	closed, err := s.RecordOutcome(ctx, done.ID, erasure.StatusCompleted, T0.Add(time.Hour), nil)
	if err != nil {
		t.Fatal(err)
	}
	if closed.SubjectID != "" || closed.ForgottenAt == nil || closed.SubjectHash != done.SubjectHash || closed.Commitment == nil {
		t.Fatalf("closed request: subject %q forgottenAt %v hash kept %v commitment %v", closed.SubjectID, closed.ForgottenAt, closed.SubjectHash == done.SubjectHash, closed.Commitment)
	}
	got, err := s.Get(ctx, done.ID)
	if err != nil || got.SubjectID != "" || got.ForgottenAt == nil || got.Commitment == nil || *got.Commitment != *done.Commitment {
		t.Fatalf("Get after completion = subject %q forgottenAt %v commitment %v, %v", got.SubjectID, got.ForgottenAt, got.Commitment, err)
	}
	if _, err := s.SubjectOf(ctx, done.ID); !errors.Is(err, erasure.ErrNotFound) {
		t.Errorf("SubjectOf a completed request: %v, want ErrNotFound", err)
	}
	// A retried close changes nothing and lists the subject once.
	if _, err := s.RecordOutcome(ctx, done.ID, erasure.StatusCompleted, T0.Add(2*time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordOutcome(ctx, kept.ID, erasure.StatusFailed, T0.Add(time.Hour), []erasure.SubsystemResult{{Name: "crm", Mode: "sync", Status: erasure.SubsystemFailed}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(ctx, kept.ID); got.SubjectID != "ivan@example.com" || got.ForgottenAt != nil {
		t.Fatalf("a failed request forgot its subject: %q %v", got.SubjectID, got.ForgottenAt)
	}
	sup, err := s.Suppressed(ctx, []string{done.SubjectHash, kept.SubjectHash, strings.Repeat("0", 64)})
	if err != nil {
		t.Fatal(err)
	}
	if len(sup) != 1 || len(sup[done.SubjectHash]) != 1 || sup[done.SubjectHash][0].RequestID != done.ID || sup[done.SubjectHash][0].Status != "completed" {
		t.Fatalf("suppressed = %+v, want only %s once", sup, done.ID)
	}
	// The lock is released: the subject may ask again, and is listed twice
	// once that request completes too.
	again := MustCreate(t, s, NewRequest(t, "heidi@example.com"), "")
	if again.ID == done.ID {
		t.Fatal("a new request for a forgotten subject returned the closed one")
	}
	if _, err := s.RecordOutcome(ctx, again.ID, erasure.StatusCompleted, T0.Add(3*time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	if sup, _ := s.Suppressed(ctx, []string{done.SubjectHash}); len(sup[done.SubjectHash]) != 2 {
		t.Fatalf("suppressed after a second erasure = %+v", sup)
	}
}

// testForgetSettledByChange: a failed request settled by a change (an
// operator's attestation) forgets its subject in that write.
func testForgetSettledByChange(t *testing.T, s Store, _ *Clock) {
	ctx := context.Background()
	req := MustCreate(t, s, NewRequest(t, "judy@example.com"), "")
	if _, err := s.RecordOutcome(ctx, req.ID, erasure.StatusFailed, T0, []erasure.SubsystemResult{{Name: "crm", Mode: "sync", Status: erasure.SubsystemFailed}}); err != nil {
		t.Fatal(err)
	}
	// Any other change of the subject is refused.
	if _, err := s.Change(ctx, req.ID, func(r *erasure.Request) ([]audit.Record, error) {
		r.SubjectID = "someone-else"
		return nil, nil
	}); err == nil {
		t.Fatal("a change of the subject id was written")
	}
	settled, err := s.Change(ctx, req.ID, func(r *erasure.Request) ([]audit.Record, error) {
		now := T0.Add(time.Hour)
		r.Subsystems[0].Status = erasure.SubsystemDeleted
		r.Status, r.CompletedAt = erasure.StatusCompleted, &now
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := s.Get(ctx, req.ID)
	if settled.SubjectID != "" || got.SubjectID != "" || got.ForgottenAt == nil {
		t.Fatalf("settled request still holds its subject: %q %q", settled.SubjectID, got.SubjectID)
	}
	if sup, _ := s.Suppressed(ctx, []string{req.SubjectHash}); len(sup[req.SubjectHash]) != 1 {
		t.Fatalf("suppressed = %+v", sup)
	}
}

// testForgetHeldFailed: failed requests that hold their subject are listed
// by deadline until forgotten, and forgetting one lists which subsystems
// failed on the suppression list.
func testForgetHeldFailed(t *testing.T, s Store, _ *Clock) {
	ctx := context.Background()
	req := MustCreate(t, s, NewRequest(t, "ken@example.com"), "")
	open := MustCreate(t, s, NewRequest(t, "lena@example.com"), "")
	if _, err := s.RecordOutcome(ctx, req.ID, erasure.StatusFailed, T0, []erasure.SubsystemResult{
		{Name: "crm", Mode: "sync", Status: erasure.SubsystemFailed}, {Name: "mail", Mode: "sync", Status: erasure.SubsystemDeleted}}); err != nil {
		t.Fatal(err)
	}
	var held []erasure.Request
	var err error
	// The DynamoDB index is eventually consistent: a few reads.
	for i := 0; i < 20; i++ {
		if held, err = s.HeldRequests(ctx, req.Deadline.Add(time.Second)); err != nil || len(held) == 1 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil || len(held) != 1 || held[0].ID != req.ID || held[0].SubjectID != "" {
		t.Fatalf("HeldRequests = %+v, %v; want only %s, without its subject", held, err, req.ID)
	}
	if early, _ := s.HeldRequests(ctx, req.Deadline.Add(-time.Second)); len(early) != 0 {
		t.Fatalf("HeldRequests before the deadline = %d requests", len(early))
	}
	if _, err := s.Change(ctx, req.ID, func(r *erasure.Request) ([]audit.Record, error) {
		r.Forget(T0.AddDate(0, 2, 0))
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Get(ctx, req.ID)
	if got.SubjectID != "" || got.ForgottenAt == nil || got.Status != erasure.StatusFailed {
		t.Fatalf("forgotten failed request = %q %v %s", got.SubjectID, got.ForgottenAt, got.Status)
	}
	sup, _ := s.Suppressed(ctx, []string{req.SubjectHash, open.SubjectHash})
	if e := sup[req.SubjectHash]; len(e) != 1 || e[0].Status != "failed" || !slices.Equal(e[0].Failed, []string{"crm"}) {
		t.Fatalf("suppression of a forgotten failed request = %+v", sup)
	}
	if _, ok := sup[open.SubjectHash]; ok {
		t.Fatal("an open request's subject is on the suppression list")
	}
	for i := 0; i < 20; i++ {
		if held, _ = s.HeldRequests(ctx, req.Deadline.Add(time.Second)); len(held) == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(held) != 0 {
		t.Fatalf("a forgotten request is still held: %+v", held)
	}
}

// VerifyChain walks the region's audit chain from its start, 100 entries a
// page, and returns how many entries it holds, or the first broken one.
func VerifyChain(ctx context.Context, s interface {
	AuditFrom(ctx context.Context, from int64, limit int) ([]audit.Record, error)
}) (int64, error) {
	var v audit.Verifier
	for {
		page, err := s.AuditFrom(ctx, v.Head().Seq+1, audit.MaxList)
		if err != nil {
			return 0, err
		}
		for _, r := range page {
			if err := v.Add(r); err != nil {
				return v.Head().Seq, err
			}
		}
		if len(page) < audit.MaxList {
			return v.Head().Seq, nil
		}
	}
}

// testAuditChain: concurrent changes with audit records and region records
// append to one chain with no gap and no overwrite, which verifies whole.
func testAuditChain(t *testing.T, s Store, _ *Clock) {
	ctx := context.Background()
	var reqs []erasure.Request
	for i := range 4 {
		reqs = append(reqs, MustCreate(t, s, NewRequest(t, fmt.Sprintf("chain-%d@example.com", i)), ""))
	}
	var wg sync.WaitGroup
	for i := range 24 {
		wg.Go(func() {
			if i%3 == 0 {
				rec, _ := audit.New("", T0, "local:ops", audit.ActionSuppressionCheck, map[string]string{"checked": fmt.Sprint(i)})
				if err := s.AppendAudit(ctx, rec); err != nil {
					t.Error(err)
				}
				return
			}
			id := reqs[i%len(reqs)].ID
			if _, err := s.Change(ctx, id, func(r *erasure.Request) ([]audit.Record, error) {
				r.Watch = fmt.Sprint(i)
				rec, err := audit.New(id, T0, "local:ops", audit.ActionRetry, map[string]string{"i": fmt.Sprint(i)})
				return []audit.Record{rec}, err
			}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	var n int64
	var err error
	for range 20 { // the DynamoDB index is eventually consistent
		if n, err = VerifyChain(ctx, s); err == nil && n == 24 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil || n != 24 {
		t.Fatalf("chain of %d entries, %v; want 24 that verify", n, err)
	}
	all, _ := s.AuditFrom(ctx, 1, 100)
	for i, r := range all {
		if r.Seq != int64(i+1) || r.Hash == "" {
			t.Fatalf("entry %d: seq %d hash %q", i, r.Seq, r.Hash)
		}
	}
	// One request's records, oldest first, only its own.
	mine, err := s.Audit(ctx, reqs[1].ID, 0)
	if err != nil || len(mine) == 0 {
		t.Fatalf("Audit(%s) = %d, %v", reqs[1].ID, len(mine), err)
	}
	for i, r := range mine {
		if r.RequestID != reqs[1].ID || i > 0 && r.Seq <= mine[i-1].Seq {
			t.Fatalf("Audit(%s)[%d] = %+v", reqs[1].ID, i, r)
		}
	}
	if bad := s.AppendAudit(ctx, audit.Record{}); bad == nil {
		t.Fatal("a record without id, action and actor was appended")
	}
}

// testPaging: following next lists every request exactly once, newest
// first, while new ones arrive; a filter that matches rarely gives short
// pages, never a lost or repeated request.
func testPaging(t *testing.T, s Store, _ *Clock) {
	ctx := context.Background()
	var ids []string
	for i := range 25 {
		r := MustCreate(t, s, NewRequest(t, fmt.Sprintf("page-%02d@example.com", i)), "")
		ids = append(ids, r.ID)
		if i%4 == 0 {
			if _, err := s.RecordOutcome(ctx, r.ID, erasure.StatusFailed, T0, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	all := func(erasure.Request) bool { return true }
	walk := func(limit, examine int, match func(erasure.Request) bool, during func()) []string {
		var got []string
		after := ""
		for pages := 0; ; pages++ {
			if pages > 100 {
				t.Fatal("paging does not end")
			}
			var page []erasure.Request
			var next string
			var err error
			for range 20 { // the DynamoDB index is eventually consistent
				if page, next, err = s.Page(ctx, after, limit, examine, match); err == nil && (after != "" || len(got)+len(page) > 0) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range page {
				got = append(got, r.ID)
			}
			if during != nil {
				during()
				during = nil
			}
			if next == "" {
				return got
			}
			after = next
		}
	}
	arrived := 0
	got := walk(7, 100, all, func() {
		for i := range 5 {
			MustCreate(t, s, NewRequest(t, fmt.Sprintf("late-%d@example.com", i)), "")
			arrived++
		}
	})
	want := slices.Clone(ids)
	slices.Reverse(want)
	// The first page may be short of requests the index has not seen yet;
	// the walk must still hold each of the 25 once, newest first.
	if !slices.Equal(got, want) {
		t.Fatalf("paged %d ids %v\nwant %d %v", len(got), got, len(want), want)
	}
	failed := walk(3, 4, func(r erasure.Request) bool { return r.Status == erasure.StatusFailed }, nil)
	if len(failed) != 7 {
		t.Fatalf("failed requests paged: %v, want the 7", failed)
	}
}

// PageOf is Page over requests held in memory (the handler tests' fake
// stores): newest first by id, after the cursor, bounded as the stores
// bound it.
func PageOf(all []erasure.Request, after string, limit, examine int, match func(erasure.Request) bool) ([]erasure.Request, string) {
	sorted := slices.Clone(all)
	slices.SortFunc(sorted, func(a, b erasure.Request) int { return strings.Compare(b.ID, a.ID) })
	var out []erasure.Request
	examined := 0
	for i, r := range sorted {
		if after != "" && r.ID >= after {
			continue
		}
		examined++
		if match(r) {
			out = append(out, r)
		}
		if len(out) == limit || examined == examine {
			if i == len(sorted)-1 {
				return out, ""
			}
			return out, r.ID
		}
	}
	return out, ""
}

// testCallbacks: a callback token's hash names its request and subsystem
// until it expires; the task token and the callback itself are kept on the
// subsystem's entry.
func testCallbacks(t *testing.T, s Store, c *Clock) {
	ctx := context.Background()
	req := NewRequest(t, "olga@example.com")
	req.Subsystems = []erasure.SubsystemResult{{Name: "orders", Mode: "async", Status: erasure.SubsystemPending}}
	req = MustCreate(t, s, req, "")
	hash := strings.Repeat("ab", 32)
	for range 2 {
		if err := s.PutCallback(ctx, hash, req.ID, "orders", c.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if id, sub, err := s.CallbackTarget(ctx, hash); err != nil || id != req.ID || sub != "orders" {
		t.Fatalf("CallbackTarget = %s %s %v", id, sub, err)
	}
	if _, _, err := s.CallbackTarget(ctx, strings.Repeat("cd", 32)); !errors.Is(err, erasure.ErrNotFound) {
		t.Fatalf("unknown hash: %v", err)
	}
	c.Advance(2 * time.Hour)
	if _, _, err := s.CallbackTarget(ctx, hash); !errors.Is(err, erasure.ErrNotFound) {
		t.Fatalf("expired hash: %v", err)
	}
	at := T0.Add(time.Minute)
	if _, err := s.Change(ctx, req.ID, func(r *erasure.Request) ([]audit.Record, error) {
		r.Subsystems[0].TaskToken = "task-token-1"
		r.Subsystems[0].Callback = &erasure.CallbackResult{Status: "deleted", Detail: "done", At: at}
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Get(ctx, req.ID)
	if cb := got.Subsystems[0].Callback; got.Subsystems[0].TaskToken != "task-token-1" || cb == nil || cb.Status != "deleted" || !cb.At.Equal(at) {
		t.Fatalf("subsystem after Change: %+v", got.Subsystems[0])
	}
}
