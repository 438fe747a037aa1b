package edgeembedded_test

// The real edge handlers over the embedded store: what `lethe local` runs.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/edge"
	"github.com/lethe-erasure/lethe/internal/store/edgeembedded"
	"github.com/lethe-erasure/lethe/internal/store/edgestoretest"
	"github.com/lethe-erasure/lethe/internal/webhook"
)

const (
	euShop  = "eu-shop.myshopify.com"
	newShop = "new-shop.myshopify.com"
	secret  = "eu-shop-s3cr3t"
	redact  = `{"shop_id":954889,"shop_domain":"eu-shop.myshopify.com","customer":{"id":191167,"email":"john@example.com"},"orders_to_redact":[299938]}`
)

// regions stands in for the regional receivers: it records every request
// the forwarder sends and answers 202, or 503 while a region is down.
type regions struct {
	mu    sync.Mutex
	got   []forwarded
	down  map[string]bool
	hosts map[string]string // host -> region
}

type forwarded struct {
	region, path string
	body         []byte
	header       http.Header
}

func (r *regions) Do(req *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	name := r.hosts[req.URL.Host]
	status := http.StatusAccepted
	if r.down[name] {
		status = http.StatusServiceUnavailable
	} else {
		r.got = append(r.got, forwarded{region: name, path: req.URL.Path, body: body, header: req.Header.Clone()})
	}
	return &http.Response{StatusCode: status, Body: io.NopCloser(strings.NewReader(`{}`)), Header: http.Header{}, Request: req}, nil
}

func (r *regions) setDown(name string, down bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.down[name] = down
}

func (r *regions) received() []forwarded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]forwarded(nil), r.got...)
}

type alerts struct {
	mu    sync.Mutex
	kinds []string
}

func (a *alerts) Alert(_ context.Context, al edge.Alert) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.kinds = append(a.kinds, al.Kind)
	return nil
}

// local is an edge fan-out over a bbolt file, as the local runtime wires it.
type local struct {
	t       *testing.T
	path    string
	clock   *edgestoretest.Clock
	db      *edgeembedded.DB
	fan     *edge.Fanout
	regions *regions
	alerts  *alerts
}

func newLocal(t *testing.T) *local {
	l := &local{t: t, path: filepath.Join(t.TempDir(), "edge.db"), clock: edgestoretest.NewClock(edgestoretest.T0),
		regions: &regions{down: map[string]bool{}, hosts: map[string]string{"eu.test": "eu", "us.test": "us"}}, alerts: &alerts{}}
	l.open()
	if _, _, _, err := l.db.Directory().PutTenant(context.Background(), euShop, "eu", false, l.clock.Now()); err != nil {
		t.Fatal(err)
	}
	return l
}

// open opens the file and builds the fan-out over it.
func (l *local) open() {
	db, err := edgeembedded.Open(l.path, edgeembedded.Options{Now: l.clock.Now})
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { _ = db.Close() })
	l.db = db
	view := config.EdgeView{
		Edge: config.Edge{AWSRegion: "local", QuarantineHours: 72, SignatureToleranceSeconds: 300},
		Regions: []config.RegionEndpoint{
			{Name: "eu", AWSRegion: "eu-west-1", APIURL: "http://eu.test"},
			{Name: "us", AWSRegion: "us-east-1", APIURL: "http://us.test"},
		},
	}
	fwd := edge.NewForwarder(l.regions, edge.RetryPolicy{Attempts: 2, Timeout: time.Second})
	l.fan = edge.NewFanout(view, edge.FanoutDeps{
		Directory: db.Directory(), Deliveries: db.Deliveries(), Quarantine: db.Quarantine(),
		// newShop's secret is at the edge before it is registered in a
		// region: its deliveries are verified, then held.
		Secrets: edge.StaticSecrets{"shopify/" + euShop: secret, "shopify/" + newShop: "their-own-secret"}, Alerts: l.alerts, Forwarder: fwd,
	}, edge.WithClock(l.clock.Now), edge.WithLogger(slog.New(slog.NewJSONHandler(io.Discard, nil))), edge.WithReceivedIn("local"))
}

// post sends a Shopify delivery, signed with the tenant's secret, as API
// Gateway hands it to the fan-out.
func (l *local) post(tenant, id, sign string) (int, string) {
	l.t.Helper()
	p, _ := webhook.Lookup(webhook.Shopify)
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set(webhook.HeaderShopifyShop, tenant)
	h.Set(webhook.HeaderShopifyTopic, "customers/redact")
	h.Set(webhook.HeaderShopifyWebhookID, id)
	body := []byte(strings.ReplaceAll(redact, euShop, tenant))
	p.Sign(h, body, []byte(sign), l.clock.Now())
	headers := map[string]string{}
	for k, vs := range h {
		headers[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "$default", RawPath: "/webhooks/shopify", Headers: headers,
		Body: base64.StdEncoding.EncodeToString(body), IsBase64Encoded: true,
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "req-" + id,
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: http.MethodPost, Path: "/webhooks/shopify"}},
	}
	resp, err := l.fan.Handle(context.Background(), ev)
	if err != nil {
		l.t.Fatal(err)
	}
	var b struct {
		Status string `json:"status"`
	}
	_ = json.Unmarshal([]byte(resp.Body), &b)
	return resp.StatusCode, b.Status
}

// receipt reads a delivery's receipt as the store holds it.
func (l *local) receipt(tenant, id string) edge.Receipt {
	l.t.Helper()
	r, err := l.db.Deliveries().Receipt(context.Background(), edge.DeliveryKey(webhook.Shopify, tenant, id))
	if err != nil {
		l.t.Fatalf("receipt of %s: %v", id, err)
	}
	return r
}

func TestFanoutForwardsAKnownTenantOnce(t *testing.T) {
	l := newLocal(t)
	for i, want := range []string{"forwarded", "duplicate", "duplicate"} {
		if status, got := l.post(euShop, "d-1", secret); status != http.StatusOK || got != want {
			t.Fatalf("delivery %d: %d %q, want 200 %q", i, status, got, want)
		}
	}
	got := l.regions.received()
	if len(got) != 1 || got[0].region != "eu" || got[0].path != "/webhooks/shopify" || string(got[0].body) != redact {
		t.Fatalf("regions received %+v, want the body once in eu", got)
	}
	if got[0].header.Get(webhook.HeaderShopifyHmac) == "" {
		t.Error("the signature was not forwarded")
	}
	r := l.receipt(euShop, "d-1")
	if r.State != edge.StateForwarded || r.Outcome != edge.OutcomeForwarded || len(r.ForwardedTo) != 1 || r.ForwardedTo[0] != "eu" ||
		r.ReceivedIn != "local" || r.Attempts != 1 || r.TenantHash != edge.Hash(euShop) {
		t.Errorf("receipt = %+v", r)
	}

	// The de-duplication outlives the process: a duplicate after a restart
	// is still not forwarded.
	if err := l.db.Close(); err != nil {
		t.Fatal(err)
	}
	l.open()
	if status, got := l.post(euShop, "d-1", secret); status != http.StatusOK || got != "duplicate" {
		t.Fatalf("duplicate after reopen: %d %q", status, got)
	}
	if n := len(l.regions.received()); n != 1 {
		t.Fatalf("regions received %d after the restart's duplicate, want 1", n)
	}
	if len(l.alerts.kinds) != 0 {
		t.Errorf("alerts: %v", l.alerts.kinds)
	}
}

func TestFanoutQuarantinesAnUnknownTenant(t *testing.T) {
	l := newLocal(t)
	for i, want := range []string{"quarantined", "duplicate"} {
		if status, got := l.post(newShop, "d-9", "their-own-secret"); status != http.StatusAccepted || got != want {
			t.Fatalf("delivery %d: %d %q, want 202 %q", i, status, got, want)
		}
	}
	if got := l.regions.received(); len(got) != 0 {
		t.Fatalf("an unknown tenant's delivery reached %+v", got)
	}
	id := edge.QuarantineID(edge.DeliveryKey(webhook.Shopify, newShop, "d-9"))
	held, err := l.db.Quarantine().Held(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if held.Tenant != newShop || !held.Verified || string(held.Body) != strings.ReplaceAll(redact, euShop, newShop) ||
		held.Header.Get(webhook.HeaderShopifyHmac) == "" || !held.ExpiresAt.Equal(edgestoretest.T0.Add(72*time.Hour)) {
		t.Errorf("held = %+v", held)
	}
	if list, err := l.db.Quarantine().List(context.Background(), 10); err != nil || len(list) != 1 || list[0].ID != id {
		t.Errorf("quarantine list = %+v, %v", list, err)
	}
	if r := l.receipt(newShop, "d-9"); r.State != edge.StateQuarantined || r.ForwardedTo[0] != edge.ForwardedToQuarantine {
		t.Errorf("receipt = %+v", r)
	}
	if fmt.Sprint(l.alerts.kinds) != "[quarantined]" {
		t.Errorf("alerts = %v, want one quarantined", l.alerts.kinds)
	}
	// Past the quarantine's hours the body is gone.
	l.clock.Set(edgestoretest.T0.Add(72 * time.Hour))
	if _, err := l.db.Quarantine().Held(context.Background(), id); !errors.Is(err, edge.ErrNotFound) {
		t.Errorf("Held after 72 h: %v, want ErrNotFound", err)
	}
}

// TestFanoutRegionDownThenBack: the claim is released over the file, so
// the provider's retry after the region is back is forwarded, once.
func TestFanoutRegionDownThenBack(t *testing.T) {
	l := newLocal(t)
	l.regions.setDown("eu", true)
	if status, _ := l.post(euShop, "d-2", secret); status != http.StatusServiceUnavailable {
		t.Fatalf("region down: %d, want 503", status)
	}
	if r := l.receipt(euShop, "d-2"); r.State != edge.StateReleased || r.Outcome != edge.OutcomeRegionUnavailable {
		t.Errorf("receipt while down = %+v", r)
	}
	l.regions.setDown("eu", false)
	l.clock.Set(edgestoretest.T0.Add(time.Minute))
	for i, want := range []string{"forwarded", "duplicate"} {
		if status, got := l.post(euShop, "d-2", secret); status != http.StatusOK || got != want {
			t.Fatalf("retry %d: %d %q, want 200 %q", i, status, got, want)
		}
	}
	if n := len(l.regions.received()); n != 1 {
		t.Errorf("eu received %d, want 1", n)
	}
	if r := l.receipt(euShop, "d-2"); r.Attempts != 2 || r.State != edge.StateForwarded {
		t.Errorf("receipt = %+v, want forwarded on the second attempt", r)
	}
}
