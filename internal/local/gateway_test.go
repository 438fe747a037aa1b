package local

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"github.com/lethe-erasure/lethe/internal/store/storetest"
	"github.com/lethe-erasure/lethe/internal/subjectkey/subjectkeytest"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lethe-erasure/lethe/internal/api"
	"github.com/lethe-erasure/lethe/internal/asl"
	"github.com/lethe-erasure/lethe/internal/audit"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/registry"
	"github.com/lethe-erasure/lethe/internal/store/dynamo"
)

// memStore is an in-memory requests table with the adapters' conditional
// semantics (one open request per subject, one request per idempotency
// key), for the gateway's tests against the real api handler.
type memStore struct {
	mu      sync.Mutex
	byID    map[string]erasure.Request
	open    map[string]string
	keys    map[string]string
	tenants map[string]time.Time
	creates int
}

func newMemStore() *memStore {
	return &memStore{byID: map[string]erasure.Request{}, open: map[string]string{}, keys: map[string]string{}, tenants: map[string]time.Time{}}
}

func (m *memStore) Create(_ context.Context, req erasure.Request, key string) (erasure.Request, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.creates++
	if id, ok := m.keys[key]; ok && key != "" {
		if m.byID[id].SubjectID != req.SubjectID {
			return erasure.Request{}, false, erasure.ErrIdempotencyKeyReused
		}
		return m.byID[id], false, nil
	}
	if id, ok := m.open[req.SubjectID]; ok {
		return m.byID[id], false, nil
	}
	m.byID[req.ID], m.open[req.SubjectID] = req, req.ID
	if key != "" {
		m.keys[key] = req.ID
	}
	return req, true, nil
}

func (m *memStore) Get(_ context.Context, id string) (erasure.Request, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.byID[id]
	if !ok {
		return erasure.Request{}, erasure.ErrNotFound
	}
	return r, nil
}

func (m *memStore) Page(_ context.Context, after string, limit, examine int, match func(erasure.Request) bool) ([]erasure.Request, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	all := make([]erasure.Request, 0, len(m.byID))
	for _, r := range m.byID {
		all = append(all, r)
	}
	out, next := storetest.PageOf(all, after, limit, examine, match)
	return out, next, nil
}

func (m *memStore) RegisterTenant(_ context.Context, tenant string) (time.Time, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if at, ok := m.tenants[tenant]; ok {
		return at, false, nil
	}
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	m.tenants[tenant] = at
	return at, true, nil
}

func (m *memStore) TenantRegistration(_ context.Context, tenant string) (time.Time, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	at, ok := m.tenants[tenant]
	return at, ok, nil
}

func (m *memStore) subjects() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, r := range m.byID {
		out = append(out, r.SubjectID)
	}
	slices.Sort(out)
	return out
}

func loadConfig(t testing.TB) *config.Config {
	t.Helper()
	c, err := config.Load(filepath.Join("..", "..", "cdk.json"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// apiServer serves the eu region's real api handler through the Gateway.
func apiServer(t *testing.T) (*httptest.Server, *memStore) {
	t.Helper()
	cfg := loadConfig(t)
	region, _ := cfg.Region("eu")
	store := newMemStore()
	h := api.New(store, subjectkeytest.Key(), cfg, region, api.WithLogger(discard()))
	srv := httptest.NewServer(NewGateway(RegionalRoutes, map[string]ProxyHandler{registry.FnAPI: h.Handle}, nil))
	t.Cleanup(srv.Close)
	return srv, store
}

type errorBody struct {
	Error struct{ Code, Message, Field string }
}

func do(t testing.TB, method, url string, header http.Header, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// TestGatewayWithTheAPIHandler calls the real api handler over HTTP the
// way API Gateway does: what curl sees locally is what it sees on AWS.
func TestGatewayWithTheAPIHandler(t *testing.T) {
	jsonCT := http.Header{"Content-Type": {"application/json"}}
	cases := []struct {
		name      string
		method    string
		path      string
		header    http.Header
		body      string
		status    int
		code      string
		field     string
		subject   string // a request filed for this subject
		noRequest bool   // nothing stored
	}{
		{name: "delete files a request", method: "DELETE", path: "/api/user/alice", status: 202, subject: "alice"},
		{name: "delete with an escaped id", method: "DELETE", path: "/api/user/alice%40example.com", status: 202, subject: "alice@example.com"},
		{name: "delete with a trailing slash", method: "DELETE", path: "/api/user/bob/", status: 202, subject: "bob"},
		{name: "delete with a control character", method: "DELETE", path: "/api/user/alice%0A", status: 400, code: api.CodeInvalidSubjectID, field: "id", noRequest: true},
		{name: "delete with a body", method: "DELETE", path: "/api/user/alice", header: jsonCT, body: `{"tenantId":"acme"}`, status: 400, code: api.CodeInvalidBody, noRequest: true},
		{name: "delete with two idempotency keys", method: "DELETE", path: "/api/user/alice", header: http.Header{"Idempotency-Key": {"a", "b"}}, status: 400, code: api.CodeInvalidIdempotencyKey, field: "Idempotency-Key", noRequest: true},
		{name: "post files a request", method: "POST", path: "/erasures", header: jsonCT, body: `{"subjectId":"carol","tenantId":"acme"}`, status: 202, subject: "carol"},
		{name: "post without subject", method: "POST", path: "/erasures", header: jsonCT, body: `{}`, status: 400, code: api.CodeRequired, field: "subjectId", noRequest: true},
		{name: "post with an unknown field", method: "POST", path: "/erasures", header: jsonCT, body: `{"subjectId":"carol","color":"red"}`, status: 400, code: api.CodeUnknownField, field: "color", noRequest: true},
		{name: "post not json", method: "POST", path: "/erasures", header: http.Header{"Content-Type": {"text/plain"}}, body: `subjectId=carol`, status: 415, code: api.CodeUnsupportedMediaType, field: "Content-Type", noRequest: true},
		{name: "post binary body", method: "POST", path: "/erasures", header: jsonCT, body: "{\"subjectId\":\"\xff\"}", status: 400, code: api.CodeInvalidJSON, noRequest: true},
		{name: "list with a bad limit", method: "GET", path: "/erasures?limit=abc", status: 400, code: api.CodeInvalidLimit, field: "limit"},
		{name: "list with two limits", method: "GET", path: "/erasures?limit=1&limit=2", status: 400, code: api.CodeInvalidLimit, field: "limit"},
		{name: "list", method: "GET", path: "/erasures?limit=5", status: 200},
		{name: "get of another region", method: "GET", path: "/erasures/er_us_0190b0a0-0000-7000-8000-000000000000", status: 404, code: api.CodeWrongRegion, field: "requestId"},
		{name: "get of a malformed id", method: "GET", path: "/erasures/nope", status: 400, code: api.CodeInvalidRequestID, field: "requestId"},
		{name: "put tenant", method: "PUT", path: "/tenants/acme", status: 201},
		{name: "unknown path", method: "GET", path: "/nope", status: 403, code: "MISSING_AUTHENTICATION_TOKEN"},
		{name: "root", method: "GET", path: "/", status: 403, code: "MISSING_AUTHENTICATION_TOKEN"},
		{name: "method the API does not declare", method: "PATCH", path: "/erasures", status: 403, code: "MISSING_AUTHENTICATION_TOKEN"},
		{name: "get on the delete route", method: "GET", path: "/api/user/alice", status: 403, code: "MISSING_AUTHENTICATION_TOKEN"},
		{name: "too deep", method: "DELETE", path: "/api/user/alice/x", status: 403, code: "MISSING_AUTHENTICATION_TOKEN"},
		{name: "webhooks without a receiver", method: "POST", path: "/webhooks/shopify", status: 403, code: "MISSING_AUTHENTICATION_TOKEN"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv, store := apiServer(t)
			resp, body := do(t, c.method, srv.URL+c.path, c.header, c.body)
			if resp.StatusCode != c.status {
				t.Fatalf("%s %s = %d %s, want %d", c.method, c.path, resp.StatusCode, body, c.status)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
			if resp.Header.Get("x-amzn-RequestId") == "" {
				t.Error("no x-amzn-RequestId")
			}
			if c.code != "" {
				var e errorBody
				if err := json.Unmarshal(body, &e); err != nil {
					t.Fatalf("error body %s: %v", body, err)
				}
				if e.Error.Code != c.code || e.Error.Field != c.field || e.Error.Message == "" {
					t.Errorf("error = %+v, want code %q field %q", e.Error, c.code, c.field)
				}
			}
			if c.subject != "" {
				if got := store.subjects(); !slices.Equal(got, []string{c.subject}) {
					t.Errorf("stored subjects %q, want %q", got, c.subject)
				}
				var v struct{ RequestID, Status string }
				json.Unmarshal(body, &v)
				if loc := resp.Header.Get("Location"); loc != "/erasures/"+v.RequestID || !strings.HasPrefix(v.RequestID, "er_eu_") {
					t.Errorf("Location %q, body %s", loc, body)
				}
				if strings.Contains(string(body), c.subject) {
					t.Errorf("the answer names the subject: %s", body)
				}
			}
			if c.noRequest && len(store.subjects()) != 0 {
				t.Errorf("a refused request stored %q", store.subjects())
			}
		})
	}
}

// TestGatewayCreatedThenRead files a request and reads it back by the
// Location the answer gave.
func TestGatewayCreatedThenRead(t *testing.T) {
	srv, _ := apiServer(t)
	resp, _ := do(t, "DELETE", srv.URL+"/api/user/alice", nil, "")
	loc := resp.Header.Get("Location")
	resp2, body := do(t, "GET", srv.URL+loc, nil, "")
	if resp2.StatusCode != 200 || !strings.Contains(string(body), `"status":"pending"`) {
		t.Fatalf("GET %s = %d %s", loc, resp2.StatusCode, body)
	}
	resp3, body3 := do(t, "DELETE", srv.URL+"/api/user/alice", nil, "")
	if resp3.StatusCode != 200 || resp3.Header.Get("Location") != loc {
		t.Errorf("a second DELETE for an open subject = %d %s, Location %q; want 200 and the same request", resp3.StatusCode, body3, resp3.Header.Get("Location"))
	}
}

// TestProxyRequestShape checks the event against what API Gateway sends.
func TestProxyRequestShape(t *testing.T) {
	var got events.APIGatewayProxyRequest
	rec := func(_ context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		got = ev
		return events.APIGatewayProxyResponse{
			StatusCode:        207,
			Headers:           map[string]string{"X-One": "1", "Content-Type": "text/plain"},
			MultiValueHeaders: map[string][]string{"X-Many": {"a", "b"}},
			Body:              base64.StdEncoding.EncodeToString([]byte{0, 1, 2, 'z'}),
			IsBase64Encoded:   true,
		}, nil
	}
	srv := httptest.NewServer(NewGateway(RegionalRoutes, map[string]ProxyHandler{registry.FnAPI: rec, registry.FnWebhookReceiver: rec}, nil))
	defer srv.Close()

	cases := []struct {
		name, method, path, ctype, body string
		resource                        string
		params                          map[string]string
		query                           map[string]string
		multiQuery                      map[string][]string
		wantBody                        string
		base64                          bool
	}{
		{name: "webhook with a binary body", method: "POST", path: "/webhooks/shopify", ctype: "application/json", body: "{\"a\":\"\xff\"}",
			resource: "/webhooks/{provider}", params: map[string]string{"provider": "shopify"}, wantBody: base64.StdEncoding.EncodeToString([]byte("{\"a\":\"\xff\"}")), base64: true},
		{name: "release", method: "POST", path: "/webhooks/zendesk/release", ctype: "application/json", body: `{}`,
			resource: "/webhooks/{provider}/release", params: map[string]string{"provider": "zendesk"}, wantBody: base64.StdEncoding.EncodeToString([]byte(`{}`)), base64: true},
		{name: "text body without a content type", method: "POST", path: "/erasures", body: `{"subjectId":"x"}`,
			resource: "/erasures", wantBody: `{"subjectId":"x"}`},
		{name: "query decoded, last value single", method: "GET", path: "/erasures?limit=1&limit=2&q=a%20b&flag", resource: "/erasures",
			query: map[string]string{"limit": "2", "q": "a b", "flag": ""}, multiQuery: map[string][]string{"limit": {"1", "2"}, "q": {"a b"}, "flag": {""}}},
		{name: "escaped path parameter", method: "DELETE", path: "/api/user/a%2Fb%40c", resource: "/api/user/{id}", params: map[string]string{"id": "a/b@c"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got = events.APIGatewayProxyRequest{}
			h := http.Header{"X-Multi": {"1", "2"}}
			if c.ctype != "" {
				h.Set("Content-Type", c.ctype)
			}
			resp, body := do(t, c.method, srv.URL+c.path, h, c.body)
			if resp.StatusCode != 207 || string(body) != "\x00\x01\x02z" {
				t.Fatalf("answer %d %q", resp.StatusCode, body)
			}
			if resp.Header.Get("X-One") != "1" || !slices.Equal(resp.Header.Values("X-Many"), []string{"a", "b"}) || resp.Header.Get("Content-Type") != "text/plain" {
				t.Errorf("answer headers %v", resp.Header)
			}
			wantPath, _, _ := strings.Cut(c.path, "?")
			if got.HTTPMethod != c.method || got.Path != wantPath || got.Resource != c.resource || got.RequestContext.ResourcePath != c.resource ||
				got.RequestContext.HTTPMethod != c.method || got.RequestContext.Stage != Stage || got.RequestContext.RequestID == "" ||
				got.RequestContext.Identity.SourceIP != "127.0.0.1" || got.RequestContext.RequestID != resp.Header.Get("x-amzn-RequestId") {
				t.Errorf("event %+v", got)
			}
			if !mapsEqual(got.PathParameters, c.params) {
				t.Errorf("path parameters %v, want %v", got.PathParameters, c.params)
			}
			if !mapsEqual(got.QueryStringParameters, c.query) || len(got.MultiValueQueryStringParameters) != len(c.multiQuery) {
				t.Errorf("query %v %v, want %v %v", got.QueryStringParameters, got.MultiValueQueryStringParameters, c.query, c.multiQuery)
			}
			for k, v := range c.multiQuery {
				if !slices.Equal(got.MultiValueQueryStringParameters[k], v) {
					t.Errorf("multi-value query %s = %v, want %v", k, got.MultiValueQueryStringParameters[k], v)
				}
			}
			if got.Headers["X-Multi"] != "2" || !slices.Equal(got.MultiValueHeaders["X-Multi"], []string{"1", "2"}) || got.Headers["Host"] == "" {
				t.Errorf("headers %v / %v", got.Headers, got.MultiValueHeaders)
			}
			if got.Body != c.wantBody || got.IsBase64Encoded != c.base64 {
				t.Errorf("body %q base64 %v, want %q %v", got.Body, got.IsBase64Encoded, c.wantBody, c.base64)
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestGatewayIntegrationFailures: what API Gateway answers for a handler
// that fails, answers nonsense or takes too long.
func TestGatewayIntegrationFailures(t *testing.T) {
	testFailures(t, []failureCase[ProxyHandler]{
		{"error", func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
			return events.APIGatewayProxyResponse{}, io.ErrUnexpectedEOF
		}, 502, "INTEGRATION_FAILURE"},
		{"no status", func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
			return events.APIGatewayProxyResponse{Body: "x"}, nil
		}, 502, "INTEGRATION_FAILURE"},
		{"bad base64", func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
			return events.APIGatewayProxyResponse{StatusCode: 200, Body: "!!", IsBase64Encoded: true}, nil
		}, 502, "INTEGRATION_FAILURE"},
		{"timeout", func(ctx context.Context, _ events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
			<-ctx.Done()
			return events.APIGatewayProxyResponse{StatusCode: 200}, nil
		}, 504, "INTEGRATION_TIMEOUT"},
	}, func(h ProxyHandler, timeout time.Duration) http.Handler {
		g := NewGateway(RegionalRoutes, map[string]ProxyHandler{registry.FnAPI: h}, discard())
		g.timeout = timeout
		return g
	}, "GET", "/erasures", "", func(body []byte) string {
		var e errorBody
		json.Unmarshal(body, &e)
		return e.Error.Code
	})
	t.Run("too large", func(t *testing.T) {
		srv, store := apiServer(t)
		resp, body := do(t, "POST", srv.URL+"/erasures", http.Header{"Content-Type": {"application/json"}}, strings.Repeat(" ", MaxPayloadBytes+1))
		if resp.StatusCode != 413 || !strings.Contains(string(body), "REQUEST_TOO_LARGE") || store.creates != 0 {
			t.Errorf("= %d %s", resp.StatusCode, body)
		}
	})
}

// Change applies fn to a copy of the request and keeps it unless fn
// refuses, as the stores' conditional Change does; no audit is kept.
func (m *memStore) Change(_ context.Context, id string, fn func(*erasure.Request) ([]audit.Record, error)) (erasure.Request, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.byID[id]
	if !ok {
		return erasure.Request{}, erasure.ErrNotFound
	}
	next, _, err := dynamo.Apply(cur, fn)
	if errors.Is(err, erasure.ErrUnchanged) {
		return cur, nil
	}
	if err != nil {
		return cur, err
	}
	m.byID[id] = next
	return next, nil
}

func (m *memStore) Audit(context.Context, string, int) ([]audit.Record, error) { return nil, nil }

// AppendAudit: the memory store keeps no audit records.
func (m *memStore) AppendAudit(context.Context, ...audit.Record) error { return nil }

// AuditFrom: the memory store keeps no audit records.
func (m *memStore) AuditFrom(context.Context, int64, int) ([]audit.Record, error) { return nil, nil }

// Suppressed: the memory store forgets nobody.
func (m *memStore) Suppressed(context.Context, []string) (map[string][]erasure.Erased, error) {
	return nil, nil
}

// TestMalformedRequestsAnsweredInJSON: a request Go's server refuses before
// any handler (a bad percent-escape in the path, a control byte in a
// header) is answered in Lethe's JSON error shape, as the deployed API's
// gateway responses do.
func TestMalformedRequestsAnsweredInJSON(t *testing.T) {
	rt := start(t, loadConfig(t), t.TempDir(), asl.NewFakeClock(t0), 0)
	eu, _ := rt.Region("eu")
	for _, raw := range []string{
		"DELETE /api/user/%zz HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /erasures HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n",
	} {
		c, err := net.Dial("tcp", strings.TrimPrefix(eu.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte(raw)); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		c.Close()
		var e errorBody
		if resp.StatusCode != 400 || resp.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &e) != nil || e.Error.Code != "BAD_REQUEST" {
			t.Errorf("%q answered %d %s %q", raw, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
	// A well-formed request is untouched.
	if resp, body := do(t, "GET", eu.URL+"/erasures", nil, ""); resp.StatusCode != 200 {
		t.Errorf("GET /erasures = %d %s", resp.StatusCode, body)
	}
}

// CallbackTarget: the test store knows no callback tokens.
func (m *memStore) CallbackTarget(context.Context, string) (string, string, error) {
	return "", "", erasure.ErrNotFound
}
