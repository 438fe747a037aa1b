package edge

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/google/go-cmp/cmp"

	"github.com/lethe-erasure/lethe/internal/eventstest"
	"github.com/lethe-erasure/lethe/internal/registry"
)

// eventWant is a sample event's expected outcome: events/<fn>/<case>.json
// is an HTTP API (payload 2.0) event, <case>.want.json what the handler
// must do. Headers may name the regions' base URLs as {eu} and {us}.
type eventWant struct {
	Status int `json:"status"`
	Error  *struct {
		Code  string `json:"code"`
		Field string `json:"field"`
	} `json:"error"`
	Headers map[string]string `json:"headers"`
	// Body holds top-level fields the answer must have.
	Body map[string]any `json:"body"`
	// Reached is how many requests each region must have received.
	Reached map[string]int `json:"reached"`
	// Held is how many deliveries the quarantine must hold after.
	Held *int `json:"held"`
	// Alerts are the kinds of ops alerts published.
	Alerts []string `json:"alerts"`
	// Regions sets regions' modes before the event (down, conflict, ...).
	Regions map[string]string `json:"regions"`
	// StoreFails makes every table call fail.
	StoreFails bool `json:"storeFails"`
}

// seedEventHarness adds what the edge-api samples refer to: a held
// delivery of an unregistered tenant (q_aaa...), one of a registered tenant
// (q_bbb...) and a global erasure with a request in each region.
func seedEventHarness(h *harness) {
	exp := t0.Add(72 * time.Hour)
	h.store.held["q_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"] = Held{ID: "q_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", DeliveryKey: "aaaa", Provider: "shopify",
		Tenant: "nobody.myshopify.com", TenantHash: Hash("nobody.myshopify.com"), DeliveryID: "x1", Topic: "customers/redact",
		Body: []byte(redactBody), Header: http.Header{"X-Shopify-Hmac-Sha256": {"c2ln"}}, ReceivedAt: t0, ExpiresAt: exp}
	h.store.tenants["late-shop.myshopify.com"] = Tenant{Key: "late-shop.myshopify.com", Region: "eu", RegisteredAt: t0, UpdatedAt: t0}
	h.store.held["q_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"] = Held{ID: "q_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", DeliveryKey: "bbbb", Provider: "shopify",
		Tenant: "late-shop.myshopify.com", TenantHash: Hash("late-shop.myshopify.com"), DeliveryID: "x2", Topic: "customers/redact",
		Body: []byte(redactBody), Header: http.Header{"X-Shopify-Hmac-Sha256": {"c2ln"}, "X-Shopify-Shop-Domain": {"late-shop.myshopify.com"}},
		ReceivedAt: t0, ExpiresAt: exp}
	euID, usID := "er_eu_0196a0a0-0000-7000-8000-00000000000a", "er_us_0196a0a0-0000-7000-8000-00000000000b"
	h.store.globals["eg_0196a0a0-0000-7000-8000-000000000001"] = Global{ID: "eg_0196a0a0-0000-7000-8000-000000000001", CreatedAt: t0,
		Regions: []GlobalRegion{{Region: "eu", RequestID: euID}, {Region: "us", RequestID: usID}}}
	// A forwarded delivery's receipt, and an hour alert's throttle receipt,
	// which GET /receipts leaves out.
	seeded := DeliveryKey("shopify", euShop, "b8c1e2a4-0c4e-4c4b-9d1e-6f0c5a3e2d11")
	h.store.receipts[seeded] = Receipt{Key: seeded, Provider: "shopify", DeliveryID: "b8c1e2a4-0c4e-4c4b-9d1e-6f0c5a3e2d11", TenantHash: Hash(euShop),
		ReceivedIn: "eu-central-1", ForwardedTo: []string{"eu"}, State: StateForwarded, Outcome: OutcomeForwarded, ReceivedAt: t0,
		UpdatedAt: t0.Add(time.Second), Attempts: 1, ExpiresAt: t0.Add(DefaultReceiptTTL)}
	alert := DeliveryKey("shopify", euShop, "alert:"+AlertSecretMissing+":"+t0.Format(time.RFC3339))
	h.store.receipts[alert] = Receipt{Key: alert, Provider: "shopify", DeliveryID: "alert:" + AlertSecretMissing, TenantHash: Hash(euShop),
		ReceivedIn: "eu-central-1", State: StateForwarded, Outcome: OutcomeAlerted, ReceivedAt: t0.Add(time.Minute), UpdatedAt: t0.Add(time.Minute),
		Attempts: 1, ExpiresAt: t0.Add(2 * time.Hour)}
	h.eu.ids["seed"], h.eu.status[euID] = euID, "completed"
	h.us.ids["seed"], h.us.status[usID] = usID, "running"
}

func TestEvents(t *testing.T) {
	for fn, handle := range map[string]func(h *harness) any{
		registry.FnWebhookFanout: func(h *harness) any { return h.fan.Handle },
		registry.FnEdgeAPI:       func(h *harness) any { return h.api.Handle },
	} {
		t.Run(fn, func(t *testing.T) {
			eventstest.Run(t, fn, 20, func(t *testing.T, c eventstest.Case) {
				var w eventWant
				c.DecodeWant(t, &w)
				var ev events.APIGatewayV2HTTPRequest
				if err := json.Unmarshal(c.Payload, &ev); err != nil {
					t.Fatalf("not an HTTP API event: %v", err)
				}
				if ev.Version != "2.0" || ev.RequestContext.RequestID == "" || ev.RequestContext.HTTP.Method == "" || ev.RawPath == "" {
					t.Fatal("event lacks version 2.0, requestContext.requestId, http.method or rawPath: not real-shaped")
				}
				h := newHarness(t)
				seedEventHarness(h)
				for name, mode := range w.Regions {
					map[string]*regionServer{"eu": h.eu, "us": h.us}[name].setMode(mode)
				}
				if w.StoreFails {
					h.store.fail = errThrottled
				}
				held := h.store.heldCount()
				out, err := lambda.NewHandler(handle(h)).Invoke(context.Background(), c.Payload)
				if err != nil {
					t.Fatalf("Invoke: %v", err)
				}
				var resp events.APIGatewayV2HTTPResponse
				if err := json.Unmarshal(out, &resp); err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != w.Status {
					t.Fatalf("status = %d, want %d: %s", resp.StatusCode, w.Status, resp.Body)
				}
				urls := strings.NewReplacer("{eu}", h.eu.srv.URL, "{us}", h.us.srv.URL)
				for k, v := range w.Headers {
					if got := resp.Headers[k]; got != urls.Replace(v) {
						t.Errorf("header %s = %q, want %q", k, got, urls.Replace(v))
					}
				}
				if w.Error != nil {
					if e := errorOf(t, resp); e.Code != w.Error.Code || e.Field != w.Error.Field {
						t.Errorf("error = %s/%q, want %s/%q (%s)", e.Code, e.Field, w.Error.Code, w.Error.Field, e.Message)
					}
				} else if resp.StatusCode < 300 {
					m := bodyMap(t, resp)
					for k, v := range w.Body {
						if !cmp.Equal(m[k], v) {
							t.Errorf("answer %s = %v, want %v", k, m[k], v)
						}
					}
				}
				for name, n := range w.Reached {
					r := map[string]*regionServer{"eu": h.eu, "us": h.us}[name]
					if got := len(r.requests()); got != n {
						t.Errorf("region %s received %d requests, want %d", name, got, n)
					}
				}
				if w.Held != nil && h.store.heldCount()-held != *w.Held {
					t.Errorf("quarantine grew by %d, want %d", h.store.heldCount()-held, *w.Held)
				}
				if diff := cmp.Diff(w.Alerts, h.alerts.kinds()); diff != "" {
					t.Errorf("alerts (-want +got):\n%s", diff)
				}
				// A refusal claims nothing and alerts no one, but for the hourly
				// alert of unverifiable deliveries, which the want file lists.
				if w.Status >= 400 && fn == registry.FnWebhookFanout && w.Status != 503 && w.Status != 502 && len(w.Alerts) == 0 &&
					(h.store.callsOf("Claim") != 0 || len(h.alerts.alerts) != 0) {
					t.Error("a refused delivery was claimed or alerted")
				}
				for _, secret := range []string{"alice@example.com", "john@example.com", "jane@example.com"} {
					if strings.Contains(resp.Body, secret) || strings.Contains(h.logs.String(), secret) {
						t.Errorf("%s leaked into the answer or the log", secret)
					}
				}
				if !strings.Contains(h.logs.String(), ev.RequestContext.RequestID) {
					t.Error("log line lacks the awsRequestId")
				}
			})
		})
	}
}
