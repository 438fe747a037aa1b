package edge

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lethe-erasure/lethe/internal/httpjson"
	"github.com/lethe-erasure/lethe/internal/webhook"
)

// FuzzRoute throws arbitrary methods, paths, queries, stages and bodies at
// both edge handlers: they never panic, always answer with a known status,
// and every error is the house JSON error.
func FuzzRoute(f *testing.F) {
	seeds := []struct{ method, path, query, stage, body string }{
		{"POST", "/webhooks/shopify", "", "$default", redactBody},
		{"POST", "/webhooks/zendesk", "tenant=eu-help", "$default", `{"type":"zen:event-type:user.deleted"}`},
		{"GET", "/t/eu-help/erasures/x", "a=1", "$default", ""},
		{"HEAD", "/prod/t/eu-help", "", "prod", ""},
		{"GET", "/t/%zz/..", "", "", ""},
		{"PUT", "/tenants/eu-help", "", "$default", `{"region":"eu"}`},
		{"POST", "/erasures", "", "$default", `{"subjectId":"a","tenantIds":["eu-help"]}`},
		{"GET", "/erasures/eg_0196a0a0-0000-7000-8000-000000000000", "", "", ""},
		{"POST", "/quarantine/q_00000000000000000000000000000000/release", "", "", ""},
		{"GET", "/quarantine", "limit=3&tenant=x", "", ""},
		{"", "", "", "", ""},
		{"get", "//", "%", "/", "\x00"},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.query, s.stage, s.body)
	}
	h := newHarness(f)
	f.Fuzz(func(t *testing.T, method, path, query, stage, body string) {
		hdr := http.Header{"Content-Type": {"application/json"}, "X-Shopify-Shop-Domain": {"eu-shop.myshopify.com"},
			"X-Shopify-Topic": {"customers/redact"}, "X-Shopify-Hmac-Sha256": {"AAAA"}}
		ev := h.httpEvent(method, path, query, hdr, []byte(body))
		ev.RequestContext.Stage = stage
		for _, serve := range []func() (int, map[string]string, string){
			func() (int, map[string]string, string) {
				r, _ := h.fan.Handle(t.Context(), ev)
				return r.StatusCode, r.Headers, r.Body
			},
			func() (int, map[string]string, string) {
				r, _ := h.api.Handle(t.Context(), ev)
				return r.StatusCode, r.Headers, r.Body
			},
		} {
			status, headers, out := serve()
			switch status {
			case 200, 201, 202, 302, 307, 400, 401, 404, 405, 409, 413, 415, 422, 502, 503:
			default:
				t.Fatalf("%s %q: unexpected status %d: %s", method, path, status, out)
			}
			if status >= 400 && requestMethod(ev) != http.MethodHead {
				var e httpjson.ErrorBody
				if json.Unmarshal([]byte(out), &e) != nil || e.Error.Code == "" {
					t.Fatalf("%s %q: %d answer is not a house error: %q", method, path, status, out)
				}
			}
			if loc := headers["Location"]; loc != "" && status >= 300 && status < 400 {
				if strings.ContainsAny(loc, " \r\n\t#\\") || !(strings.HasPrefix(loc, h.eu.srv.URL+"/") || strings.HasPrefix(loc, h.us.srv.URL+"/")) {
					t.Fatalf("%s %q: Location %q leaves the regions or is not clean", method, path, loc)
				}
			}
		}
	})
}

// FuzzFanoutKeepsOnlyVerified sends any delivery (any tenant, topic, id,
// body, signed with any secret, or with any signature header) to the
// fan-out: whatever it kept in the quarantine or forwarded to a region
// verifies under the edge's secret for its tenant, and nothing answers 500.
func FuzzFanoutKeepsOnlyVerified(f *testing.F) {
	f.Add(uint8(0), euShop, "customers/redact", "d-1", redactBody, secretOf("shopify", euShop), "")
	f.Add(uint8(0), newShop, "customers/redact", "d-2", redactBody, "forged", "")
	f.Add(uint8(0), euShop, "customers/redact", "d-3", redactBody, "", "64rX9hUuALuWO5HKxyhTGrra7Lp24iZyUEGOtX4xnwk=")
	f.Add(uint8(1), "eu-help", "", "inv-1", `{"type":"zen:event-type:user.deleted","detail":{"id":"9"}}`, secretOf("zendesk", "eu-help"), "")
	f.Add(uint8(2), "acme", "erasure.requested", "g-1", `{"subjectId":"u-1"}`, "s", "t=1,v1=00")
	h := newHarness(f)
	h.secrets["shopify/"+setupShop] = secretOf("shopify", setupShop) // at the edge, not in the directory
	providers := []string{"shopify", "zendesk", "generic"}
	f.Fuzz(func(t *testing.T, which uint8, tenant, topic, id, body, secret, signature string) {
		provider := providers[int(which)%len(providers)]
		ev := h.signed(provider, tenant, id, topic, []byte(body), secret)
		if signature != "" {
			name := map[string]string{"shopify": "x-shopify-hmac-sha256", "zendesk": "x-zendesk-webhook-signature", "generic": "x-lethe-signature"}[provider]
			ev.Headers[name] = signature
		}
		held, forwarded := h.store.heldCount(), len(h.eu.requests())+len(h.us.requests())
		resp, err := h.fan.Handle(t.Context(), ev)
		if err != nil || resp.StatusCode == http.StatusInternalServerError {
			t.Fatalf("Handle = %d %s, %v", resp.StatusCode, resp.Body, err)
		}
		if h.store.heldCount() == held && len(h.eu.requests())+len(h.us.requests()) == forwarded {
			return
		}
		p, _ := webhook.Lookup(provider)
		edgeSecret, ok := h.secrets[provider+"/"+tenant]
		if !ok || p.Verify(headerOf(ev), []byte(body), []byte(edgeSecret), h.clock.Now(), 5*time.Minute) != nil {
			t.Fatalf("kept or forwarded a delivery that does not verify under the edge's secret (answered %d %s)", resp.StatusCode, resp.Body)
		}
	})
}
