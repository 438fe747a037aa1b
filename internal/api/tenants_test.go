package api

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

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
			store := seededStore()
			store.tenants["eu-help"], store.now = registered, testNow
			if tc.fail {
				store.fail = errStoreDown
			}
			h, logs := newTestHandler(t, store)
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
