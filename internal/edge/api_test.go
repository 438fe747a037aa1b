package edge

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/lethe-erasure/lethe/internal/webhook"
)

func (h *harness) apiCall(method, path string, body string, header ...string) events.APIGatewayV2HTTPResponse {
	h.t.Helper()
	hdr := http.Header{}
	if body != "" {
		hdr.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		hdr.Set(header[i], header[i+1])
	}
	rawPath, query, _ := strings.Cut(path, "?")
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	ev := h.httpEvent(method, rawPath, query, hdr, b)
	ev.IsBase64Encoded = false
	ev.Body = body
	ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
		IAM: &events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{UserARN: "arn:aws:iam::123456789012:user/dpo"},
	}
	return h.serveAPI(ev)
}

func TestTenantRegistration(t *testing.T) {
	h := newHarness(t)
	steps := []struct {
		name   string
		method string
		path   string
		body   string
		status int
		code   string
		field  string
		region string
	}{
		{"unknown", "GET", "/tenants/new-shop.myshopify.com", "", 404, CodeUnknownTenant, "tenant", ""},
		{"register", "PUT", "/tenants/new-shop.myshopify.com", `{"region":"eu"}`, 201, "", "", "eu"},
		{"again", "PUT", "/tenants/new-shop.myshopify.com", `{"region":"eu"}`, 200, "", "", "eu"},
		{"read", "GET", "/tenants/new-shop.myshopify.com", "", 200, "", "", "eu"},
		{"other region without move", "PUT", "/tenants/new-shop.myshopify.com", `{"region":"us"}`, 409, CodeTenantConflict, "region", ""},
		{"move false", "PUT", "/tenants/new-shop.myshopify.com", `{"region":"us","move":false}`, 409, CodeTenantConflict, "region", ""},
		{"still eu", "GET", "/tenants/new-shop.myshopify.com", "", 200, "", "", "eu"},
		{"move", "PUT", "/tenants/new-shop.myshopify.com", `{"region":"us","move":true}`, 200, "", "", "us"},
		{"moved", "GET", "/tenants/new-shop.myshopify.com", "", 200, "", "", "us"},
		{"unknown region", "PUT", "/tenants/x.example", `{"region":"mars"}`, 400, CodeUnknownRegion, "region", ""},
		{"undeployed region is registrable", "PUT", "/tenants/y.example", `{"region":"ap"}`, 201, "", "", "ap"},
		{"no region", "PUT", "/tenants/x.example", `{}`, 400, CodeRequired, "region", ""},
		{"region not a string", "PUT", "/tenants/x.example", `{"region":1}`, 400, CodeInvalidType, "region", ""},
		{"move not a bool", "PUT", "/tenants/x.example", `{"region":"eu","move":"yes"}`, 400, CodeInvalidType, "move", ""},
		{"unknown field", "PUT", "/tenants/x.example", `{"region":"eu","Region":"us"}`, 400, CodeUnknownField, "Region", ""},
		{"duplicate field", "PUT", "/tenants/x.example", `{"region":"eu","region":"us"}`, 400, CodeDuplicateField, "region", ""},
		{"not json", "PUT", "/tenants/x.example", `region=eu`, 400, CodeInvalidJSON, "", ""},
		{"trailing data", "PUT", "/tenants/x.example", `{"region":"eu"} {}`, 400, CodeInvalidJSON, "", ""},
		{"bad tenant", "PUT", "/tenants/X_Shop", `{"region":"eu"}`, 400, CodeInvalidTenant, "tenant", ""},
		{"delete not allowed", "DELETE", "/tenants/x.example", "", 405, CodeMethodNotAllowed, "", ""},
	}
	for _, s := range steps {
		resp := h.apiCall(s.method, s.path, s.body)
		if resp.StatusCode != s.status {
			t.Fatalf("%s: status %d, want %d: %s", s.name, resp.StatusCode, s.status, resp.Body)
		}
		if s.code != "" {
			if e := errorOf(t, resp); e.Code != s.code || e.Field != s.field {
				t.Errorf("%s: error %s/%q, want %s/%q", s.name, e.Code, e.Field, s.code, s.field)
			}
			continue
		}
		if m := bodyMap(t, resp); m["region"] != s.region || m["registeredAt"] == "" {
			t.Errorf("%s: answer %s", s.name, resp.Body)
		}
	}
	if _, ok := h.store.tenants["x.example"]; ok {
		t.Error("a refused registration was stored")
	}
	if h.apiCall("PUT", "/tenants/z.example", `{"region":"eu"}`, "Content-Type", "text/plain").StatusCode != 415 {
		t.Error("a text body was taken")
	}
	if !strings.Contains(h.logs.String(), "arn:aws:iam::123456789012:user/dpo") {
		t.Error("the caller is not in the log")
	}
}

func TestQuarantineRelease(t *testing.T) {
	h := newHarness(t)
	// The tenants' secrets are at the edge before they are registered.
	h.secrets["shopify/"+newShop] = "the-shop-secret"
	h.secrets["zendesk/new-help"] = "zsecret"
	ev := h.signed("shopify", newShop, "q-1", "customers/redact", []byte(redactBody), "the-shop-secret")
	if resp := h.serveFanout(ev); resp.StatusCode != 202 {
		t.Fatalf("%d %s", resp.StatusCode, resp.Body)
	}
	zev := h.signed("zendesk", "new-help", "inv-1", "", []byte(`{"ticket":1}`), "zsecret")
	h.clock.Advance(time.Second)
	if resp := h.serveFanout(zev); resp.StatusCode != 202 {
		t.Fatalf("%d %s", resp.StatusCode, resp.Body)
	}
	id := QuarantineID(DeliveryKey("shopify", newShop, "q-1"))

	resp := h.apiCall("GET", "/quarantine", "")
	var list struct {
		Held []map[string]any `json:"held"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &list); err != nil || len(list.Held) != 2 {
		t.Fatalf("GET /quarantine: %d %s", resp.StatusCode, resp.Body)
	}
	if list.Held[1]["id"] != id || list.Held[1]["tenantKeySha256"] != Hash(newShop) || list.Held[1]["signatureVerified"] != true ||
		list.Held[1]["provider"] != "shopify" || list.Held[1]["receivedAt"] != "2026-05-04T10:00:00.000Z" {
		t.Errorf("listing = %v", list.Held[1])
	}
	if strings.Contains(resp.Body, newShop) || strings.Contains(resp.Body, "john@example.com") {
		t.Errorf("listing shows the tenant key or the body: %s", resp.Body)
	}
	resp = h.apiCall("GET", "/quarantine?tenant="+newShop+"&limit=5", "")
	if err := json.Unmarshal([]byte(resp.Body), &list); err != nil || len(list.Held) != 1 || list.Held[0]["id"] != id {
		t.Errorf("GET /quarantine?tenant=: %s", resp.Body)
	}
	for _, q := range []string{"limit=0", "limit=x", "limit=201", "tenant=BAD!", "other=1"} {
		if resp := h.apiCall("GET", "/quarantine?"+q, ""); resp.StatusCode != 400 {
			t.Errorf("GET /quarantine?%s: %d", q, resp.StatusCode)
		}
	}

	// Not registered yet: 409, still held, nothing sent.
	resp = h.apiCall("POST", "/quarantine/"+id+"/release", "")
	if resp.StatusCode != 409 || errorOf(t, resp).Code != CodeQuarantineNotKnown {
		t.Fatalf("release before registration: %d %s", resp.StatusCode, resp.Body)
	}
	// Registered, home region down: 503, still held.
	if resp := h.apiCall("PUT", "/tenants/"+newShop, `{"region":"eu"}`); resp.StatusCode != 201 {
		t.Fatal(resp.Body)
	}
	h.eu.setMode("down")
	if resp := h.apiCall("POST", "/quarantine/"+id+"/release", ""); resp.StatusCode != 503 {
		t.Fatalf("release while eu is down: %d %s", resp.StatusCode, resp.Body)
	}
	if h.store.heldCount() != 2 {
		t.Fatal("a failed release dropped the delivery")
	}
	h.eu.setMode("ok")
	before := len(h.eu.requests())
	resp = h.apiCall("POST", "/quarantine/"+id+"/release", "")
	if resp.StatusCode != 200 || !cmp.Equal(bodyMap(t, resp)["regions"], []any{"eu"}) {
		t.Fatalf("release: %d %s", resp.StatusCode, resp.Body)
	}
	got := h.eu.requests()[before:]
	// By the receiver's IAM-authorised release route, signed (SigV4), the
	// provider's signature headers unchanged.
	if len(got) != 1 || string(got[0].Body) != redactBody || got[0].Header.Get(webhook.HeaderShopifyHmac) != headerOf(ev).Get(webhook.HeaderShopifyHmac) ||
		got[0].Header.Get(webhook.HeaderShopifyShop) != newShop || got[0].Path != "/webhooks/shopify/release" ||
		!strings.HasPrefix(got[0].Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=AKIDEDGETEST/") {
		t.Fatalf("eu received %+v", got)
	}
	// With the edge's receipt time, from which the request counts.
	if at := got[0].Header.Get(webhook.ReceivedAtHeader); at != "2026-05-04T10:00:00Z" {
		t.Errorf("released with %s %q, want the receipt 2026-05-04T10:00:00Z", webhook.ReceivedAtHeader, at)
	}
	p, _ := webhook.Lookup("shopify")
	if err := p.Verify(got[0].Header, got[0].Body, []byte("the-shop-secret"), h.clock.Now(), 0); err != nil {
		t.Errorf("the region cannot verify the released delivery: %v", err)
	}
	if len(h.us.requests()) != 0 {
		t.Error("us received a released eu delivery")
	}
	r, _ := h.store.receipt(DeliveryKey("shopify", newShop, "q-1"))
	if r.State != StateForwarded || r.Outcome != OutcomeReleased || !cmp.Equal(r.ForwardedTo, []string{"eu"}) {
		t.Errorf("receipt after release = %+v", r)
	}
	if resp := h.apiCall("POST", "/quarantine/"+id+"/release", ""); resp.StatusCode != 404 {
		t.Errorf("second release: %d %s", resp.StatusCode, resp.Body)
	}
	// The provider's retry of a released delivery is a duplicate.
	if resp := h.serveFanout(ev); resp.StatusCode != 200 || bodyMap(t, resp)["status"] != "duplicate" {
		t.Errorf("retry after release: %d %s", resp.StatusCode, resp.Body)
	}

	// The zendesk one goes with its tenant query parameter.
	if resp := h.apiCall("PUT", "/tenants/new-help", `{"region":"us"}`); resp.StatusCode != 201 {
		t.Fatal(resp.Body)
	}
	zid := QuarantineID(DeliveryKey("zendesk", "new-help", "inv-1"))
	if resp := h.apiCall("POST", "/quarantine/"+zid+"/release", ""); resp.StatusCode != 200 {
		t.Fatalf("zendesk release: %d %s", resp.StatusCode, resp.Body)
	}
	if us := h.us.requests(); len(us) != 1 || us[0].Query != "tenant=new-help" || us[0].Path != "/webhooks/zendesk/release" {
		t.Errorf("us received %+v", us)
	}

	for _, bad := range []struct{ path, body string }{{"/quarantine/q_123/release", ""}, {"/quarantine/" + id + "/release", `{"x":1}`}} {
		if resp := h.apiCall("POST", bad.path, bad.body); resp.StatusCode != 400 {
			t.Errorf("POST %s: %d", bad.path, resp.StatusCode)
		}
	}
}

func TestQuarantineReleaseMisrouted(t *testing.T) {
	h := newHarness(t)
	h.secrets["shopify/"+newShop] = "s"
	h.serveFanout(h.signed("shopify", newShop, "q-2", "customers/redact", []byte(redactBody), "s"))
	h.apiCall("PUT", "/tenants/"+newShop, `{"region":"eu"}`)
	h.eu.setMode("conflict")
	resp := h.apiCall("POST", "/quarantine/"+QuarantineID(DeliveryKey("shopify", newShop, "q-2"))+"/release", "")
	if resp.StatusCode != 502 || errorOf(t, resp).Code != CodeMisrouted {
		t.Fatalf("%d %s", resp.StatusCode, resp.Body)
	}
	if h.store.heldCount() != 1 {
		t.Error("a misrouted release dropped the delivery")
	}
}

const subject = "alice@example.com"

func TestGlobalErasure(t *testing.T) {
	h := newHarness(t)
	body := `{"subjectId":"` + subject + `","tenantIds":["eu-shop.myshopify.com","eu-help"]}`
	resp := h.apiCall("POST", "/erasures", body)
	if resp.StatusCode != 202 {
		t.Fatalf("%d %s", resp.StatusCode, resp.Body)
	}
	var out struct {
		GlobalID string             `json:"globalId"`
		Regions  []GlobalRegionView `json:"regions"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &out); err != nil || !globalIDRE.MatchString(out.GlobalID) || len(out.Regions) != 1 || out.Regions[0].Region != "eu" {
		t.Fatalf("answer %s", resp.Body)
	}
	if resp.Headers["Location"] != "/erasures/"+out.GlobalID {
		t.Errorf("Location = %q", resp.Headers["Location"])
	}
	// Only eu hears of the subject: one filing, signed, with the key.
	eu := h.eu.requests()
	if len(eu) != 1 || len(h.us.requests()) != 0 {
		t.Fatalf("eu got %d requests, us %d; want 1 and 0", len(eu), len(h.us.requests()))
	}
	f := eu[0]
	var filed map[string]string
	if err := json.Unmarshal(f.Body, &filed); err != nil || filed["subjectId"] != subject || len(filed) != 1 {
		t.Errorf("filed body %s: two eu tenants name no single tenantId", f.Body)
	}
	if f.Header.Get("Idempotency-Key") != out.GlobalID+":eu" || f.Header.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", f.Header)
	}
	if a := f.Header.Get("Authorization"); !strings.HasPrefix(a, "AWS4-HMAC-SHA256 Credential=AKIDEDGETEST/") || !strings.Contains(a, "/eu-west-1/execute-api/aws4_request") {
		t.Errorf("Authorization = %q, want SigV4 for execute-api in eu-west-1", a)
	}

	// Two regions: each gets its own filing and tenant.
	resp = h.apiCall("POST", "/erasures", `{"subjectId":"`+subject+`","tenantIds":["us-help","eu-help"]}`)
	if resp.StatusCode != 202 {
		t.Fatalf("%d %s", resp.StatusCode, resp.Body)
	}
	var two struct {
		GlobalID string             `json:"globalId"`
		Regions  []GlobalRegionView `json:"regions"`
	}
	_ = json.Unmarshal([]byte(resp.Body), &two)
	if len(two.Regions) != 2 || two.Regions[0].Region != "eu" || two.Regions[1].Region != "us" {
		t.Fatalf("regions %+v", two.Regions)
	}
	us := h.us.requests()
	if len(us) != 1 || !strings.Contains(string(us[0].Body), `"tenantId":"us-help"`) || !strings.Contains(us[0].Header.Get("Authorization"), "/us-east-1/execute-api/") {
		t.Errorf("us got %+v", us)
	}
	g, err := h.store.Global(t.Context(), two.GlobalID)
	if err != nil || len(g.Regions) != 2 || g.Regions[1].RequestID != two.Regions[1].RequestID {
		t.Errorf("stored global %+v, %v", g, err)
	}

	// Aggregation.
	status := func(id string) (string, []GlobalRegionView) {
		t.Helper()
		resp := h.apiCall("GET", "/erasures/"+id, "")
		if resp.StatusCode != 200 {
			t.Fatalf("GET: %d %s", resp.StatusCode, resp.Body)
		}
		var v struct {
			Status  string             `json:"status"`
			Regions []GlobalRegionView `json:"regions"`
		}
		_ = json.Unmarshal([]byte(resp.Body), &v)
		return v.Status, v.Regions
	}
	setStatus := func(r *regionServer, id, s string) {
		r.mu.Lock()
		r.status[id] = s
		r.mu.Unlock()
	}
	euID, usID := two.Regions[0].RequestID, two.Regions[1].RequestID
	if s, rs := status(two.GlobalID); s != "running" || rs[0].Status != "running" {
		t.Errorf("fresh: %s %+v", s, rs)
	}
	setStatus(h.eu, euID, "completed")
	if s, _ := status(two.GlobalID); s != "running" {
		t.Errorf("eu completed only: %s", s)
	}
	setStatus(h.us, usID, "completed")
	if s, _ := status(two.GlobalID); s != "completed" {
		t.Errorf("both completed: %s", s)
	}
	g, _ = h.store.Global(t.Context(), two.GlobalID)
	if g.Regions[0].Status != "completed" || g.Regions[1].Status != "completed" {
		t.Errorf("states not recorded: %+v", g.Regions)
	}
	setStatus(h.us, usID, "failed")
	if s, _ := status(two.GlobalID); s != "failed" {
		t.Errorf("us failed: %s", s)
	}
	h.us.setMode("down")
	if s, rs := status(two.GlobalID); s != "running" || rs[1].Status != StatusUnavailable {
		t.Errorf("us down: %s %+v", s, rs)
	}

	if h.apiCall("GET", "/erasures/eg_0196a0a0-0000-7000-8000-000000000000", "").StatusCode != 404 {
		t.Error("unknown global id")
	}
	if h.apiCall("GET", "/erasures/er_eu_0196a0a0-0000-7000-8000-000000000000", "").StatusCode != 400 {
		t.Error("a regional id is not a global id")
	}

	// The subject is nowhere at the edge: not in answers, logs or tables.
	for _, g := range h.store.globals {
		if b, _ := json.Marshal(g); strings.Contains(string(b), subject) {
			t.Errorf("global record holds the subject: %s", b)
		}
	}
	if strings.Contains(h.logs.String(), subject) || strings.Contains(h.logs.String(), Hash(subject)) {
		t.Errorf("log holds the subject:\n%s", h.logs.String())
	}
}

func TestGlobalErasureRefusals(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		header []string
		status int
		code   string
		field  string
	}{
		{"unknown tenant files nothing", `{"subjectId":"a@example.com","tenantIds":["eu-help","nobody.example"]}`, nil, 422, CodeUnknownTenant, "tenantIds[1]"},
		{"undeployed region files nothing", `{"subjectId":"a@example.com","tenantIds":["eu-help","ap-shop.myshopify.com"]}`, nil, 503, CodeRegionNotDeployed, ""},
		{"no subject", `{"tenantIds":["eu-help"]}`, nil, 400, CodeRequired, "subjectId"},
		{"empty subject", `{"subjectId":"","tenantIds":["eu-help"]}`, nil, 400, CodeInvalidSubjectID, "subjectId"},
		{"padded subject", `{"subjectId":" a@example.com","tenantIds":["eu-help"]}`, nil, 400, CodeInvalidSubjectID, "subjectId"},
		{"no tenants", `{"subjectId":"a@example.com"}`, nil, 400, CodeRequired, "tenantIds"},
		{"empty tenants", `{"subjectId":"a@example.com","tenantIds":[]}`, nil, 400, CodeTooManyTenants, "tenantIds"},
		{"tenants not a list", `{"subjectId":"a@example.com","tenantIds":"eu-help"}`, nil, 400, CodeInvalidType, "tenantIds"},
		{"tenant not a string", `{"subjectId":"a@example.com","tenantIds":[1]}`, nil, 400, CodeInvalidType, "tenantIds[0]"},
		{"bad tenant", `{"subjectId":"a@example.com","tenantIds":["EU"]}`, nil, 400, CodeInvalidTenant, "tenantIds[0]"},
		{"repeated tenant", `{"subjectId":"a@example.com","tenantIds":["eu-help","eu-help"]}`, nil, 400, CodeDuplicateTenant, "tenantIds[1]"},
		{"tenantId singular", `{"subjectId":"a@example.com","tenantId":"eu-help"}`, nil, 400, CodeUnknownField, "tenantId"},
		{"subject as key", `{"a@example.com":1}`, nil, 400, CodeUnknownField, ""},
		{"lone surrogate in the subject", `{"subjectId":"a@example.com\ud800","tenantIds":["eu-help"]}`, nil, 400, CodeInvalidJSON, "subjectId"},
		{"lone surrogate in a key", `{"a@example.com\ud800":1}`, nil, 400, CodeUnknownField, ""},
		{"bad key", `{"subjectId":"a@example.com","tenantIds":["eu-help"]}`, []string{"Idempotency-Key", "é"}, 400, CodeInvalidIdempotency, "Idempotency-Key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			resp := h.apiCall("POST", "/erasures", tc.body, tc.header...)
			if resp.StatusCode != tc.status {
				t.Fatalf("%d %s", resp.StatusCode, resp.Body)
			}
			if e := errorOf(t, resp); e.Code != tc.code || e.Field != tc.field {
				t.Errorf("error %s/%q, want %s/%q", e.Code, e.Field, tc.code, tc.field)
			}
			if len(h.eu.requests())+len(h.us.requests()) != 0 || len(h.store.globals) != 0 {
				t.Error("a refused global erasure filed or stored something")
			}
			if strings.Contains(resp.Body, "a@example.com") || strings.Contains(h.logs.String(), "a@example.com") {
				t.Errorf("subject leaked: %s\n%s", resp.Body, h.logs.String())
			}
		})
	}
}

func TestGlobalErasureRegionDownAndIdempotency(t *testing.T) {
	h := newHarness(t)
	body := `{"subjectId":"` + subject + `","tenantIds":["eu-help","us-help"]}`
	h.us.setMode("down")
	resp := h.apiCall("POST", "/erasures", body, "Idempotency-Key", "dpo-ticket-7")
	if resp.StatusCode != 503 || errorOf(t, resp).Code != CodeRegionUnavailable {
		t.Fatalf("%d %s", resp.StatusCode, resp.Body)
	}
	if len(h.store.globals) != 0 {
		t.Error("a partial global erasure was recorded")
	}
	h.us.setMode("ok")
	resp = h.apiCall("POST", "/erasures", body, "Idempotency-Key", "dpo-ticket-7")
	if resp.StatusCode != 202 {
		t.Fatalf("retry: %d %s", resp.StatusCode, resp.Body)
	}
	first := bodyMap(t, resp)
	again := bodyMap(t, h.apiCall("POST", "/erasures", body, "Idempotency-Key", "dpo-ticket-7"))
	if !cmp.Equal(first, again) {
		t.Errorf("replay answered %v, want %v", again, first)
	}
	// eu saw three filings under one key and made one request of them.
	keys := map[string]bool{}
	for _, r := range h.eu.requests() {
		keys[r.Header.Get("Idempotency-Key")] = true
	}
	if len(keys) != 1 || len(h.eu.ids) != 1 {
		t.Errorf("eu keys %v, requests %v", keys, h.eu.ids)
	}
	// The same key for other tenants, or another subject: refused.
	if resp := h.apiCall("POST", "/erasures", `{"subjectId":"`+subject+`","tenantIds":["eu-help"]}`, "Idempotency-Key", "dpo-ticket-7"); resp.StatusCode != 422 {
		t.Errorf("key reused for other tenants: %d %s", resp.StatusCode, resp.Body)
	}
	if resp := h.apiCall("POST", "/erasures", `{"subjectId":"bob@example.com","tenantIds":["eu-help","us-help"]}`, "Idempotency-Key", "dpo-ticket-7"); resp.StatusCode != 422 {
		t.Errorf("key reused for another subject: %d %s", resp.StatusCode, resp.Body)
	}
}

func TestAggregate(t *testing.T) {
	for _, tc := range []struct {
		states []string
		want   string
	}{
		{[]string{"completed", "completed"}, "completed"},
		{[]string{"completed", "running"}, "running"},
		{[]string{"pending"}, "running"},
		{[]string{"completed", "failed"}, "failed"},
		{[]string{"failed", "unavailable"}, "failed"},
		{[]string{"completed", "unavailable"}, "running"},
		{[]string{"completed", "unknown"}, "running"},
		{nil, "running"},
	} {
		if got := Aggregate(tc.states); got != tc.want {
			t.Errorf("Aggregate(%v) = %s, want %s", tc.states, got, tc.want)
		}
	}
}
