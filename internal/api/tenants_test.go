package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// tenantFake is the fake request store with tenant registrations, as the
// DynamoDB adapter has them.
type tenantFake struct {
	*fakeStore
	mu      sync.Mutex
	tenants map[string]time.Time
	now     time.Time
	puts    int
}

var _ tenantStore = (*tenantFake)(nil)

func (f *tenantFake) RegisterTenant(_ context.Context, tenant string) (time.Time, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.puts++
	if f.fail != nil {
		return time.Time{}, false, f.fail
	}
	if at, ok := f.tenants[tenant]; ok {
		return at, false, nil
	}
	f.tenants[tenant] = f.now
	return f.now, true, nil
}

func (f *tenantFake) TenantRegistration(_ context.Context, tenant string) (time.Time, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return time.Time{}, false, f.fail
	}
	at, ok := f.tenants[tenant]
	return at, ok, nil
}

func tenantEvent(method, rawPath, body string) events.APIGatewayProxyRequest {
	return events.APIGatewayProxyRequest{
		HTTPMethod:     method,
		Path:           rawPath,
		Body:           body,
		Headers:        map[string]string{"Content-Type": "application/json"},
		RequestContext: events.APIGatewayProxyRequestContext{RequestID: "req-tenants-1"},
	}
}

func TestTenantRoutes(t *testing.T) {
	registered := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	type step struct {
		method, path, body string
		status             int
		code, field        string
		registeredAt       time.Time
		location           string
		allow              string
	}
	for _, tc := range []struct {
		name  string
		fail  bool
		steps []step
	}{
		{"register then read", false, []step{
			{method: "GET", path: "/tenants/eu-shop.myshopify.com", status: 404, code: CodeNotFound, field: "tenant"},
			{method: "PUT", path: "/tenants/eu-shop.myshopify.com", status: 201, registeredAt: testNow, location: "/tenants/eu-shop.myshopify.com"},
			{method: "PUT", path: "/tenants/eu-shop.myshopify.com", body: "{}", status: 200, registeredAt: testNow},
			{method: "GET", path: "/tenants/eu-shop.myshopify.com/", status: 200, registeredAt: testNow},
			{method: "GET", path: "/tenants/us-shop.myshopify.com", status: 404, code: CodeNotFound, field: "tenant"},
		}},
		{"already registered", false, []step{
			{method: "PUT", path: "/tenants/eu-help", body: " { } ", status: 200, registeredAt: registered},
			{method: "GET", path: "/tenants/eu-help", status: 200, registeredAt: registered},
		}},
		{"bad keys", false, []step{
			{method: "PUT", path: "/tenants/EU-Help", status: 400, code: CodeInvalidTenantID, field: "tenant"},
			{method: "PUT", path: "/tenants/eu%2Fhelp", status: 400, code: CodeInvalidTenantID, field: "tenant"},
			{method: "PUT", path: "/tenants/eu%ZZ", status: 400, code: CodeInvalidTenantID, field: "tenant"},
			{method: "GET", path: "/tenants/a:b", status: 400, code: CodeInvalidTenantID, field: "tenant"},
			{method: "PUT", path: "/tenants/-x", status: 400, code: CodeInvalidTenantID, field: "tenant"},
		}},
		{"bad body", false, []step{
			{method: "PUT", path: "/tenants/eu-help", body: `{"region":"eu"}`, status: 400, code: CodeInvalidBody},
		}},
		{"other methods", false, []step{
			{method: "DELETE", path: "/tenants/eu-help", status: 405, code: CodeMethodNotAllowed, allow: "GET, PUT"},
			{method: "POST", path: "/tenants/eu-help", status: 405, code: CodeMethodNotAllowed, allow: "GET, PUT"},
			{method: "GET", path: "/tenants", status: 404, code: CodeRouteNotFound},
		}},
		{"store down", true, []step{
			{method: "PUT", path: "/tenants/eu-help", status: 503, code: CodeUnavailable},
			{method: "GET", path: "/tenants/eu-help", status: 503, code: CodeUnavailable},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := &tenantFake{fakeStore: seededStore(), tenants: map[string]time.Time{"eu-help": registered}, now: testNow}
			if tc.fail {
				store.fail = errStoreDown
			}
			h, logs := newTestHandler(t, store.fakeStore)
			h.store = store
			for _, s := range tc.steps {
				resp := call(t, h, tenantEvent(s.method, s.path, s.body))
				if resp.StatusCode != s.status {
					t.Fatalf("%s %s = %d %s, want %d", s.method, s.path, resp.StatusCode, resp.Body, s.status)
				}
				if s.code != "" {
					code, field := errorOf(t, resp.Body)
					if code != s.code || field != s.field {
						t.Errorf("%s %s error = %s/%q, want %s/%q", s.method, s.path, code, field, s.code, s.field)
					}
					if resp.Headers["Allow"] != s.allow {
						t.Errorf("Allow = %q, want %q", resp.Headers["Allow"], s.allow)
					}
					continue
				}
				var v tenantView
				if err := json.Unmarshal([]byte(resp.Body), &v); err != nil {
					t.Fatal(err)
				}
				want := tenantView{Tenant: v.Tenant, Region: "eu", RegisteredAt: formatTime(s.registeredAt)}
				if v != want || v.Tenant == "" {
					t.Errorf("%s %s = %+v, want %+v", s.method, s.path, v, want)
				}
				if resp.Headers["Location"] != s.location {
					t.Errorf("Location = %q, want %q", resp.Headers["Location"], s.location)
				}
			}
			if tc.name == "bad keys" || tc.name == "bad body" || tc.name == "other methods" {
				if store.puts != 0 {
					t.Errorf("refused requests reached the store %d times", store.puts)
				}
			}
			if len(store.calls) != 0 {
				t.Errorf("tenant routes touched requests: %+v", store.calls)
			}
			if !strings.Contains(logs.String(), `"route":"`) {
				t.Errorf("no route logged: %s", logs.String())
			}
		})
	}
}

// TestTenantRoutesWithoutTenantStore: a store that keeps no tenants
// answers 501 and serves everything else as before.
func TestTenantRoutesWithoutTenantStore(t *testing.T) {
	h, _ := newTestHandler(t, seededStore())
	resp := call(t, h, tenantEvent(http.MethodPut, "/tenants/eu-help", ""))
	if code, _ := errorOf(t, resp.Body); resp.StatusCode != http.StatusNotImplemented || code != CodeNotImplemented {
		t.Errorf("PUT = %d %s, want 501 %s", resp.StatusCode, resp.Body, CodeNotImplemented)
	}
	if resp := call(t, h, tenantEvent(http.MethodGet, "/erasures/"+seedOpenID, "")); resp.StatusCode != http.StatusOK {
		t.Errorf("GET erasure = %d %s", resp.StatusCode, resp.Body)
	}
}
