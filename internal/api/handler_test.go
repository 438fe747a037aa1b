package api

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/lethe-erasure/lethe/internal/subjectkey/subjectkeytest"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/metrics"
)

func TestPostRecordsRequest(t *testing.T) {
	store := newFakeStore()
	h, _ := newTestHandler(t, store)
	ev := postEvent(`{"subjectId": "customer-1@example.com", "tenantId": "acme.zendesk.com"}`, map[string]string{"Idempotency-Key": "k-1"})
	ev.RequestContext = events.APIGatewayProxyRequestContext{DomainName: "abc123.execute-api.eu-west-1.amazonaws.com", Stage: "prod", Path: "/prod/erasures"}
	resp := call(t, h, ev)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status = %d, body %s", resp.StatusCode, resp.Body)
	}

	creates := store.callsOf("create")
	if len(creates) != 1 || creates[0].key != "k-1" {
		t.Fatalf("Create calls = %+v, want one with the Idempotency-Key", creates)
	}
	stored := store.byID[creates[0].id]
	wantReceived := time.Date(2026, 1, 31, 10, 0, 0, 123000000, time.UTC)
	// The subject is named by the region's keyed hash, and committed to
	// under a salt of its own.
	if stored.SubjectHash != subjectkeytest.Key().Hash("customer-1@example.com") || stored.Commitment == nil ||
		!stored.Commitment.Matches("customer-1@example.com") || stored.Commitment.Matches("customer-2@example.com") {
		t.Errorf("subject hash %q, commitment %+v", stored.SubjectHash, stored.Commitment)
	}
	want := erasure.Request{
		ID:          creates[0].id,
		SubjectID:   "customer-1@example.com",
		SubjectHash: stored.SubjectHash,
		Commitment:  stored.Commitment,
		TenantID:    "acme.zendesk.com",
		Source:      erasure.SourceAPI,
		Status:      erasure.StatusPending,
		ReceivedAt:  wantReceived,
		Deadline:    time.Date(2026, 2, 28, 10, 0, 0, 123000000, time.UTC),
		Subsystems: []erasure.SubsystemResult{
			{Name: "projects", Mode: "sync", Status: erasure.SubsystemPending},
			{Name: "orders", Mode: "async", Status: erasure.SubsystemPending},
			{Name: "customers", Mode: "async", Status: erasure.SubsystemPending},
		},
	}
	if d := cmp.Diff(want, stored); d != "" {
		t.Errorf("stored request (-want +got):\n%s", d)
	}
	if region, err := erasure.ParseID(stored.ID); err != nil || region != "eu" {
		t.Errorf("id %q: region %q, %v", stored.ID, region, err)
	}

	m, keys := decodeObject(t, resp.Body)
	if d := cmp.Diff([]string{"deadline", "receivedAt", "requestId", "source", "status", "statusUrl", "tenantId"}, keys); d != "" {
		t.Errorf("answer keys (-want +got):\n%s", d)
	}
	wantURL := "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/erasures/" + stored.ID
	wantBody := map[string]any{
		"requestId": stored.ID, "status": "pending", "source": "api", "tenantId": "acme.zendesk.com",
		"receivedAt": "2026-01-31T10:00:00.123Z", "deadline": "2026-02-28T10:00:00.123Z", "statusUrl": wantURL,
	}
	if d := cmp.Diff(wantBody, m); d != "" {
		t.Errorf("answer (-want +got):\n%s", d)
	}
	if resp.Headers["Location"] != wantURL {
		t.Errorf("Location = %q", resp.Headers["Location"])
	}
	if resp.Headers["Cache-Control"] != "no-store" {
		t.Errorf("Cache-Control = %q", resp.Headers["Cache-Control"])
	}
}

func TestDeadlinePolicy(t *testing.T) {
	for _, tc := range []struct {
		name     string
		deadline config.Deadline
		now      time.Time
		want     string
	}{
		{"one month, 31st to shorter month", config.Deadline{Months: 1}, time.Date(2026, 3, 31, 23, 59, 59, 999999999, time.UTC), "2026-04-30T23:59:59.999Z"},
		{"one month, leap year", config.Deadline{Months: 1}, time.Date(2028, 1, 30, 12, 0, 0, 0, time.UTC), "2028-02-29T12:00:00.000Z"},
		{"days only", config.Deadline{Days: 14}, time.Date(2026, 12, 25, 0, 0, 0, 0, time.UTC), "2027-01-08T00:00:00.000Z"},
		{"clock not in UTC", config.Deadline{Months: 1}, time.Date(2026, 5, 1, 1, 0, 0, 0, time.FixedZone("CEST", 2*3600)), "2026-05-30T23:00:00.000Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, region := testConfig(t)
			cfg.Deadline = tc.deadline
			h := New(newFakeStore(), subjectkeytest.Key(), cfg, region, WithClock(func() time.Time { return tc.now }), WithLogger(slog.New(slog.DiscardHandler)))
			m, _ := decodeObject(t, call(t, h, postEvent(`{"subjectId":"s-1"}`, nil)).Body)
			if m["deadline"] != tc.want {
				t.Errorf("deadline = %v, want %s", m["deadline"], tc.want)
			}
		})
	}
}

func TestOpenSubjectGetsItsRequest(t *testing.T) {
	store := newFakeStore()
	h, _ := newTestHandler(t, store)
	first := call(t, h, postEvent(`{"subjectId": "customer 2/ü@example.com"}`, nil))
	if first.StatusCode != http.StatusAccepted {
		t.Fatalf("first: %d %s", first.StatusCode, first.Body)
	}
	id := mustID(t, first)

	for _, tc := range []struct {
		name string
		ev   events.APIGatewayProxyRequest
	}{
		{"POST again", postEvent(`{"subjectId": "customer 2/ü@example.com"}`, nil)},
		{"POST again with another tenant", postEvent(`{"subjectId": "customer 2/ü@example.com", "tenantId": "other"}`, nil)},
		{"POST again with a new key", postEvent(`{"subjectId": "customer 2/ü@example.com"}`, map[string]string{"Idempotency-Key": "fresh"})},
		{"DELETE with the escaped id", events.APIGatewayProxyRequest{HTTPMethod: "DELETE", Path: "/api/user/customer%202%2F%C3%BC@example.com"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := call(t, h, tc.ev)
			if resp.StatusCode != http.StatusOK || mustID(t, resp) != id {
				t.Errorf("got %d %s, want 200 with %s", resp.StatusCode, resp.Body, id)
			}
		})
	}
	if store.created != 1 {
		t.Errorf("created %d requests, want 1", store.created)
	}

	// Once the request is closed the subject may be erased again.
	store.finish(id, erasure.StatusCompleted)
	again := call(t, h, postEvent(`{"subjectId": "customer 2/ü@example.com"}`, nil))
	if again.StatusCode != http.StatusAccepted || mustID(t, again) == id {
		t.Errorf("after completion: %d %s, want 202 with a new id", again.StatusCode, again.Body)
	}
}

func TestIdempotencyKey(t *testing.T) {
	store := newFakeStore()
	h, _ := newTestHandler(t, store)
	key := map[string]string{"Idempotency-Key": "order-77 retry-safe"}
	first := call(t, h, postEvent(`{"subjectId": "a@example.com"}`, key))
	id := mustID(t, first)
	store.finish(id, erasure.StatusCompleted)

	// Same key, same subject: the first request, even once it is closed.
	replay := call(t, h, postEvent(`{"subjectId": "a@example.com"}`, key))
	if replay.StatusCode != http.StatusOK || mustID(t, replay) != id {
		t.Errorf("replay: %d %s, want 200 with %s", replay.StatusCode, replay.Body, id)
	}
	// The DELETE route honours the key too.
	del := call(t, h, events.APIGatewayProxyRequest{HTTPMethod: "DELETE", Path: "/api/user/a@example.com",
		MultiValueHeaders: map[string][]string{"idempotency-key": {"order-77 retry-safe"}}})
	if del.StatusCode != http.StatusOK || mustID(t, del) != id {
		t.Errorf("DELETE replay: %d %s, want 200 with %s", del.StatusCode, del.Body, id)
	}
	// Same key, another subject: refused, nothing written.
	other := call(t, h, postEvent(`{"subjectId": "b@example.com"}`, key))
	if code, field := errorOf(t, other.Body); other.StatusCode != http.StatusUnprocessableEntity || code != CodeIdempotencyKeyReused || field != "Idempotency-Key" {
		t.Errorf("other subject: %d %s", other.StatusCode, other.Body)
	}
	if strings.Contains(other.Body, "a@example.com") || strings.Contains(other.Body, "b@example.com") {
		t.Errorf("422 names a subject: %s", other.Body)
	}
	if store.created != 1 {
		t.Errorf("created %d requests, want 1", store.created)
	}
}

func TestGetShowsSubsystemsAtOnce(t *testing.T) {
	store := newFakeStore()
	h, _ := newTestHandler(t, store)
	post := call(t, h, postEvent(`{"subjectId": "c@example.com"}`, nil))
	statusURL := mustField(t, post, "statusUrl")
	if !strings.HasPrefix(statusURL, "/erasures/er_eu_") {
		t.Fatalf("statusUrl without a domain = %q, want a path", statusURL)
	}
	resp := call(t, h, getEvent(statusURL, nil))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", statusURL, resp.StatusCode, resp.Body)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(resp.Body), &got); err != nil {
		t.Fatal(err)
	}
	sub := func(name, mode string) map[string]any {
		return map[string]any{"name": name, "mode": mode, "status": "pending", "attempts": 0.0, "finishedAt": nil, "detail": ""}
	}
	want := map[string]any{
		"requestId": mustID(t, post), "status": "pending", "source": "api",
		"receivedAt": "2026-01-31T10:00:00.123Z", "deadline": "2026-02-28T10:00:00.123Z", "completedAt": nil, "certificate": false, "atRisk": false,
		"subsystems": []any{sub("projects", "sync"), sub("orders", "async"), sub("customers", "async")},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("GET answer (-want +got):\n%s", d)
	}
	if strings.Contains(resp.Body, "c@example.com") || strings.Contains(resp.Body, "subjectId") {
		t.Errorf("GET shows the subject: %s", resp.Body)
	}
}

func TestList(t *testing.T) {
	store := newFakeStore()
	h, _ := newTestHandler(t, store)

	empty := call(t, h, getEvent("/erasures", nil))
	if empty.StatusCode != http.StatusOK || empty.Body != `{"erasures":[]}` {
		t.Errorf("empty list: %d %s", empty.StatusCode, empty.Body)
	}
	var ids []string
	for i := range 3 {
		ids = append(ids, mustID(t, call(t, h, postEvent(fmt.Sprintf(`{"subjectId":"s-%d"}`, i), nil))))
		time.Sleep(2 * time.Millisecond) // UUIDv7 ids order by their millisecond
	}
	for _, tc := range []struct {
		name      string
		query     map[string]string
		wantLimit int
		wantIDs   []string
	}{
		{"default", nil, DefaultListLimit, []string{ids[2], ids[1], ids[0]}},
		{"limit 2", map[string]string{"limit": "2"}, 2, []string{ids[2], ids[1]}},
		{"limit 100", map[string]string{"limit": "100"}, 100, []string{ids[2], ids[1], ids[0]}},
		{"other parameters ignored", map[string]string{"limit": "1", "_": "cachebust"}, 1, []string{ids[2]}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := call(t, h, getEvent("/erasures", tc.query))
			var got ListView
			if err := json.Unmarshal([]byte(resp.Body), &got); err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("%d %s %v", resp.StatusCode, resp.Body, err)
			}
			var gotIDs []string
			for _, r := range got.Erasures {
				gotIDs = append(gotIDs, r.RequestID)
				if r.Source != "api" || len(r.Subsystems) != 3 {
					t.Errorf("item %+v", r)
				}
			}
			if d := cmp.Diff(tc.wantIDs, gotIDs); d != "" {
				t.Errorf("ids (-want +got):\n%s", d)
			}
			lists := store.callsOf("list")
			if last := lists[len(lists)-1]; last.limit != tc.wantLimit {
				t.Errorf("store asked for %d, want %d", last.limit, tc.wantLimit)
			}
		})
	}
}

func TestStatusURL(t *testing.T) {
	const id = "er_eu_01928c6e-7b3a-7c00-8a00-000000000009"
	for _, tc := range []struct {
		name string
		path string
		rc   events.APIGatewayProxyRequestContext
		want string
	}{
		{"local runtime: no domain", "/erasures", events.APIGatewayProxyRequestContext{}, "/erasures/" + id},
		{"execute-api, stage in requestContext.path", "/erasures",
			events.APIGatewayProxyRequestContext{DomainName: "a1.execute-api.eu-west-1.amazonaws.com", Stage: "prod", Path: "/prod/erasures"},
			"https://a1.execute-api.eu-west-1.amazonaws.com/prod/erasures/" + id},
		{"execute-api, requestContext.path without stage", "/erasures",
			events.APIGatewayProxyRequestContext{DomainName: "a1.execute-api.eu-west-1.amazonaws.com", Stage: "v1", Path: "/erasures"},
			"https://a1.execute-api.eu-west-1.amazonaws.com/v1/erasures/" + id},
		{"execute-api, no requestContext.path", "/api/user/x",
			events.APIGatewayProxyRequestContext{DomainName: "a1.execute-api.eu-west-1.amazonaws.com", Stage: "prod"},
			"https://a1.execute-api.eu-west-1.amazonaws.com/prod/erasures/" + id},
		{"custom domain with base path mapping", "/erasures",
			events.APIGatewayProxyRequestContext{DomainName: "privacy.example.com", Stage: "prod", Path: "/lethe/erasures"},
			"https://privacy.example.com/lethe/erasures/" + id},
		{"custom domain at its root", "/erasures",
			events.APIGatewayProxyRequestContext{DomainName: "privacy.example.com", Stage: "prod", Path: "/erasures"},
			"https://privacy.example.com/erasures/" + id},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := statusURL(events.APIGatewayProxyRequest{Path: tc.path, RequestContext: tc.rc}, id)
			if got != tc.want {
				t.Errorf("statusURL = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPathParameters(t *testing.T) {
	store := seededStore()
	h, _ := newTestHandler(t, store)
	for _, tc := range []struct {
		name        string
		ev          events.APIGatewayProxyRequest
		wantStatus  int
		wantSubject string
	}{
		{"raw path is percent-decoded", events.APIGatewayProxyRequest{HTTPMethod: "DELETE", Path: "/api/user/a%2Fb%20c"}, 202, "a/b c"},
		{"API Gateway's decoded parameter wins", events.APIGatewayProxyRequest{HTTPMethod: "DELETE", Path: "/api/user/a%252Fb",
			Resource: "/api/user/{id}", PathParameters: map[string]string{"id": "a%2Fb"}}, 202, "a%2Fb"},
		{"a parameter of another resource is ignored", events.APIGatewayProxyRequest{HTTPMethod: "DELETE", Path: "/api/user/x%40y",
			Resource: "/{proxy+}", PathParameters: map[string]string{"proxy": "api/user/x%40y"}}, 202, "x@y"},
		{"trailing slash", events.APIGatewayProxyRequest{HTTPMethod: "DELETE", Path: "/api/user/trail/"}, 202, "trail"},
		{"request id under another parameter name", events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/erasures/" + seedOpenID,
			Resource: "/erasures/{id}", PathParameters: map[string]string{"id": seedOpenID}}, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(store.callsOf("create"))
			resp := call(t, h, tc.ev)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("%d %s", resp.StatusCode, resp.Body)
			}
			if tc.wantSubject != "" {
				c := store.callsOf("create")[before]
				if got := store.byID[c.id].SubjectID; got != tc.wantSubject {
					t.Errorf("subject = %q, want %q", got, tc.wantSubject)
				}
			}
		})
	}
}

func TestRouting(t *testing.T) {
	for _, tc := range []struct {
		method, path string
		want         int
		allow        string
	}{
		{"GET", "/erasures", 200, ""},
		{"GET", "/erasures/", 200, ""},
		{"POST", "/erasures", 202, ""},
		{"PUT", "/erasures", 405, "GET, POST"},
		{"PATCH", "/erasures", 405, "GET, POST"},
		{"HEAD", "/erasures", 405, "GET, POST"},
		{"OPTIONS", "/erasures", 405, "GET, POST"},
		{"GET", "/erasures/" + seedOpenID, 200, ""},
		{"POST", "/erasures/" + seedOpenID, 405, "GET"},
		{"DELETE", "/erasures/" + seedOpenID, 405, "GET"},
		{"DELETE", "/api/user/x", 202, ""},
		{"POST", "/api/user/x", 405, "DELETE"},
		{"GET", "/api/user/x", 405, "DELETE"},
		{"DELETE", "/api/user/", 404, ""},
		{"DELETE", "/api/user", 404, ""},
		{"DELETE", "/api/user/x/y", 404, ""},
		{"GET", "/", 404, ""},
		{"GET", "", 404, ""},
		{"GET", "erasures", 404, ""},
		{"GET", "//erasures", 404, ""},
		{"GET", "/Erasures", 404, ""},
		{"GET", "/prod/erasures", 404, ""},
		{"get", "/erasures", 405, "GET, POST"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			store := seededStore()
			h, _ := newTestHandler(t, store)
			ev := events.APIGatewayProxyRequest{HTTPMethod: tc.method, Path: tc.path}
			if tc.method == "POST" {
				ev = postEvent(`{"subjectId":"routing"}`, nil)
				ev.Path = tc.path
			}
			resp := call(t, h, ev)
			if resp.StatusCode != tc.want || resp.Headers["Allow"] != tc.allow {
				t.Errorf("%d Allow=%q, want %d Allow=%q; %s", resp.StatusCode, resp.Headers["Allow"], tc.want, tc.allow, resp.Body)
			}
			if resp.StatusCode >= 400 {
				errorOf(t, resp.Body)
				if n := len(store.callsOf("create")); n != 0 {
					t.Errorf("refused request reached the store %d times", n)
				}
			}
		})
	}
}

// TestBadInput covers the rules the sample events do not spell out one by
// one: limits exactly at and past their bounds, header forms, encodings.
func TestBadInput(t *testing.T) {
	type tc struct {
		name       string
		ev         events.APIGatewayProxyRequest
		wantStatus int
		wantCode   string
		wantField  string
	}
	post := func(name, body string, headers map[string]string, status int, code, field string) tc {
		return tc{name, postEvent(body, headers), status, code, field}
	}
	withCT := func(ct string) map[string]string { return map[string]string{"Content-Type": ct} }
	cases := []tc{
		post("subject of 256 bytes in multi-byte runes", `{"subjectId":"`+strings.Repeat("é", 128)+`"}`, nil, 202, "", ""),
		post("subject of 257 bytes", `{"subjectId":"`+strings.Repeat("é", 128)+`x"}`, nil, 400, CodeInvalidSubjectID, "subjectId"),
		post("subject with DEL", `{"subjectId":"a\u007fb"}`, nil, 400, CodeInvalidSubjectID, "subjectId"),
		post("subject with C1 control", `{"subjectId":"a\u0085b"}`, nil, 400, CodeInvalidSubjectID, "subjectId"),
		post("subject with escaped tab", `{"subjectId":"a\tb"}`, nil, 400, CodeInvalidSubjectID, "subjectId"),
		post("subject with raw tab byte", "{\"subjectId\":\"a\tb\"}", nil, 400, CodeInvalidJSON, ""),
		post("subject twice", `{"subjectId":"a","subjectId":"b"}`, nil, 400, CodeDuplicateField, "subjectId"),
		post("tenant twice, first null", `{"subjectId":"a","tenantId":null,"tenantId":"b"}`, nil, 202, "", ""),
		post("invalid UTF-8 in subject", "{\"subjectId\":\"a\xffb\"}", nil, 400, CodeInvalidJSON, ""),
		post("nested unknown field", `{"subjectId":"a","x":{"y":1}}`, nil, 400, CodeUnknownField, "x"),
		post("subject as array", `{"subjectId":["a"]}`, nil, 400, CodeInvalidType, "subjectId"),
		post("subject as boolean", `{"subjectId":true}`, nil, 400, CodeInvalidType, "subjectId"),
		post("number body", `42`, nil, 400, CodeInvalidJSON, ""),
		post("unclosed object", `{"subjectId":"a"`, nil, 400, CodeInvalidJSON, ""),
		post("subject as object", `{"subjectId":{"id":"x"}}`, nil, 400, CodeInvalidType, "subjectId"),
		post("tenant of 128 bytes", `{"subjectId":"t1","tenantId":"`+strings.Repeat("t", 128)+`"}`, nil, 202, "", ""),
		post("tenant with every allowed kind", `{"subjectId":"t2","tenantId":"Acme-1.eu_west:42"}`, nil, 202, "", ""),
		post("tenant with slash", `{"subjectId":"t3","tenantId":"acme/eu"}`, nil, 400, CodeInvalidTenantID, "tenantId"),
		post("tenant non-ASCII", `{"subjectId":"t4","tenantId":"äcme"}`, nil, 400, CodeInvalidTenantID, "tenantId"),
		post("unknown field differing in case", `{"SubjectId":"x"}`, nil, 400, CodeUnknownField, "SubjectId"),
		post("JSON string body", `"x"`, nil, 400, CodeInvalidJSON, ""),
		post("JSON null body", `null`, nil, 400, CodeInvalidJSON, ""),
		post("whitespace body", " \n ", nil, 400, CodeInvalidJSON, ""),
		post("two objects", `{"subjectId":"a"}{}`, nil, 400, CodeInvalidJSON, ""),
		post("trailing garbage", `{"subjectId":"a"} x`, nil, 400, CodeInvalidJSON, ""),
		post("trailing whitespace is fine", "{\"subjectId\":\"tw\"}\r\n", nil, 202, "", ""),
		post("body of exactly 16 KiB", `{"subjectId":"big"}`+strings.Repeat(" ", MaxBodyBytes-len(`{"subjectId":"big"}`)), nil, 202, "", ""),
		post("body of 16 KiB + 1", `{"subjectId":"big"}`+strings.Repeat(" ", MaxBodyBytes-len(`{"subjectId":"big"}`)+1), nil, 413, CodeBodyTooLarge, ""),
		post("content type upper case", `{"subjectId":"ct1"}`, withCT("Application/JSON"), 202, "", ""),
		post("content type charset utf8 no space", `{"subjectId":"ct2"}`, withCT("application/json;charset=utf-8"), 202, "", ""),
		post("content type other param", `{"subjectId":"ct3"}`, withCT("application/json; profile=erasure"), 202, "", ""),
		post("content type json suffix", `{"subjectId":"ct4"}`, withCT("application/merge-patch+json"), 415, CodeUnsupportedMediaType, "Content-Type"),
		post("content type malformed", `{"subjectId":"ct5"}`, withCT("application/json; charset"), 415, CodeUnsupportedMediaType, "Content-Type"),
		post("content type prefix", `{"subjectId":"ct6"}`, withCT("application/jsonx"), 415, CodeUnsupportedMediaType, "Content-Type"),
		post("key of 255 characters", `{"subjectId":"k1"}`, map[string]string{"Idempotency-Key": strings.Repeat("k", 255)}, 202, "", ""),
		post("key with inner space", `{"subjectId":"k2"}`, map[string]string{"Idempotency-Key": "a b"}, 202, "", ""),
		post("key with DEL", `{"subjectId":"k3"}`, map[string]string{"Idempotency-Key": "a\x7fb"}, 400, CodeInvalidIdempotencyKey, "Idempotency-Key"),
		post("key checked before the body", `not json`, map[string]string{"Idempotency-Key": ""}, 400, CodeInvalidIdempotencyKey, "Idempotency-Key"),
		{"content type given twice", events.APIGatewayProxyRequest{HTTPMethod: "POST", Path: "/erasures", Body: `{"subjectId":"x"}`,
			MultiValueHeaders: map[string][]string{"Content-Type": {"application/json", "application/json"}}}, 415, CodeUnsupportedMediaType, "Content-Type"},
		{"headers only in multiValueHeaders", events.APIGatewayProxyRequest{HTTPMethod: "POST", Path: "/erasures", Body: `{"subjectId":"mv"}`,
			MultiValueHeaders: map[string][]string{"content-type": {"application/json"}}}, 202, "", ""},
		{"base64 body", events.APIGatewayProxyRequest{HTTPMethod: "POST", Path: "/erasures", Headers: withCT("application/json"),
			Body: "eyJzdWJqZWN0SWQiOiJiNjQifQ==", IsBase64Encoded: true}, 202, "", ""},
		{"base64 of non-JSON", events.APIGatewayProxyRequest{HTTPMethod: "POST", Path: "/erasures", Headers: withCT("application/json"),
			Body: "aGVsbG8=", IsBase64Encoded: true}, 400, CodeInvalidJSON, ""},
		{"DELETE with whitespace body is fine", events.APIGatewayProxyRequest{HTTPMethod: "DELETE", Path: "/api/user/ws", Body: "\n"}, 202, "", ""},
		{"DELETE with padded id", events.APIGatewayProxyRequest{HTTPMethod: "DELETE", Path: "/api/user/%20x"}, 400, CodeInvalidSubjectID, "id"},
		{"DELETE with invalid UTF-8", events.APIGatewayProxyRequest{HTTPMethod: "DELETE", Path: "/api/user/%FF"}, 400, CodeInvalidSubjectID, "id"},
		{"GET id with escape", getEvent("/erasures/er_eu_%zz", nil), 400, CodeInvalidRequestID, "requestId"},
		{"GET id upper case", getEvent("/erasures/"+strings.ToUpper(seedOpenID), nil), 400, CodeInvalidRequestID, "requestId"},
		{"GET id of unknown region", getEvent("/erasures/er_ap_01928c6e-7b3a-7c00-8a00-000000000001", nil), 404, CodeWrongRegion, "requestId"},
		{"limit 05", getEvent("/erasures", map[string]string{"limit": "05"}), 200, "", ""},
		{"limit +5", getEvent("/erasures", map[string]string{"limit": "+5"}), 400, CodeInvalidLimit, "limit"},
		{"limit 1e2", getEvent("/erasures", map[string]string{"limit": "1e2"}), 400, CodeInvalidLimit, "limit"},
		{"limit empty", getEvent("/erasures", map[string]string{"limit": ""}), 400, CodeInvalidLimit, "limit"},
		{"limit 1000", getEvent("/erasures", map[string]string{"limit": "1000"}), 400, CodeInvalidLimit, "limit"},
		{"limit 2.5", getEvent("/erasures", map[string]string{"limit": "2.5"}), 400, CodeInvalidLimit, "limit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			store := seededStore()
			h, _ := newTestHandler(t, store)
			resp := call(t, h, c.ev)
			if resp.StatusCode != c.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.wantStatus, resp.Body)
			}
			if c.wantCode == "" {
				return
			}
			code, field := errorOf(t, resp.Body)
			if code != c.wantCode || field != c.wantField {
				t.Errorf("error %s/%q, want %s/%q: %s", code, field, c.wantCode, c.wantField, resp.Body)
			}
			if n := len(store.callsOf("create")); n != 0 {
				t.Errorf("refused request reached the store %d times", n)
			}
		})
	}
}

// leakyError is a store error whose text quotes the subject, as a careless
// adapter might.
type leakyError struct{ subject string }

func (e leakyError) Error() string { return "conditional check failed for " + e.subject }

func TestStoreFailures(t *testing.T) {
	for _, tc := range []struct {
		name string
		ev   events.APIGatewayProxyRequest
		err  error
	}{
		{"create", postEvent(`{"subjectId":"leak@example.com"}`, nil), leakyError{"leak@example.com"}},
		{"create via DELETE", events.APIGatewayProxyRequest{HTTPMethod: "DELETE", Path: "/api/user/leak%40example.com"}, leakyError{"leak@example.com"}},
		{"create cancelled", postEvent(`{"subjectId":"x"}`, nil), context.DeadlineExceeded},
		{"get", getEvent("/erasures/"+seedOpenID, nil), errStoreDown},
		{"list", getEvent("/erasures", nil), errStoreDown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := seededStore()
			store.fail = tc.err
			h, logs := newTestHandler(t, store)
			resp := call(t, h, tc.ev)
			code, field := errorOf(t, resp.Body)
			if resp.StatusCode != http.StatusServiceUnavailable || code != CodeUnavailable || field != "" {
				t.Errorf("%d %s", resp.StatusCode, resp.Body)
			}
			if resp.Headers["Retry-After"] == "" {
				t.Error("503 without Retry-After")
			}
			if strings.Contains(resp.Body, tc.err.Error()) || strings.Contains(resp.Body, "leak@") {
				t.Errorf("answer carries internals: %s", resp.Body)
			}
			line := logs.String()
			if !strings.Contains(line, `"level":"ERROR"`) || !strings.Contains(line, `"error":`) {
				t.Errorf("log lacks the error: %s", line)
			}
			if strings.Contains(line, "leak@example.com") || strings.Contains(line, "leak%40example.com") {
				t.Errorf("log carries the subject: %s", line)
			}
		})
	}
}

func TestLogLine(t *testing.T) {
	store := newFakeStore()
	h, logs := newTestHandler(t, store)
	ev := events.APIGatewayProxyRequest{HTTPMethod: "DELETE", Path: "/api/user/jane.doe%40example.com",
		RequestContext: events.APIGatewayProxyRequestContext{RequestID: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"}}
	resp := call(t, h, ev)
	// Two JSON lines: the metric of the request filed (EMF), then the
	// request's own line.
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d log lines, want the metric and the request's:\n%s", len(lines), logs.String())
	}
	var metric, line map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &metric); err != nil || metric["ErasuresReceived"] != 1.0 || metric["region"] != "eu" || metric["source"] != "api" || metric["_aws"] == nil {
		t.Errorf("metric line %s (%v)", lines[0], err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &line); err != nil {
		t.Fatalf("log line is not JSON: %v\n%s", err, lines[1])
	}
	want := map[string]any{"msg": "api request", "level": "INFO", "awsRequestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
		"route": "DELETE /api/user/{id}", "status": 202.0, "requestId": mustID(t, resp)}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("log %s = %v, want %v", k, line[k], v)
		}
	}
	if strings.Contains(logs.String(), "jane") {
		t.Errorf("log carries the subject: %s", logs.String())
	}
}

func TestConcurrentPostsOneRequest(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  func(i int) map[string]string
	}{
		{"same subject, no key", func(int) map[string]string { return nil }},
		{"same subject, same key", func(int) map[string]string { return map[string]string{"Idempotency-Key": "k"} }},
		{"same subject, a key each", func(i int) map[string]string { return map[string]string{"Idempotency-Key": strconv.Itoa(i)} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := newFakeStore()
			h, _ := newTestHandler(t, store)
			const n = 50
			resps := make([]events.APIGatewayProxyResponse, n)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range n {
				wg.Go(func() {
					<-start
					resps[i], _ = h.Handle(context.Background(), postEvent(`{"subjectId":"same@example.com"}`, tc.key(i)))
				})
			}
			close(start)
			wg.Wait()
			ids := map[string]int{}
			statuses := map[int]int{}
			for _, r := range resps {
				statuses[r.StatusCode]++
				ids[mustID(t, r)]++
			}
			if len(ids) != 1 || statuses[202] != 1 || statuses[200] != n-1 {
				t.Errorf("ids %v statuses %v, want one id, one 202 and %d 200", ids, statuses, n-1)
			}
			if store.created != 1 {
				t.Errorf("created %d", store.created)
			}
		})
	}
}

func TestNewIDFailure(t *testing.T) {
	store := newFakeStore()
	h, _ := newTestHandler(t, store)
	h.newID = func(string) (string, error) { return "", fmt.Errorf("entropy exhausted") }
	resp := call(t, h, postEvent(`{"subjectId":"x"}`, nil))
	if code, _ := errorOf(t, resp.Body); resp.StatusCode != 500 || code != CodeInternal {
		t.Errorf("%d %s", resp.StatusCode, resp.Body)
	}
	if len(store.callsOf("create")) != 0 {
		t.Error("store written without an id")
	}
}

func TestClassifyIsTheOnlyMapping(t *testing.T) {
	// Wrapped domain errors keep their answers.
	for _, tc := range []struct {
		err  error
		want int
		code string
	}{
		{fmt.Errorf("create: %w", erasure.ErrIdempotencyKeyReused), 422, CodeIdempotencyKeyReused},
		{&storeError{op: "create", err: erasure.ErrIdempotencyKeyReused}, 422, CodeIdempotencyKeyReused},
		{&storeError{op: "get", err: fmt.Errorf("x: %w", erasure.ErrNotFound)}, 404, CodeNotFound},
		{&storeError{op: "get", err: io.ErrUnexpectedEOF}, 503, CodeUnavailable},
		{fmt.Errorf("route: %w", errNoRoute), 404, CodeRouteNotFound},
		{io.EOF, 500, CodeInternal},
	} {
		got := classify(tc.err)
		if got.Status != tc.want || got.Code != tc.code {
			t.Errorf("classify(%v) = %d %s, want %d %s", tc.err, got.Status, got.Code, tc.want, tc.code)
		}
	}
}

func mustID(t testing.TB, resp events.APIGatewayProxyResponse) string {
	t.Helper()
	return mustField(t, resp, "requestId")
}

func mustField(t testing.TB, resp events.APIGatewayProxyResponse, field string) string {
	t.Helper()
	m, _ := decodeObject(t, resp.Body)
	s, ok := m[field].(string)
	if !ok || s == "" {
		t.Fatalf("answer %d has no %s: %s", resp.StatusCode, field, resp.Body)
	}
	return s
}

// BenchmarkPost is the in-process throughput of intake: decode and validate
// the event, one conditional write to the in-memory store, encode the
// answer, one JSON log line (to io.Discard), and the ErasuresReceived metric
// as an EMF line (emf) or not at all (no-metrics): the metric's cost.
// A new subject every time.
func BenchmarkPost(b *testing.B) {
	for _, tc := range []struct {
		name string
		sink metrics.Sink
	}{{"no-metrics", metrics.Tee{}}, {"emf", nil}} {
		b.Run(tc.name, func(b *testing.B) { benchmarkPost(b, tc.sink) })
	}
}

func benchmarkPost(b *testing.B, sink metrics.Sink) {
	cfg, region := testConfig(b)
	opts := []Option{WithLogger(slog.New(slog.NewJSONHandler(io.Discard, nil)))}
	if sink != nil {
		opts = append(opts, WithMetrics(sink))
	}
	h := New(newFakeStore(), subjectkeytest.Key(), cfg, region, opts...)
	ev := postEvent("", nil)
	ev.RequestContext = events.APIGatewayProxyRequestContext{RequestID: "bench", DomainName: "a1.execute-api.eu-west-1.amazonaws.com", Stage: "prod", Path: "/prod/erasures"}
	ctx := context.Background()
	bodies := make([]string, b.N)
	for i := range bodies {
		bodies[i] = `{"subjectId":"customer-` + strconv.Itoa(i) + `@example.com","tenantId":"acme"}`
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev.Body = bodies[i]
		resp, _ := h.Handle(ctx, ev)
		if resp.StatusCode != http.StatusAccepted {
			b.Fatalf("%d %s", resp.StatusCode, resp.Body)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
