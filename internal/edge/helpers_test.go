package edge

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/eventstest"
	"github.com/lethe-erasure/lethe/internal/httpjson"
	"github.com/lethe-erasure/lethe/internal/webhook"
)

var t0 = time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)

// The demo tenants of the issue, and one whose region is not deployed.
const (
	euShop  = "eu-shop.myshopify.com"
	usShop  = "us-shop.myshopify.com"
	euHelp  = "eu-help"
	usHelp  = "us-help"
	apShop  = "ap-shop.myshopify.com"
	newShop = "new-shop.myshopify.com"
	// setupShop has a secret at the edge but no directory entry yet.
	setupShop = "setup-shop.myshopify.com"
)

// secretOf is each demo tenant's webhook secret at the edge.
func secretOf(provider, tenant string) string { return provider + ":" + tenant + ":s3cr3t" }

// harness is an edge wired to in-memory tables and two regions on
// loopback (eu, us) plus a configured region without an apiUrl (ap).
type harness struct {
	t       testing.TB
	clock   *clock
	store   *memStore
	alerts  *fakeAlerts
	secrets StaticSecrets
	eu, us  *regionServer
	view    config.EdgeView
	fan     *Fanout
	api     *API
	logs    *eventstest.Logs
	seq     atomic.Int64
}

// fastRetry keeps the tests quick: three attempts, no real back-off.
var fastRetry = RetryPolicy{Attempts: 3, Timeout: 2 * time.Second, Backoff: []time.Duration{time.Millisecond}}

func newHarness(t testing.TB) *harness {
	t.Helper()
	h := &harness{t: t, clock: &clock{t: t0}, alerts: &fakeAlerts{}, logs: &eventstest.Logs{}}
	h.store = newMemStore(h.clock.Now)
	h.eu, h.us = newRegionServer(t, "eu"), newRegionServer(t, "us")
	h.view = config.EdgeView{
		Edge: config.Edge{AWSRegion: "eu-central-1", QuarantineHours: 72, SignatureToleranceSeconds: 300,
			MulticastTopics: []string{"shopify/app/uninstalled"}},
		Regions: []config.RegionEndpoint{
			{Name: "eu", AWSRegion: "eu-west-1", APIURL: h.eu.srv.URL},
			{Name: "us", AWSRegion: "us-east-1", APIURL: h.us.srv.URL + "/"},
			{Name: "ap", AWSRegion: "ap-southeast-2"},
		},
	}
	for key, region := range map[string]string{euShop: "eu", usShop: "us", euHelp: "eu", usHelp: "us", apShop: "ap"} {
		h.store.tenants[key] = Tenant{Key: key, Region: region, RegisteredAt: t0, UpdatedAt: t0}
	}
	h.secrets = StaticSecrets{}
	for _, k := range []string{"shopify/" + euShop, "shopify/" + usShop, "shopify/" + apShop, "zendesk/" + euHelp, "zendesk/" + usHelp, "generic/" + euHelp} {
		p, tenant, _ := strings.Cut(k, "/")
		h.secrets[k] = secretOf(p, tenant)
	}
	log := slog.New(slog.NewJSONHandler(h.logs, nil))
	fwd := NewForwarder(NewHTTPClient(), fastRetry)
	h.fan = NewFanout(h.view, FanoutDeps{Directory: h.store, Deliveries: h.store, Quarantine: h.store, Secrets: h.secrets,
		Alerts: h.alerts, Forwarder: fwd}, WithClock(h.clock.Now), WithLogger(log), WithReceivedIn("eu-central-1"))
	regional := NewRegionalClient(NewHTTPClient(), credentials.NewStaticCredentialsProvider("AKIDEDGETEST", "edge-secret", ""), fastRetry)
	h.api = NewAPI(h.view, APIDeps{Directory: h.store, Deliveries: h.store, Quarantine: h.store, Globals: h.store,
		Regions: regional, Forwarder: regional.Releaser()}, WithClock(h.clock.Now), WithLogger(log))
	return h
}

// httpEvent builds an HTTP API (payload 2.0) event as API Gateway sends it:
// lower-case header names, repeated headers joined by commas, a binary
// body base64-encoded.
func (h *harness) httpEvent(method, rawPath, rawQuery string, header http.Header, body []byte) events.APIGatewayV2HTTPRequest {
	headers := map[string]string{"host": "edge.example.com", "user-agent": "test"}
	for k, vs := range header {
		headers[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version:        "2.0",
		RouteKey:       "$default",
		RawPath:        rawPath,
		RawQueryString: rawQuery,
		Headers:        headers,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RequestID: fmt.Sprintf("req-%d", h.seq.Add(1)),
			Stage:     "$default",
			HTTP:      events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: rawPath},
		},
	}
	if body != nil {
		ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	return ev
}

// signed builds a provider's delivery for tenant, signed with secret at
// the clock's time.
func (h *harness) signed(provider, tenant, id, topic string, body []byte, secret string) events.APIGatewayV2HTTPRequest {
	p, err := webhook.Lookup(provider)
	if err != nil {
		h.t.Fatal(err)
	}
	hdr := http.Header{}
	hdr.Set("Content-Type", "application/json")
	query := ""
	switch provider {
	case webhook.Shopify:
		hdr.Set(webhook.HeaderShopifyShop, tenant)
		hdr.Set(webhook.HeaderShopifyTopic, topic)
		if id != "" {
			hdr.Set(webhook.HeaderShopifyWebhookID, id)
		}
	case webhook.Zendesk:
		query = "tenant=" + tenant
		if id != "" {
			hdr.Set(webhook.HeaderZendeskInvocationID, id)
		}
		hdr.Set(webhook.HeaderZendeskWebhookID, "01HWEBHOOK")
	case webhook.Generic:
		hdr.Set(webhook.HeaderLetheTenant, tenant)
		hdr.Set(webhook.HeaderLetheTopic, topic)
		if id != "" {
			hdr.Set(webhook.HeaderLetheDeliveryID, id)
		}
	}
	if secret != "" {
		p.Sign(hdr, body, []byte(secret), h.clock.Now())
	}
	hdr.Set("X-Forwarded-For", "203.0.113.9") // not the provider's: never forwarded
	return h.httpEvent(http.MethodPost, "/webhooks/"+provider, query, hdr, body)
}

// shopify is a Shopify delivery for tenant signed with its edge secret.
func (h *harness) shopify(tenant, id, topic string, body []byte) events.APIGatewayV2HTTPRequest {
	return h.signed(webhook.Shopify, tenant, id, topic, body, secretOf(webhook.Shopify, tenant))
}

func (h *harness) serveFanout(ev events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	h.t.Helper()
	resp, err := h.fan.Handle(context.Background(), ev)
	if err != nil {
		h.t.Fatalf("Handle returned an error: %v", err)
	}
	return resp
}

func (h *harness) serveAPI(ev events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	h.t.Helper()
	resp, err := h.api.Handle(context.Background(), ev)
	if err != nil {
		h.t.Fatalf("Handle returned an error: %v", err)
	}
	return resp
}

// errorOf decodes an error answer and fails the test if it is not the
// house shape.
func errorOf(t testing.TB, resp events.APIGatewayV2HTTPResponse) httpjson.Detail {
	t.Helper()
	var b struct {
		Error *httpjson.Detail `json:"error"`
	}
	dec := json.NewDecoder(strings.NewReader(resp.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil || b.Error == nil || b.Error.Code == "" || b.Error.Message == "" {
		t.Fatalf("not an error body {\"error\":{code,message,field}}: %s (%v)", resp.Body, err)
	}
	return *b.Error
}

func bodyMap(t testing.TB, resp events.APIGatewayV2HTTPResponse) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(resp.Body), &m); err != nil {
		t.Fatalf("answer is not a JSON object: %q", resp.Body)
	}
	return m
}

const redactBody = `{"shop_id":954889,"shop_domain":"eu-shop.myshopify.com","customer":{"id":191167,"email":"john@example.com","phone":"555-625-1199"},"orders_to_redact":[299938,280263]}`
