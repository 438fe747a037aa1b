package certify_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lethe-erasure/lethe/internal/certify"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/store/embedded/embeddedtest"
)

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

const (
	doneID = "er_eu_0195e9b2-3c4d-7a10-8b2c-1f2e3d4c5b21"
	openID = "er_eu_0195e9b2-3c4d-7a10-8b2c-1f2e3d4c5b22"
)

// TestIssuesOnceAndRecordsIt: concurrent and repeated calls sign at most
// as often as they race, store one certificate, and record its issuance
// once; the request no longer holds its subject when it is certified.
func TestIssuesOnceAndRecordsIt(t *testing.T) {
	reqs := embeddedtest.Requests(t, "eu",
		erasure.Request{ID: doneID, SubjectID: "alice@example.com", Source: "api", Status: erasure.StatusRunning, ReceivedAt: t0, Deadline: t0.AddDate(0, 1, 0)},
		erasure.Request{ID: openID, SubjectID: "bob@example.com", Source: "api", Status: erasure.StatusRunning, ReceivedAt: t0, Deadline: t0.AddDate(0, 1, 0)})
	if _, err := reqs.RecordOutcome(t.Context(), doneID, erasure.StatusCompleted, t0.Add(time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	var signed atomic.Int32
	issue := func(_ context.Context, r erasure.Request) (string, string, error) {
		if r.SubjectID != "" || r.Commitment == nil {
			t.Errorf("certifying a request that holds its subject %q / no commitment", r.SubjectID)
		}
		return "jws-" + r.ID + "-" + string(rune('a'+signed.Add(1))), "kid-1", nil
	}
	iss := certify.New(reqs, issue, func() time.Time { return t0.Add(2 * time.Hour) }, nil)
	var wg sync.WaitGroup
	issued := atomic.Int32{}
	for range 8 {
		wg.Go(func() {
			out, err := iss.Handle(t.Context(), certify.Input{RequestID: doneID})
			if err != nil {
				t.Error(err)
			}
			if out.Issued {
				issued.Add(1)
			}
		})
	}
	wg.Wait()
	got, _ := reqs.Get(t.Context(), doneID)
	if issued.Load() != 1 || got.Certificate == "" {
		t.Fatalf("issued %d times, certificate %q", issued.Load(), got.Certificate)
	}
	again, err := iss.Handle(t.Context(), certify.Input{RequestID: doneID})
	if err != nil || again.Issued {
		t.Fatalf("a repeated call: %+v, %v", again, err)
	}
	if after, _ := reqs.Get(t.Context(), doneID); after.Certificate != got.Certificate {
		t.Fatal("a repeated call changed the certificate")
	}
	recs, _ := reqs.Audit(t.Context(), doneID, 10)
	if len(recs) != 1 || recs[0].Action != "certificate_issued" || recs[0].Detail["keyId"] != "kid-1" || recs[0].Actor != certify.Actor {
		t.Fatalf("audit = %+v", recs)
	}
	var nc *certify.NotCompleted
	if _, err := iss.Handle(t.Context(), certify.Input{RequestID: openID}); !errors.As(err, &nc) {
		t.Fatalf("certifying an open request: %v", err)
	}
	if _, err := iss.Handle(t.Context(), certify.Input{RequestID: "not-an-id"}); err == nil {
		t.Fatal("a bad request id was accepted")
	}
}

// TestSigningFailureStoresNothing: a signer that fails leaves the request
// without a certificate, for the retry to issue.
func TestSigningFailureStoresNothing(t *testing.T) {
	reqs := embeddedtest.Requests(t, "eu",
		erasure.Request{ID: doneID, SubjectID: "alice@example.com", Source: "api", Status: erasure.StatusRunning, ReceivedAt: t0, Deadline: t0.AddDate(0, 1, 0)})
	if _, err := reqs.RecordOutcome(t.Context(), doneID, erasure.StatusCompleted, t0.Add(time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	down := &certify.SigningUnavailable{Err: errors.New("ThrottlingException")}
	iss := certify.New(reqs, func(context.Context, erasure.Request) (string, string, error) { return "", "", down }, nil, nil)
	if _, err := iss.Handle(t.Context(), certify.Input{RequestID: doneID}); !errors.Is(err, down) {
		t.Fatalf("err = %v", err)
	}
	if got, _ := reqs.Get(t.Context(), doneID); got.Certificate != "" {
		t.Fatal("a certificate was stored without a signature")
	}
}
