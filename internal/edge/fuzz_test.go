package edge

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/lethe-erasure/lethe/internal/httpjson"
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
