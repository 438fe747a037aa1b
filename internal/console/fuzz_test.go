package console

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/lethe-erasure/lethe/internal/api"
)

// FuzzConsoleInput sends the list page any query and the request page's
// actions any form (with the page's token, so that it is read): the console answers without a server error, and a
// search never shows back what was typed.
func FuzzConsoleInput(f *testing.F) {
	f.Add("status=failed&region=eu&limit=2", "retry", "subsystem=projects")
	f.Add("q=alice", "attest", "subsystem=orders&outcome=deleted&note=x")
	f.Add("next=eyJldSI6IjEifQ&atRisk=maybe", "extend", "months=x&reason=")
	f.Add("from=2026-13-45&to=%ff", "nosuch", "confirm=yes")
	fk := &fakeAPI{requests: map[string][]api.RequestView{"eu": requestsOf("eu", 5), "us": requestsOf("us", 2)}}
	c, srv := newTestConsole(f, fk, nil)
	h := srv.Config.Handler
	f.Fuzz(func(t *testing.T, query, action, form string) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/", nil)
		req.URL.RawQuery = query
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("GET /?%s = %d", query, rec.Code)
		}
		if q := strings.TrimSpace(req.URL.Query().Get("q")); len(q) > 3 && rec.Code != http.StatusSeeOther && strings.Contains(rec.Body.String(), q) {
			t.Fatalf("the search shows back %q", q)
		}
		rec = httptest.NewRecorder()
		req = httptest.NewRequest("POST", "/requests/er_eu_0190b0a0-0000-7000-8000-000000000001/"+url.PathEscape(action), strings.NewReader("csrf="+c.csrf+"&"+form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("POST %s %q = %d", action, form, rec.Code)
		}
	})
}
