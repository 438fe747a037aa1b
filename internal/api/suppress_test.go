package api

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lethe-erasure/lethe/internal/audit"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/store/embedded/embeddedtest"
	"github.com/lethe-erasure/lethe/internal/subjectkey/subjectkeytest"
)

// TestSuppressionCheckAnswersErasedSubjectsOnly: through a real store,
// only the subjects whose requests completed (and so were forgotten) are
// answered as erased; open requests' subjects are not.
func TestSuppressionCheckAnswersErasedSubjectsOnly(t *testing.T) {
	cfg, region := testConfig(t)
	store := embeddedtest.Requests(t, "eu")
	h := New(store, subjectkeytest.Key(), cfg, region, WithClock(func() time.Time { return testNow }),
		WithLogger(slog.New(slog.DiscardHandler)))
	ids := map[string]string{}
	for _, s := range []string{"alice@example.com", "bob@example.com"} {
		resp := call(t, h, postEvent(fmt.Sprintf(`{"subjectId":%q}`, s), nil))
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("intake %s: %d %s", s, resp.StatusCode, resp.Body)
		}
		m, _ := decodeObject(t, resp.Body)
		ids[s] = m["requestId"].(string)
	}
	if _, err := store.RecordOutcome(context.Background(), ids["alice@example.com"], erasure.StatusCompleted, testNow.Add(time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	resp := call(t, h, opEvent("POST", "/suppressions/check", `{"subjectIds":["alice@example.com","bob@example.com","carol@example.com","alice@example.com"]}`))
	if resp.StatusCode != http.StatusOK || resp.Headers["Cache-Control"] != "no-store" {
		t.Fatalf("check: %d %v %s", resp.StatusCode, resp.Headers, resp.Body)
	}
	var view SuppressionView
	if err := json.Unmarshal([]byte(resp.Body), &view); err != nil {
		t.Fatal(err)
	}
	if view.Checked != 4 || len(view.Erased) != 1 || view.Erased[0].SubjectID != "alice@example.com" ||
		len(view.Erased[0].Requests) != 1 || view.Erased[0].Requests[0].RequestID != ids["alice@example.com"] ||
		view.Erased[0].Requests[0].ClosedAt == nil {
		t.Fatalf("check answered %+v", view)
	}
	// The check is in the audit chain: counts only, never an id.
	resp = call(t, h, opEvent("GET", "/audit", ""))
	resp2 := call(t, h, events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/audit", QueryStringParameters: map[string]string{"from": "1"}})
	var chain AuditView
	if err := json.Unmarshal([]byte(resp2.Body), &chain); err != nil || resp2.StatusCode != http.StatusOK {
		t.Fatalf("GET /audit?from=1: %d %s", resp2.StatusCode, resp2.Body)
	}
	last := chain.Records[len(chain.Records)-1]
	if last.Action != "suppression_check" || last.Detail["checked"] != "4" || last.Detail["erased"] != "1" || last.Hash == "" ||
		strings.Contains(resp.Body, "alice@") || strings.Contains(resp2.Body, "alice@") {
		t.Fatalf("audit after the check: %s", resp2.Body)
	}
	for i, r := range chain.Records {
		if r.Seq != int64(i+1) || (i > 0 && r.Prev != chain.Records[i-1].Hash) {
			t.Fatalf("chain entry %d: %+v", i, r)
		}
	}
	if resp := call(t, h, events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/audit", QueryStringParameters: map[string]string{"from": "0"}}); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("from=0: %d", resp.StatusCode)
	}
	// The forgotten subject cannot be read back; the open one still can.
	if resp := call(t, h, opEvent("GET", "/erasures/"+ids["alice@example.com"]+"/subject", "")); resp.StatusCode != http.StatusGone {
		t.Fatalf("subject of a completed request: %d %s", resp.StatusCode, resp.Body)
	}
	if resp := call(t, h, opEvent("GET", "/erasures/"+ids["bob@example.com"]+"/subject", "")); resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, "bob@example.com") {
		t.Fatalf("subject of an open request: %d %s", resp.StatusCode, resp.Body)
	}
}

func TestSuppressionCheckRefusesBadInput(t *testing.T) {
	h, _ := newTestHandler(t, newFakeStore())
	many := `{"subjectIds":[` + strings.TrimSuffix(strings.Repeat(`"x",`, MaxSuppressionCheck+1), ",") + `]}`
	for _, tc := range []struct {
		name, body, code, field string
	}{
		{"missing", `{}`, CodeRequired, "subjectIds"},
		{"not an array", `{"subjectIds":"alice"}`, CodeInvalidType, "subjectIds"},
		{"a number", `{"subjectIds":["alice",7]}`, CodeInvalidType, "subjectIds[1]"},
		{"empty id", `{"subjectIds":["alice",""]}`, CodeInvalidSubjectID, "subjectIds[1]"},
		{"too many", many, CodeTooMany, "subjectIds"},
		{"unknown field", `{"subjectIds":[],"ids":[]}`, CodeUnknownField, "ids"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := call(t, h, opEvent("POST", "/suppressions/check", tc.body))
			code, field := errorOf(t, resp.Body)
			if resp.StatusCode != http.StatusBadRequest || code != tc.code || field != tc.field {
				t.Fatalf("%d %s %s, want 400 %s %s: %s", resp.StatusCode, code, field, tc.code, tc.field, resp.Body)
			}
		})
	}
	if resp := call(t, h, opEvent("GET", "/suppressions/check", "")); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", resp.StatusCode)
	}
}

type fixedKeys string

func (k fixedKeys) JWKS(context.Context) ([]byte, error) { return []byte(k), nil }

type certifyCalls struct{ ids []string }

func (c *certifyCalls) Certify(_ context.Context, id string) error {
	c.ids = append(c.ids, id)
	return nil
}

// TestCertificateRoutes: the certificate of a completed request is its
// compact JWS (409 before it completes or while it is issued); GET /keys
// answers the key set; an attestation that completes a request has its
// certificate issued.
func TestCertificateRoutes(t *testing.T) {
	f := operatorStore()
	certs := &certifyCalls{}
	h, _, _ := operatorHandler(t, f)
	WithProof(fixedKeys(`{"keys":[]}`), certs)(h)

	if resp := call(t, h, opEvent("GET", "/erasures/"+failedID+"/certificate", "")); resp.StatusCode != http.StatusConflict {
		t.Fatalf("certificate of a failed request: %d %s", resp.StatusCode, resp.Body)
	} else if code, field := errorOf(t, resp.Body); code != CodeNotCompleted || field != "requestId" {
		t.Fatalf("certificate of a failed request: %s %s", code, field)
	}
	for i, sub := range []string{"orders", "customers"} {
		if resp := call(t, h, opEvent("POST", "/erasures/"+failedID+"/subsystems/"+sub+"/attestation", `{"outcome":"deleted","note":"by hand"}`)); resp.StatusCode != http.StatusOK {
			t.Fatalf("attest: %d %s", resp.StatusCode, resp.Body)
		}
		if len(certs.ids) != i {
			t.Fatalf("after attesting %s: certify calls %v", sub, certs.ids)
		}
	}
	if len(certs.ids) != 1 || certs.ids[0] != failedID {
		t.Fatalf("certify calls %v, want %s once", certs.ids, failedID)
	}
	resp := call(t, h, opEvent("GET", "/erasures/"+failedID+"/certificate", ""))
	if code, _ := errorOf(t, resp.Body); resp.StatusCode != http.StatusConflict || code != CodeCertificatePending || resp.Headers["Retry-After"] == "" {
		t.Fatalf("certificate being issued: %d %s %v", resp.StatusCode, resp.Body, resp.Headers)
	}
	if _, err := f.Change(context.Background(), failedID, func(r *erasure.Request) ([]audit.Record, error) {
		r.Certificate = "eyJhbGciOiJFUzI1NiJ9.e30.c2ln"
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	resp = call(t, h, opEvent("GET", "/erasures/"+failedID+"/certificate", ""))
	if resp.StatusCode != http.StatusOK || resp.Body != "eyJhbGciOiJFUzI1NiJ9.e30.c2ln" || resp.Headers["Content-Type"] != MediaJOSE {
		t.Fatalf("certificate: %d %v %s", resp.StatusCode, resp.Headers, resp.Body)
	}
	resp = call(t, h, opEvent("GET", "/keys", ""))
	if resp.StatusCode != http.StatusOK || resp.Body != `{"keys":[]}` || resp.Headers["Content-Type"] != MediaJWKSet {
		t.Fatalf("keys: %d %v %s", resp.StatusCode, resp.Headers, resp.Body)
	}
	if resp := call(t, h, opEvent("GET", "/erasures/er_eu_01928c6e-7b3a-7c00-8a00-00000000ffff/certificate", "")); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("certificate of an unknown request: %d", resp.StatusCode)
	}
	if resp := call(t, h, opEvent("POST", "/keys", "")); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /keys: %d", resp.StatusCode)
	}
}
