package certify_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/lethe-erasure/lethe/internal/certify"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/eventstest"
	"github.com/lethe-erasure/lethe/internal/proof"
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

// TestSampleEvents runs events/certify/*.json through the handler as Lambda
// invokes it, with the local signer.
func TestSampleEvents(t *testing.T) {
	eventstest.Run(t, "certify", 4, func(t *testing.T, c eventstest.Case) {
		var want struct {
			Output *certify.Output `json:"output"`
			Error  string          `json:"error"`
		}
		c.DecodeWant(t, &want)
		mk := func(id string) erasure.Request {
			return erasure.Request{ID: id, SubjectID: "subject-" + id[len(id)-2:], Source: "api", Status: erasure.StatusRunning, ReceivedAt: t0, Deadline: t0.AddDate(0, 1, 0),
				Subsystems: []erasure.SubsystemResult{{Name: "projects", Mode: "sync", Status: erasure.SubsystemDeleted, Attempts: 1}}}
		}
		certified := "er_eu_0195e9b2-3c4d-7a10-8b2c-1f2e3d4c5b23"
		reqs := embeddedtest.Requests(t, "eu", mk(doneID), mk(openID), mk(certified))
		signer, err := proof.LoadOrCreateLocal(filepath.Join(t.TempDir(), "signing.pem"))
		if err != nil {
			t.Fatal(err)
		}
		iss := certify.New(reqs, certify.Signing(signer, "eu", "eu-west-1"), func() time.Time { return t0 }, nil)
		for _, id := range []string{doneID, certified} {
			if _, err := reqs.RecordOutcome(t.Context(), id, erasure.StatusCompleted, t0.Add(time.Hour), nil); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := iss.Handle(t.Context(), certify.Input{RequestID: certified}); err != nil {
			t.Fatal(err)
		}
		out, err := lambda.NewHandler(iss.Handle).Invoke(t.Context(), c.Payload)
		if want.Error != "" {
			if err == nil || eventstest.ErrorName(err) != want.Error {
				t.Fatalf("error = %v (%T), want a %s", err, err, want.Error)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		var got certify.Output
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		if got.RequestID != want.Output.RequestID || got.Issued != want.Output.Issued || got.KeyID == "" && got.Issued {
			t.Errorf("output %+v, want %+v", got, *want.Output)
		}
	})
}
