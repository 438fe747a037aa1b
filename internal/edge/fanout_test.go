package edge

import (
	"bytes"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/lethe-erasure/lethe/internal/webhook"
)

// TestRoutingReachesTheHomeRegionOnly is the routing test: every
// request each region receives is recorded.
func TestRoutingReachesTheHomeRegionOnly(t *testing.T) {
	tests := []struct {
		name       string
		provider   string
		tenant     string
		topic      string
		body       string
		wantStatus int
		wantEU     int
		wantUS     int
		wantHeld   int
		wantAlerts []string
		wantTo     []string
	}{
		{name: "eu shopify redact", provider: "shopify", tenant: euShop, topic: "customers/redact", body: redactBody,
			wantStatus: 200, wantEU: 1, wantTo: []string{"eu"}},
		{name: "us shopify redact", provider: "shopify", tenant: usShop, topic: "customers/redact", body: strings.ReplaceAll(redactBody, "eu-shop", "us-shop"),
			wantStatus: 200, wantUS: 1, wantTo: []string{"us"}},
		{name: "eu zendesk user deleted", provider: "zendesk", tenant: euHelp, body: `{"type":"zen:event-type:user.deleted","detail":{"id":"8001"},"subject":"zen:user:8001"}`,
			wantStatus: 200, wantEU: 1, wantTo: []string{"eu"}},
		{name: "us zendesk trigger", provider: "zendesk", tenant: usHelp, body: `{"ticket":"42"}`,
			wantStatus: 200, wantUS: 1, wantTo: []string{"us"}},
		{name: "eu generic", provider: "generic", tenant: euHelp, topic: "erasure.requested", body: `{"subjectId":"cust-1"}`,
			wantStatus: 200, wantEU: 1, wantTo: []string{"eu"}},
		// Without a secret at the edge nothing of an unknown tenant is kept:
		// anyone could fill the quarantine with unverifiable deliveries.
		{name: "unverifiable delivery of an unknown tenant refused", provider: "shopify", tenant: newShop, topic: "customers/redact", body: redactBody,
			wantStatus: 401, wantAlerts: []string{AlertUnverified}},
		{name: "unverifiable multicast topic of an unknown tenant refused", provider: "shopify", tenant: newShop, topic: "app/uninstalled", body: `{"id":1}`,
			wantStatus: 401, wantAlerts: []string{AlertUnverified}},
		{name: "multicast topic of a known tenant goes to its home region only", provider: "shopify", tenant: euShop, topic: "app/uninstalled", body: `{"id":1}`,
			wantStatus: 200, wantEU: 1, wantTo: []string{"eu"}},
		{name: "verified multicast topic of a tenant not in the directory goes to every deployed region", provider: "shopify", tenant: setupShop, topic: "app/uninstalled", body: `{"id":1}`,
			wantStatus: 200, wantEU: 1, wantUS: 1, wantTo: []string{"eu", "us"}},
		{name: "verified non-multicast topic of a tenant not in the directory quarantined", provider: "shopify", tenant: setupShop, topic: "customers/redact", body: strings.ReplaceAll(redactBody, "eu-shop", "setup-shop"),
			wantStatus: 202, wantHeld: 1, wantAlerts: []string{AlertQuarantined}, wantTo: []string{ForwardedToQuarantine}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			if tc.tenant == setupShop { // its secret is at the edge, its directory entry not yet
				h.secrets[tc.provider+"/"+tc.tenant] = secretOf(tc.provider, tc.tenant)
			}
			secret := secretOf(tc.provider, tc.tenant)
			if _, ok := h.secrets[tc.provider+"/"+tc.tenant]; !ok {
				secret = "the-tenant-s-own-secret" // the edge has none: unverifiable
			}
			ev := h.signed(tc.provider, tc.tenant, "d-1", tc.topic, []byte(tc.body), secret)
			resp := h.serveFanout(ev)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d, want %d: %s", resp.StatusCode, tc.wantStatus, resp.Body)
			}
			if got := len(h.eu.requests()); got != tc.wantEU {
				t.Errorf("eu received %d requests, want %d", got, tc.wantEU)
			}
			if got := len(h.us.requests()); got != tc.wantUS {
				t.Errorf("us received %d requests, want %d", got, tc.wantUS)
			}
			if got := h.store.heldCount(); got != tc.wantHeld {
				t.Errorf("quarantine holds %d, want %d", got, tc.wantHeld)
			}
			if diff := cmp.Diff(tc.wantAlerts, h.alerts.kinds()); diff != "" {
				t.Errorf("alerts (-want +got):\n%s", diff)
			}
			// What a region receives is byte for byte what the provider
			// sent, with the provider's headers and query unchanged and
			// nothing else of the request.
			for _, r := range append(h.eu.requests(), h.us.requests()...) {
				if r.Path != "/webhooks/"+tc.provider {
					t.Errorf("forwarded to %s", r.Path)
				}
				if string(r.Body) != tc.body {
					t.Errorf("forwarded body %q, want the raw body", r.Body)
				}
				p, _ := webhook.Lookup(tc.provider)
				for _, name := range p.ForwardHeaders() {
					if want := headerOf(ev).Get(name); r.Header.Get(name) != want {
						t.Errorf("header %s = %q, want %q unchanged", name, r.Header.Get(name), want)
					}
				}
				if r.Header.Get("X-Forwarded-For") == "203.0.113.9" {
					t.Error("a header the provider's scheme does not read was forwarded")
				}
				if r.Query != ev.RawQueryString {
					t.Errorf("query = %q, want %q", r.Query, ev.RawQueryString)
				}
				d, err := p.Inspect(r.Header, nil, r.Body)
				if tc.provider != webhook.Zendesk && (err != nil || d.Tenant != tc.tenant) {
					t.Errorf("the region cannot read the delivery again: %+v, %v", d, err)
				}
				if err := p.Verify(r.Header, r.Body, []byte(secret), h.clock.Now(), time.Minute); err != nil {
					t.Errorf("the region cannot verify the delivery again: %v", err)
				}
			}
			key := DeliveryKey(tc.provider, tc.tenant, "d-1")
			r, ok := h.store.receipt(key)
			if tc.wantStatus == http.StatusUnauthorized {
				if ok {
					t.Errorf("an unverifiable delivery left a receipt: %+v", r)
				}
				return
			}
			if !ok {
				t.Fatal("no residency receipt")
			}
			if !cmp.Equal(r.ForwardedTo, tc.wantTo) || r.ReceivedIn != "eu-central-1" || r.TenantHash != Hash(tc.tenant) || r.DeliveryID != "d-1" {
				t.Errorf("receipt = %+v, want forwarded to %v, received in eu-central-1", r, tc.wantTo)
			}
			if strings.Contains(h.logs.String(), "john@example.com") || strings.Contains(h.logs.String(), tc.tenant) {
				t.Errorf("log holds the body or the tenant key in clear:\n%s", h.logs.String())
			}
			for _, a := range h.alerts.alerts {
				if a.TenantHash != Hash(tc.tenant) || a.DeliveryID != "d-1" || a.Provider != tc.provider {
					t.Errorf("alert = %+v", a)
				}
			}
		})
	}
}

func TestQuarantinedDeliveryKeepsWhatTheRegionNeeds(t *testing.T) {
	h := newHarness(t)
	h.secrets["zendesk/new-help"] = "their-secret" // at the edge before the tenant is registered
	ev := h.signed("zendesk", "new-help", "inv-7", "", []byte(`{"type":"zen:event-type:user.deleted","detail":{"id":"9"}}`), "their-secret")
	if resp := h.serveFanout(ev); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
	}
	held, err := h.store.Held(t.Context(), QuarantineID(DeliveryKey("zendesk", "new-help", "inv-7")))
	if err != nil {
		t.Fatal(err)
	}
	if !held.Verified || held.Tenant != "new-help" || held.RawQuery != "tenant=new-help" || held.Topic != "user.deleted" ||
		held.Header.Get(webhook.HeaderZendeskSignature) == "" || held.Header.Get("X-Forwarded-For") != "" ||
		!held.ExpiresAt.Equal(t0.Add(72*time.Hour)) {
		t.Errorf("held = %+v", held)
	}
	a := h.alerts.alerts[0]
	if a.QuarantineID != held.ID || a.Verified == nil || !*a.Verified {
		t.Errorf("alert = %+v", a)
	}
}

func TestDuplicateIsForwardedOnce(t *testing.T) {
	h := newHarness(t)
	for i, want := range []string{"forwarded", "duplicate", "duplicate"} {
		resp := h.serveFanout(h.shopify(euShop, "dup-1", "customers/redact", []byte(redactBody)))
		if resp.StatusCode != http.StatusOK || bodyMap(t, resp)["status"] != want {
			t.Fatalf("delivery %d: %d %s, want 200 %s", i, resp.StatusCode, resp.Body, want)
		}
	}
	if n := len(h.eu.requests()); n != 1 {
		t.Fatalf("eu received %d requests, want 1", n)
	}
	// A duplicate of a quarantined delivery: 202, held once.
	h.secrets["shopify/"+newShop] = "x"
	for range 2 {
		if resp := h.serveFanout(h.signed("shopify", newShop, "dup-2", "customers/redact", []byte(redactBody), "x")); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("quarantined duplicate: %d %s", resp.StatusCode, resp.Body)
		}
	}
	if h.store.heldEvents != 1 || len(h.alerts.alerts) != 1 {
		t.Errorf("held %d times with %d alerts, want once", h.store.heldEvents, len(h.alerts.alerts))
	}
}

func TestDuplicateWhileInFlightIs409(t *testing.T) {
	h := newHarness(t)
	h.eu.block, h.eu.entered = make(chan struct{}), make(chan struct{}, 1)
	h.eu.setMode("block")
	var wg sync.WaitGroup
	var first int
	wg.Go(func() {
		first = h.serveFanout(h.shopify(euShop, "slow-1", "customers/redact", []byte(redactBody))).StatusCode
	})
	<-h.eu.entered
	resp := h.serveFanout(h.shopify(euShop, "slow-1", "customers/redact", []byte(redactBody)))
	if resp.StatusCode != http.StatusConflict || errorOf(t, resp).Code != CodeDeliveryInFlight || resp.Headers["Retry-After"] == "" {
		t.Errorf("duplicate in flight: %d %v %s", resp.StatusCode, resp.Headers, resp.Body)
	}
	h.eu.setMode("ok")
	close(h.eu.block)
	wg.Wait()
	if first != http.StatusOK {
		t.Errorf("first delivery: %d", first)
	}
	if n := h.eu.acceptedCount(); n != 1 {
		t.Errorf("eu accepted %d, want 1", n)
	}
}

// TestHomeRegionDownThenBack: the edge keeps nothing, answers 503 and the
// provider's retry after the region is back is delivered exactly once.
func TestHomeRegionDownThenBack(t *testing.T) {
	for _, mode := range []string{"down", "reset"} {
		t.Run(mode, func(t *testing.T) {
			h := newHarness(t)
			h.eu.setMode(mode)
			ev := h.shopify(euShop, "outage-1", "customers/redact", []byte(redactBody))
			resp := h.serveFanout(ev)
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Headers["Retry-After"] == "" || errorOf(t, resp).Code != CodeRegionUnavailable {
				t.Fatalf("while down: %d %v %s", resp.StatusCode, resp.Headers, resp.Body)
			}
			if n := len(h.eu.requests()); n != fastRetry.Attempts {
				t.Errorf("eu saw %d attempts, want %d", n, fastRetry.Attempts)
			}
			if len(h.us.requests()) != 0 || h.store.heldCount() != 0 {
				t.Error("a down home region sent the delivery elsewhere")
			}
			r, _ := h.store.receipt(DeliveryKey("shopify", euShop, "outage-1"))
			if r.State != StateReleased || r.Outcome != OutcomeRegionUnavailable || len(r.ForwardedTo) != 0 {
				t.Errorf("receipt while down = %+v", r)
			}
			if diff := cmp.Diff([]string{AlertUndeliverable}, h.alerts.kinds()); diff != "" {
				t.Errorf("alerts (-want +got):\n%s", diff)
			}

			// The provider retries (Shopify: same id, same body) after the
			// region is back.
			h.eu.setMode("ok")
			h.clock.Advance(10 * time.Minute)
			for range 2 {
				if resp := h.serveFanout(h.shopify(euShop, "outage-1", "customers/redact", []byte(redactBody))); resp.StatusCode != http.StatusOK {
					t.Fatalf("after recovery: %d %s", resp.StatusCode, resp.Body)
				}
			}
			if n := h.eu.acceptedCount(); n != 1 {
				t.Errorf("eu accepted %d deliveries, want exactly 1", n)
			}
			r, _ = h.store.receipt(DeliveryKey("shopify", euShop, "outage-1"))
			if r.State != StateForwarded || r.Attempts != 2 || !r.ReceivedAt.Equal(t0) {
				t.Errorf("receipt after recovery = %+v", r)
			}
		})
	}
}

func TestRegionRefusals(t *testing.T) {
	tests := []struct {
		mode      string
		status    int
		code      string
		alert     string
		outcome   string
		wantTries int
	}{
		{"conflict", http.StatusBadGateway, CodeMisrouted, AlertMisrouted, OutcomeMisrouted, 1},
		{"reject", http.StatusBadGateway, CodeRegionRejected, AlertRegionRejected, OutcomeRegionRejected, 1},
	}
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			h := newHarness(t)
			h.eu.setMode(tc.mode)
			resp := h.serveFanout(h.shopify(euShop, "r-1", "customers/redact", []byte(redactBody)))
			if resp.StatusCode != tc.status || errorOf(t, resp).Code != tc.code {
				t.Fatalf("%d %s", resp.StatusCode, resp.Body)
			}
			if n := len(h.eu.requests()); n != tc.wantTries {
				t.Errorf("%d attempts, want %d (a refusal is not retried)", n, tc.wantTries)
			}
			if diff := cmp.Diff([]string{tc.alert}, h.alerts.kinds()); diff != "" {
				t.Errorf("alerts (-want +got):\n%s", diff)
			}
			r, _ := h.store.receipt(DeliveryKey("shopify", euShop, "r-1"))
			if r.State != StateReleased || r.Outcome != tc.outcome {
				t.Errorf("receipt = %+v", r)
			}
			// Fixed (directory, secret): the provider's retry goes through.
			h.eu.setMode("ok")
			if resp := h.serveFanout(h.shopify(euShop, "r-1", "customers/redact", []byte(redactBody))); resp.StatusCode != http.StatusOK {
				t.Errorf("retry after the fix: %d %s", resp.StatusCode, resp.Body)
			}
		})
	}
}

// TestRegionRefusesTheDeliveryItself: a signed delivery its home region
// refuses as unprocessable (400) is answered with the region's 4xx and
// code, alerted once, and a retry of the provider is answered from the
// receipt: not forwarded, not alerted again.
func TestRegionRefusesTheDeliveryItself(t *testing.T) {
	h := newHarness(t)
	h.eu.setMode("unprocessable")
	for i := range 3 {
		resp := h.serveFanout(h.shopify(euShop, "u-1", "customers/redact", []byte(redactBody)))
		want := []int{http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusUnprocessableEntity}[i]
		wantCode := []string{"invalid_webhook", CodeRegionRejected, CodeRegionRejected}[i]
		if resp.StatusCode != want || errorOf(t, resp).Code != wantCode {
			t.Fatalf("delivery %d: %d %s, want %d %s", i+1, resp.StatusCode, resp.Body, want, wantCode)
		}
	}
	if n := len(h.eu.requests()); n != 1 {
		t.Errorf("eu got %d deliveries, want 1", n)
	}
	if diff := cmp.Diff([]string{AlertRegionRejected}, h.alerts.kinds()); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
	if r, _ := h.store.receipt(DeliveryKey("shopify", euShop, "u-1")); r.State != StateRejected || r.Outcome != OutcomeRegionRejected {
		t.Errorf("receipt = %+v", r)
	}
}

// TestBadDeliveriesChangeNothing: every refusal is a 4xx JSON error, and
// nothing is claimed, held, forwarded or alerted.
func TestBadDeliveriesChangeNothing(t *testing.T) {
	h := newHarness(t)
	cases := []struct {
		name   string
		ev     func() eventBuilder
		status int
		code   string
		field  string
	}{
		{"tampered body", func() eventBuilder {
			e := h.shopify(euShop, "b-1", "customers/redact", []byte(redactBody))
			return eventBuilder{e, func(b []byte) []byte { return bytes.Replace(b, []byte("191167"), []byte("191168"), 1) }}
		}, 401, CodeInvalidSignature, webhook.HeaderShopifyHmac},
		{"wrong secret", func() eventBuilder {
			return eventBuilder{h.signed("shopify", euShop, "b-2", "customers/redact", []byte(redactBody), "wrong"), nil}
		}, 401, CodeInvalidSignature, webhook.HeaderShopifyHmac},
		{"missing signature", func() eventBuilder {
			return eventBuilder{h.signed("shopify", euShop, "b-3", "customers/redact", []byte(redactBody), ""), nil}
		}, 401, CodeInvalidSignature, webhook.HeaderShopifyHmac},
		{"stale zendesk timestamp", func() eventBuilder {
			h.clock.Advance(-10 * time.Minute)
			e := h.signed("zendesk", euHelp, "b-4", "", []byte(`{"ticket":1}`), secretOf("zendesk", euHelp))
			h.clock.Advance(10 * time.Minute)
			return eventBuilder{e, nil}
		}, 401, CodeInvalidSignature, webhook.HeaderZendeskTimestamp},
		{"unknown tenant with an edge secret and a bad signature", func() eventBuilder {
			h.secrets["shopify/"+newShop] = "known-secret"
			return eventBuilder{h.signed("shopify", newShop, "b-5", "customers/redact", []byte(redactBody), "wrong"), nil}
		}, 401, CodeInvalidSignature, webhook.HeaderShopifyHmac},
		{"no shop header", func() eventBuilder {
			e := h.shopify(euShop, "b-6", "customers/redact", []byte(redactBody))
			delete(e.Headers, "x-shopify-shop-domain")
			return eventBuilder{e, nil}
		}, 400, CodeInvalidWebhook, webhook.HeaderShopifyShop},
		{"upper-case tenant", func() eventBuilder {
			return eventBuilder{h.signed("shopify", "EU-shop.myshopify.com", "b-7", "customers/redact", []byte(redactBody), "x"), nil}
		}, 400, CodeInvalidWebhook, webhook.HeaderShopifyShop},
		{"zendesk without tenant", func() eventBuilder {
			e := h.signed("zendesk", euHelp, "b-8", "", []byte(`{}`), secretOf("zendesk", euHelp))
			e.RawQueryString = ""
			return eventBuilder{e, nil}
		}, 400, CodeInvalidWebhook, "tenant"},
		{"unknown provider", func() eventBuilder {
			e := h.shopify(euShop, "b-9", "customers/redact", []byte(redactBody))
			e.RawPath = "/webhooks/stripe"
			return eventBuilder{e, nil}
		}, 404, CodeUnknownProvider, "provider"},
		{"too large", func() eventBuilder {
			return eventBuilder{h.shopify(euShop, "b-10", "customers/redact", bytes.Repeat([]byte("a"), webhook.MaxBodyBytes+1)), nil}
		}, 413, CodeBodyTooLarge, ""},
		{"bad base64", func() eventBuilder {
			e := h.shopify(euShop, "b-11", "customers/redact", []byte(redactBody))
			e.Body = "%%%"
			return eventBuilder{e, nil}
		}, 400, CodeInvalidBody, ""},
		{"GET on the webhook route", func() eventBuilder {
			e := h.shopify(euShop, "b-12", "customers/redact", []byte(redactBody))
			e.RequestContext.HTTP.Method = "GET"
			return eventBuilder{e, nil}
		}, 405, CodeMethodNotAllowed, ""},
		{"unknown route", func() eventBuilder {
			e := h.shopify(euShop, "b-13", "customers/redact", []byte(redactBody))
			e.RawPath = "/hooks/shopify"
			return eventBuilder{e, nil}
		}, 404, CodeRouteNotFound, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.ev()
			ev := b.ev
			if b.mutate != nil {
				body, _ := readBody(ev, 1<<20)
				ev = h.httpEvent("POST", ev.RawPath, ev.RawQueryString, headerOf(ev), b.mutate(body))
			}
			claims := h.store.callsOf("Claim")
			resp := h.serveFanout(ev)
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d: %s", resp.StatusCode, tc.status, resp.Body)
			}
			e := errorOf(t, resp)
			if e.Code != tc.code || e.Field != tc.field {
				t.Errorf("error = %s/%q, want %s/%q (%s)", e.Code, e.Field, tc.code, tc.field, e.Message)
			}
			if resp.Headers["Content-Type"] != "application/json; charset=utf-8" {
				t.Errorf("Content-Type = %q", resp.Headers["Content-Type"])
			}
			if h.store.callsOf("Claim") != claims || h.store.heldCount() != 0 || len(h.alerts.alerts) != 0 ||
				len(h.eu.requests())+len(h.us.requests()) != 0 {
				t.Errorf("a refused delivery changed something: claims %d->%d, held %d, alerts %v",
					claims, h.store.callsOf("Claim"), h.store.heldCount(), h.alerts.kinds())
			}
			if strings.Contains(resp.Body, "john@example.com") {
				t.Errorf("answer echoes the body: %s", resp.Body)
			}
		})
	}
	if strings.Contains(h.logs.String(), "s3cr3t") || strings.Contains(h.logs.String(), "john@example.com") {
		t.Errorf("log holds a secret or the body:\n%s", h.logs.String())
	}
}

// eventBuilder is a delivery and, optionally, what to do to its body after
// it was signed.
type eventBuilder struct {
	ev     events.APIGatewayV2HTTPRequest
	mutate func([]byte) []byte
}
