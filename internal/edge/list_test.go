package edge

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// listAll follows next from the first page of a listing at limit, and
// returns every page's items (decoded into T) in order.
func listAll[T any](t *testing.T, h *harness, path, field string, limit int) (items []T, pages int) {
	t.Helper()
	next := ""
	for {
		q := fmt.Sprintf("?limit=%d", limit)
		if next != "" {
			q += "&next=" + url.QueryEscape(next)
		}
		resp := h.apiCall("GET", path+q, "")
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s%s: %d %s", path, q, resp.StatusCode, resp.Body)
		}
		var page map[string]json.RawMessage
		if err := json.Unmarshal([]byte(resp.Body), &page); err != nil {
			t.Fatal(err)
		}
		var got []T
		if err := json.Unmarshal(page[field], &got); err != nil || got == nil {
			t.Fatalf("GET %s%s: %s is not a list: %s", path, q, field, resp.Body)
		}
		if len(got) > limit {
			t.Fatalf("GET %s%s: %d items, over the limit", path, q, len(got))
		}
		pages++
		items = append(items, got...)
		raw, ok := page["next"]
		if !ok {
			return items, pages
		}
		if err := json.Unmarshal(raw, &next); err != nil || next == "" || len(got) != limit {
			t.Fatalf("GET %s%s: next %s after %d items", path, q, raw, len(got))
		}
		if pages > 100 {
			t.Fatal("next never ends")
		}
	}
}

func TestListTenants(t *testing.T) {
	h := newHarness(t)
	for i := range 7 {
		key := fmt.Sprintf("shop-%02d.myshopify.com", i)
		if resp := h.apiCall("PUT", "/tenants/"+key, `{"region":"eu"}`); resp.StatusCode != 201 {
			t.Fatal(resp.Body)
		}
	}
	var want []string
	for k := range h.store.tenants {
		want = append(want, k)
	}
	slices.Sort(want)

	got, pages := listAll[TenantView](t, h, "/tenants", "tenants", 5)
	var keys []string
	for _, v := range got {
		keys = append(keys, v.Tenant)
	}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("tenants over %d pages (-want +got):\n%s", pages, diff)
	}
	if pages != 3 {
		t.Errorf("12 tenants by 5 took %d pages, want 3", pages)
	}
	if got[0] != (TenantView{Tenant: apShop, Region: "ap", RegisteredAt: "2026-05-04T10:00:00.000Z", UpdatedAt: "2026-05-04T10:00:00.000Z"}) {
		t.Errorf("first tenant = %+v", got[0])
	}
	// Without limit: DefaultListLimit, so the whole directory and no next.
	resp := h.apiCall("GET", "/tenants", "")
	if m := bodyMap(t, resp); len(m["tenants"].([]any)) != len(want) || m["next"] != nil {
		t.Errorf("GET /tenants = %s", resp.Body)
	}
}

func TestListDefaultAndMaximumLimit(t *testing.T) {
	h := newHarness(t)
	for i := range MaxListLimit + 10 {
		key := fmt.Sprintf("t%03d.example", i)
		h.store.tenants[key] = Tenant{Key: key, Region: "eu", RegisteredAt: t0, UpdatedAt: t0}
	}
	for q, n := range map[string]int{"": DefaultListLimit, "?limit=1": 1, fmt.Sprintf("?limit=%d", MaxListLimit): MaxListLimit} {
		resp := h.apiCall("GET", "/tenants"+q, "")
		var page TenantPage
		if err := json.Unmarshal([]byte(resp.Body), &page); err != nil || len(page.Tenants) != n || page.Next == "" {
			t.Errorf("GET /tenants%s: %d tenants, next %q, want %d and a next", q, len(page.Tenants), page.Next, n)
		}
	}
}

func TestListRefusals(t *testing.T) {
	h := newHarness(t)
	// A cursor each listing handed out, to hand to the others.
	h.store.receipts["r"] = Receipt{Key: "r", ReceivedAt: t0}
	h.store.receipts["s"] = Receipt{Key: "s", ReceivedAt: t0}
	h.store.globals["eg_1"], h.store.globals["eg_2"] = Global{ID: "eg_1"}, Global{ID: "eg_2"}
	cursors := map[string]string{}
	for _, path := range []string{"/tenants", "/erasures", "/receipts"} {
		m := bodyMap(t, h.apiCall("GET", path+"?limit=1", ""))
		next, _ := m["next"].(string)
		if next == "" {
			t.Fatalf("GET %s?limit=1 handed out no next: %v", path, m)
		}
		cursors[path] = next
	}
	for _, path := range []string{"/tenants", "/erasures", "/receipts"} {
		other := cursors["/tenants"]
		if path == "/tenants" {
			other = cursors["/receipts"]
		}
		for _, tc := range []struct {
			query, code, field string
		}{
			{"limit=0", CodeInvalidQueryParam, "limit"},
			{"limit=-1", CodeInvalidQueryParam, "limit"},
			{"limit=x", CodeInvalidQueryParam, "limit"},
			{"limit=1.5", CodeInvalidQueryParam, "limit"},
			{fmt.Sprintf("limit=%d", MaxListLimit+1), CodeInvalidQueryParam, "limit"},
			{"limit=1&limit=2", CodeInvalidQueryParam, "limit"},
			{"next=garbage", CodeInvalidCursor, "next"},
			{"next=" + url.QueryEscape(other), CodeInvalidCursor, "next"},
			{"next=" + url.QueryEscape(cursors[path]) + "&next=" + url.QueryEscape(cursors[path]), CodeInvalidCursor, "next"},
			{"next=" + strings.Repeat("a", MaxCursorBytes+1), CodeInvalidCursor, "next"},
			{"tenant=eu-help", CodeInvalidQueryParam, ""},
			{"cursor=x", CodeInvalidQueryParam, ""},
			{"limit=%zz", CodeInvalidQueryParam, ""},
		} {
			resp := h.apiCall("GET", path+"?"+tc.query, "")
			if resp.StatusCode != 400 {
				t.Errorf("GET %s?%s: %d %s", path, tc.query, resp.StatusCode, resp.Body)
				continue
			}
			if e := errorOf(t, resp); e.Code != tc.code || e.Field != tc.field {
				t.Errorf("GET %s?%s: error %s/%q, want %s/%q", path, tc.query, e.Code, e.Field, tc.code, tc.field)
			}
		}
		// An empty next is the first page, as none is.
		if resp := h.apiCall("GET", path+"?next=", ""); resp.StatusCode != 200 {
			t.Errorf("GET %s?next=: %d %s", path, resp.StatusCode, resp.Body)
		}
		if resp := h.apiCall("DELETE", path, ""); resp.StatusCode != 405 || resp.Headers["Allow"] == "" {
			t.Errorf("DELETE %s: %d %v", path, resp.StatusCode, resp.Headers)
		}
	}
	if resp := h.apiCall("POST", "/tenants", `{"region":"eu"}`); resp.StatusCode != 405 || resp.Headers["Allow"] != "GET" {
		t.Errorf("POST /tenants: %d Allow %q", resp.StatusCode, resp.Headers["Allow"])
	}
	if resp := h.apiCall("GET", "/erasures", ""); resp.StatusCode != 200 {
		t.Errorf("GET /erasures beside POST /erasures: %d", resp.StatusCode)
	}
	// A table that does not answer is a 503 to retry, as elsewhere.
	h.store.fail = errThrottled
	for _, path := range []string{"/tenants", "/erasures", "/receipts"} {
		if resp := h.apiCall("GET", path, ""); resp.StatusCode != 503 || errorOf(t, resp).Code != CodeUnavailable {
			t.Errorf("GET %s with the table down: %d %s", path, resp.StatusCode, resp.Body)
		}
	}
}

func TestListErasures(t *testing.T) {
	h := newHarness(t)
	var ids []string
	for i, tenants := range []string{`["eu-help"]`, `["us-help","eu-shop.myshopify.com"]`, `["us-shop.myshopify.com"]`} {
		h.clock.Advance(time.Minute)
		resp := h.apiCall("POST", "/erasures", fmt.Sprintf(`{"subjectId":"%s","tenantIds":%s}`, subject, tenants))
		if resp.StatusCode != 202 {
			t.Fatalf("erasure %d: %d %s", i, resp.StatusCode, resp.Body)
		}
		ids = append(ids, bodyMap(t, resp)["globalId"].(string)) // UUIDv7: increasing within a process
	}
	// Reading one records the regions' states, which the listing shows.
	h.clock.Advance(time.Minute)
	if resp := h.apiCall("GET", "/erasures/"+ids[1], ""); resp.StatusCode != 200 || bodyMap(t, resp)["updatedAt"] != "2026-05-04T10:04:00.000Z" {
		t.Fatalf("GET /erasures/%s: %d %s", ids[1], resp.StatusCode, resp.Body)
	}

	got, _ := listAll[GlobalView](t, h, "/erasures", "erasures", 2)
	var order []string
	for _, g := range got {
		order = append(order, g.GlobalID)
	}
	if diff := cmp.Diff([]string{ids[2], ids[1], ids[0]}, order); diff != "" {
		t.Errorf("order (-want newest first +got):\n%s", diff)
	}
	second := got[1]
	if second.Status != "" || second.CreatedAt != "2026-05-04T10:02:00.000Z" || second.UpdatedAt != "2026-05-04T10:04:00.000Z" || len(second.Regions) != 2 ||
		second.Regions[0].Region != "eu" || second.Regions[0].Status != "running" || second.Regions[1].Region != "us" || second.Regions[1].RequestID == "" {
		t.Errorf("listed %+v", second)
	}
	if first := got[2]; first.UpdatedAt != first.CreatedAt || first.Regions[0].Status != "" {
		t.Errorf("a record never read again: %+v", first)
	}
	// Ids and states only: no subject, no tenant; no region asked.
	before := len(h.eu.requests()) + len(h.us.requests())
	resp := h.apiCall("GET", "/erasures", "")
	for _, leak := range []string{subject, Hash(subject), "eu-help", "us-help", "myshopify"} {
		if strings.Contains(resp.Body, leak) {
			t.Errorf("GET /erasures shows %s: %s", leak, resp.Body)
		}
	}
	var raw struct {
		Erasures []map[string]json.RawMessage `json:"erasures"`
	}
	_ = json.Unmarshal([]byte(resp.Body), &raw)
	for _, e := range raw.Erasures {
		for k := range e {
			if k != "globalId" && k != "createdAt" && k != "updatedAt" && k != "regions" {
				t.Errorf("listed erasure has %s", k)
			}
		}
	}
	if after := len(h.eu.requests()) + len(h.us.requests()); after != before {
		t.Errorf("GET /erasures called the regions %d times", after-before)
	}
}

func TestListReceipts(t *testing.T) {
	h := newHarness(t)
	// Three deliveries forwarded a second apart, one of them twice.
	for i, id := range []string{"d-1", "d-2", "d-3"} {
		h.clock.Advance(time.Second)
		if resp := h.serveFanout(h.shopify(euShop, id, "orders/create", []byte(redactBody))); resp.StatusCode != 200 {
			t.Fatalf("delivery %d: %d %s", i, resp.StatusCode, resp.Body)
		}
	}
	h.serveFanout(h.shopify(euShop, "d-2", "orders/create", []byte(redactBody)))
	// A registered tenant without a secret at the edge: refused, and the
	// hour's alert throttled by a receipt of its own, not listed.
	const bare = "bare-shop.myshopify.com"
	h.store.tenants[bare] = Tenant{Key: bare, Region: "eu", RegisteredAt: t0, UpdatedAt: t0}
	h.clock.Advance(time.Second)
	if resp := h.serveFanout(h.signed("shopify", bare, "d-4", "orders/create", []byte(redactBody), "whatever")); resp.StatusCode != 503 {
		t.Fatalf("delivery without an edge secret: %d %s", resp.StatusCode, resp.Body)
	}
	alerts := 0
	for _, r := range h.store.receipts {
		if r.Outcome == OutcomeAlerted {
			alerts++
		}
	}
	if alerts != 1 {
		t.Fatalf("%d alert receipts, want 1", alerts)
	}

	got, pages := listAll[ReceiptView](t, h, "/receipts", "receipts", 2)
	var order []string
	for _, r := range got {
		order = append(order, r.DeliveryID)
	}
	if diff := cmp.Diff([]string{"d-3", "d-2", "d-1"}, order); diff != "" || pages != 2 {
		t.Errorf("receipts over %d pages (-want newest first +got):\n%s", pages, diff)
	}
	want := ReceiptView{Provider: "shopify", DeliveryID: "d-3", TenantHash: Hash(euShop), ReceivedIn: "eu-central-1", ForwardedTo: []string{"eu"},
		State: string(StateForwarded), Outcome: OutcomeForwarded, ReceivedAt: "2026-05-04T10:00:03.000Z", UpdatedAt: "2026-05-04T10:00:03.000Z", Attempts: 1}
	if diff := cmp.Diff(want, got[0]); diff != "" {
		t.Errorf("receipt (-want +got):\n%s", diff)
	}
	// Nothing of a body, a header or the tenant key.
	resp := h.apiCall("GET", "/receipts", "")
	for _, leak := range []string{"john@example.com", "555-625-1199", euShop, bare, "alert:", secretOf("shopify", euShop)} {
		if strings.Contains(resp.Body, leak) {
			t.Errorf("GET /receipts shows %s: %s", leak, resp.Body)
		}
	}
	var raw struct {
		Receipts []map[string]json.RawMessage `json:"receipts"`
	}
	_ = json.Unmarshal([]byte(resp.Body), &raw)
	allowed := []string{"provider", "deliveryId", "tenantHash", "receivedIn", "forwardedTo", "state", "outcome", "receivedAt", "updatedAt", "attempts"}
	for _, r := range raw.Receipts {
		for k := range r {
			if !slices.Contains(allowed, k) {
				t.Errorf("listed receipt has %s", k)
			}
		}
	}
	// A claim in flight lists with no destination yet: an empty list.
	h.store.receipts["k"] = Receipt{Key: "k", Provider: "shopify", DeliveryID: "d-9", State: StateClaimed, ReceivedAt: h.clock.Now().Add(time.Hour)}
	m := bodyMap(t, h.apiCall("GET", "/receipts?limit=1", ""))
	if r := m["receipts"].([]any)[0].(map[string]any); r["deliveryId"] != "d-9" || !cmp.Equal(r["forwardedTo"], []any{}) {
		t.Errorf("claimed receipt = %v", r)
	}
}
