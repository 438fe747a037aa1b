package embedded_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/store/embedded"
	"github.com/lethe-erasure/lethe/internal/store/storetest"
)

// TestOpenInUse: a second opener of the same data file (a second `lethe
// local` on the directory) fails soon with a clear error instead of
// waiting for the lock forever.
func TestOpenInUse(t *testing.T) {
	_, path := openDB(t, embedded.Options{})
	start := time.Now()
	_, err := embedded.Open(path, embedded.Options{})
	if !errors.Is(err, embedded.ErrInUse) {
		t.Fatalf("second Open = %v, want ErrInUse", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("second Open took %v", d)
	}
	t.Log(err)
}

// TestRequestsSurviveReopen: what was accepted is there after the file is
// reopened, the subject lock included.
func TestRequestsSurviveReopen(t *testing.T) {
	db, path := openDB(t, embedded.Options{})
	ctx := context.Background()
	req := storetest.NewRequest(t, "alice@example.com")
	if _, _, err := db.Requests("eu").Create(ctx, req, "k1"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.Requests("eu").RegisterTenant(ctx, "eu-help"); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// After Close, calls fail as the state machines' retryable error.
	var su *erasure.StoreUnavailable
	if _, err := db.Requests("eu").Get(ctx, req.ID); !errors.As(err, &su) {
		t.Errorf("Get after Close = %v, want *erasure.StoreUnavailable", err)
	}
	if _, _, err := db.Requests("eu").Create(ctx, storetest.NewRequest(t, "bob@example.com"), ""); !errors.As(err, &su) {
		t.Errorf("Create after Close = %v, want *erasure.StoreUnavailable", err)
	}

	db2, err := embedded.Open(path, embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	reqs := db2.Requests("eu")
	if got, err := reqs.Get(ctx, req.ID); err != nil || got.SubjectID != "alice@example.com" {
		t.Fatalf("Get after reopening = %+v, %v", got, err)
	}
	if got, created, err := reqs.Create(ctx, storetest.NewRequest(t, "alice@example.com"), ""); err != nil || created || got.ID != req.ID {
		t.Errorf("the subject's lock was lost: Create = %s, created=%v, %v", got.ID, created, err)
	}
	if n, err := reqs.Count(ctx); err != nil || n != 1 {
		t.Errorf("Count = %d, %v; want 1 (subject locks and keys are not requests)", n, err)
	}
	if n, err := db2.Requests("us").Count(ctx); err != nil || n != 0 {
		t.Errorf("Count of us = %d, %v; want 0", n, err)
	}
	if owns, err := reqs.OwnsTenant(ctx, "eu-help"); err != nil || !owns {
		t.Errorf("OwnsTenant after reopening = %v, %v", owns, err)
	}
	if ts, err := reqs.ListTenants(ctx, 0); err != nil || len(ts) != 1 || ts[0].Key != "eu-help" {
		t.Errorf("ListTenants = %+v, %v", ts, err)
	}
}
