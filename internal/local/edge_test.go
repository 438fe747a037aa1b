package local

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lethe-erasure/lethe/internal/asl"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/edge"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/registry"
	"github.com/lethe-erasure/lethe/internal/webhook"
)

// The tests below drive `lethe local`'s edge over HTTP, end to end: a
// webhook signed as its provider signs it goes to the edge on the status
// port, the real fan-out forwards it over loopback to the home region's
// real receiver, which files the erasure that the region's state machines
// run against the demo subsystems. Every demo subsystem call is recorded
// (residency), and the runtime's log is kept to count the deliveries each
// region's receiver got and to check it names no subject.

// logBuffer is a JSON log the tests read back.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// lines returns the log's records that have every given attribute.
func (l *logBuffer) lines(attrs map[string]string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(l.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue
		}
		match := true
		for k, v := range attrs {
			if fmt.Sprint(m[k]) != v {
				match = false
			}
		}
		if match {
			out = append(out, m)
		}
	}
	return out
}

// edgeRuntime is a runtime on a fresh data directory with a fake clock,
// demo subsystems, the test secrets and every subsystem call recorded.
type edgeRuntime struct {
	*Runtime
	calls *calls
	log   *logBuffer
}

var testSecrets = map[string]string{webhook.Shopify: "shpss_test_secret", webhook.Zendesk: "zendesk-test-secret"}

func startEdge(t *testing.T, cfg *config.Config) edgeRuntime {
	t.Helper()
	lb := &logBuffer{}
	rt, err := Start(context.Background(), Options{
		Config: cfg, DataDir: t.TempDir(), Demo: true, Clock: asl.NewFakeClock(t0), NoSync: true,
		Log: slog.New(slog.NewJSONHandler(lb, nil)), WebhookSecrets: testSecrets,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	rec := &calls{}
	rt.Farm().OnCall(rec.record)
	return edgeRuntime{rt, rec, lb}
}

// withSubjects seeds subjects in every demo subsystem of the regions.
func withSubjects(cfg *config.Config, subjects []string, regions ...string) *config.Config {
	if cfg.Local.Subsystems == nil {
		cfg.Local.Subsystems = map[string]config.DemoSubsystem{}
	}
	for _, region := range regions {
		r, _ := cfg.Region(region)
		for _, s := range r.Subsystems {
			d := cfg.Local.Subsystems[region+"/"+s.Name]
			d.Subjects = append(d.Subjects, subjects...)
			cfg.Local.Subsystems[region+"/"+s.Name] = d
		}
	}
	return cfg
}

// noRedirects is a client that reports redirects instead of following them.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func send(t *testing.T, client *http.Client, method, url string, header http.Header, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// shopifyRedact is a customers/redact of customer id by shop, signed with
// secret as Shopify signs it.
func shopifyRedact(shop, customer, deliveryID, secret string) (http.Header, []byte) {
	body := []byte(`{"shop_id":954889,"shop_domain":"` + shop + `","customer":{"id":` + customer +
		`,"email":"john@example.com","phone":"555-625-1199"},"orders_to_redact":[299938,280263]}`)
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "Shopify-Captain-Hook")
	h.Set(webhook.HeaderShopifyShop, shop)
	h.Set(webhook.HeaderShopifyTopic, webhook.TopicShopifyCustomersRedact)
	h.Set(webhook.HeaderShopifyWebhookID, deliveryID)
	h.Set("X-Shopify-Api-Version", "2025-07")
	p, _ := webhook.Lookup(webhook.Shopify)
	p.Sign(h, body, []byte(secret), time.Now())
	return h, body
}

// zendeskUserDeleted is a user.deleted event of user id, signed with secret
// at the wall clock's now, as Zendesk signs it.
func zendeskUserDeleted(user, invocationID, secret string) (http.Header, []byte) {
	body := []byte(`{"account_id":11223344,"detail":{"id":"` + user + `","email":"jane@example.com","role":"end-user"},` +
		`"event":{},"id":"cbe4028c-7239-495d-b020-f22348516046","subject":"zen:user:` + user + `",` +
		`"time":"2026-05-04T09:59:58Z","type":"zen:event-type:user.deleted","zendesk_event_version":"2022-11-06"}`)
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set(webhook.HeaderZendeskInvocationID, invocationID)
	h.Set(webhook.HeaderZendeskWebhookID, "01F1KRFQ6BG29CNWFR60NK5FNY")
	h.Set(webhook.HeaderZendeskAccountID, "11223344")
	p, _ := webhook.Lookup(webhook.Zendesk)
	p.Sign(h, body, []byte(secret), time.Now())
	return h, body
}

// listed is one request of a region's GET /erasures.
type listed struct {
	RequestID string `json:"requestId"`
	Status    string `json:"status"`
	Source    string `json:"source"`
	TenantID  string `json:"tenantId"`
}

func list(t *testing.T, rt *Runtime, region string) []listed {
	t.Helper()
	resp, body := do(t, "GET", mustRegion(t, rt, region).URL+"/erasures", nil, "")
	if resp.StatusCode != 200 {
		t.Fatalf("GET /erasures in %s = %d %s", region, resp.StatusCode, body)
	}
	var v struct{ Erasures []listed }
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	return v.Erasures
}

// receiverDeliveries counts the deliveries a region's receiver handled.
func (e edgeRuntime) receiverDeliveries(region, deliveryID string) int {
	return len(e.log.lines(map[string]string{
		"function": FunctionName(region, registry.FnWebhookReceiver), "msg": "webhook delivery", "deliveryId": deliveryID,
	}))
}

// regionsCalled lists the regions whose demo subsystems were called.
func (e edgeRuntime) regionsCalled() []string {
	var out []string
	for _, c := range e.calls.list() {
		if !slices.Contains(out, c.Region) {
			out = append(out, c.Region)
		}
	}
	slices.Sort(out)
	return out
}

// TestEdgeShopifyRedactEndsInItsRegionOnly is issue 5's end-to-end test:
// a Shopify customers/redact for the EU shop, posted to the edge, ends as
// a completed erasure in eu, filed with source webhook:shopify, that
// deleted the customer from every eu subsystem; us gets nothing, though
// its subsystems hold a subject of the same id. The duplicate Shopify
// sends is answered 200 and not forwarded again.
func TestEdgeShopifyRedactEndsInItsRegionOnly(t *testing.T) {
	const subject = "shopify:eu-shop.myshopify.com:customer:7001"
	e := startEdge(t, withSubjects(loadConfig(t), []string{subject}, "eu", "us"))

	h, body := shopifyRedact("eu-shop.myshopify.com", "7001", "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043", testSecrets[webhook.Shopify])
	resp, answer := send(t, http.DefaultClient, "POST", e.EdgeURL()+"/webhooks/shopify", h, body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(answer), `"forwarded"`) {
		t.Fatalf("POST /webhooks/shopify = %d %s", resp.StatusCode, answer)
	}
	// Shopify retries a delivery it thinks failed: same id, same body.
	resp, answer = send(t, http.DefaultClient, "POST", e.EdgeURL()+"/webhooks/shopify", h, body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(answer), `"duplicate"`) {
		t.Fatalf("the duplicate = %d %s", resp.StatusCode, answer)
	}

	eu := list(t, e.Runtime, "eu")
	if len(eu) != 1 || eu[0].Source != erasure.WebhookSource(webhook.Shopify) || eu[0].TenantID != "eu-shop.myshopify.com" {
		t.Fatalf("eu lists %+v, want one erasure from webhook:shopify for the shop", eu)
	}
	r := wait(t, e.Runtime, eu[0].RequestID)
	if r.Status != erasure.StatusCompleted {
		t.Fatalf("eu erasure %s: %+v", r.Status, r.Subsystems)
	}
	for name, st := range statusOf(r) {
		if st != erasure.SubsystemDeleted {
			t.Errorf("eu/%s: %s, want deleted", name, st)
		}
		if e.Farm().Holds("eu", name, subject) {
			t.Errorf("eu/%s still holds the customer", name)
		}
		if !e.Farm().Holds("us", name, subject) {
			t.Errorf("us/%s lost a subject it was never asked about", name)
		}
	}
	if got := list(t, e.Runtime, "eu"); len(got) != 1 || got[0].Status != string(erasure.StatusCompleted) || got[0].Source != "webhook:shopify" {
		t.Errorf("eu lists %+v after completion", got)
	}
	if us := list(t, e.Runtime, "us"); len(us) != 0 {
		t.Errorf("us lists %+v, want nothing", us)
	}
	if got := e.regionsCalled(); !slices.Equal(got, []string{"eu"}) {
		t.Errorf("subsystems of %v were called, want eu only", got)
	}
	// The edge's residency receipt, as GET /receipts lists it: once,
	// received locally, forwarded to eu.
	resp, answer = send(t, http.DefaultClient, "GET", e.EdgeURL()+"/receipts", nil, nil)
	var receipts edge.ReceiptPage
	if err := json.Unmarshal(answer, &receipts); err != nil || resp.StatusCode != 200 || len(receipts.Receipts) != 1 {
		t.Fatalf("GET /receipts = %d %s", resp.StatusCode, answer)
	}
	if got := receipts.Receipts[0]; got.DeliveryID != "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043" || !slices.Equal(got.ForwardedTo, []string{"eu"}) ||
		got.ReceivedIn != EdgeReceivedIn || got.TenantHash != edge.Hash("eu-shop.myshopify.com") || got.Outcome != edge.OutcomeForwarded {
		t.Errorf("receipt = %+v", got)
	}
	if n := e.receiverDeliveries("eu", "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"); n != 1 {
		t.Errorf("the eu receiver got the delivery %d times, want once", n)
	}
	if n := e.receiverDeliveries("us", "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"); n != 0 {
		t.Errorf("the us receiver got the delivery %d times", n)
	}
	for _, s := range []string{"customer:7001", "john@example.com", "555-625"} {
		if strings.Contains(e.log.String(), s) {
			t.Errorf("the log names %q", s)
		}
	}
}

// TestEdgeZendeskUserDeletedLandsInUSOnly: a us-help user.deleted
// (timestamped signature, checked on the wall clock by the edge and the
// receiver) is filed in us and nowhere else.
func TestEdgeZendeskUserDeletedLandsInUSOnly(t *testing.T) {
	const subject = "zendesk:us-help:user:8001"
	e := startEdge(t, withSubjects(loadConfig(t), []string{subject}, "eu", "us"))
	h, body := zendeskUserDeleted("8001", "8350205586", testSecrets[webhook.Zendesk])
	resp, answer := send(t, http.DefaultClient, "POST", e.EdgeURL()+"/webhooks/zendesk?tenant=us-help", h, body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /webhooks/zendesk = %d %s", resp.StatusCode, answer)
	}
	us := list(t, e.Runtime, "us")
	if len(us) != 1 || us[0].Source != "webhook:zendesk" || us[0].TenantID != "us-help" {
		t.Fatalf("us lists %+v", us)
	}
	if r := wait(t, e.Runtime, us[0].RequestID); r.Status != erasure.StatusCompleted {
		t.Fatalf("us erasure %s: %+v", r.Status, r.Subsystems)
	}
	if eu := list(t, e.Runtime, "eu"); len(eu) != 0 {
		t.Errorf("eu lists %+v", eu)
	}
	if got := e.regionsCalled(); !slices.Equal(got, []string{"us"}) {
		t.Errorf("subsystems of %v were called, want us only", got)
	}
	for _, s := range []string{"projects", "orders", "customers"} {
		if e.Farm().Holds("us", s, subject) || !e.Farm().Holds("eu", s, subject) {
			t.Errorf("%s: the erasure was not where it belongs", s)
		}
	}

	// A bad signature is refused at the edge and reaches no region.
	h.Set(webhook.HeaderZendeskInvocationID, "8350205587")
	resp, answer = send(t, http.DefaultClient, "POST", e.EdgeURL()+"/webhooks/zendesk?tenant=us-help", h, append(body, ' '))
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(answer), edge.CodeInvalidSignature) {
		t.Errorf("a tampered body = %d %s, want 401", resp.StatusCode, answer)
	}
	if n := e.receiverDeliveries("us", "8350205587"); n != 0 {
		t.Errorf("a tampered delivery reached us %d times", n)
	}
}

// quarantineList is GET /quarantine on the edge.
func quarantineList(t *testing.T, rt *Runtime) []edge.HeldView {
	t.Helper()
	resp, body := do(t, "GET", rt.EdgeURL()+"/quarantine", nil, "")
	if resp.StatusCode != 200 {
		t.Fatalf("GET /quarantine = %d %s", resp.StatusCode, body)
	}
	var v struct{ Held []edge.HeldView }
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	return v.Held
}

// TestEdgeQuarantinesAnUnknownShopUntilReleased: a shop no region has
// registered is held (202), reaches no region, is listed and alerted on
// (hashed); once the shop is registered in eu (the region, then the edge
// directory, as lethe tenants register does) its release files the
// erasure in eu.
func TestEdgeQuarantinesAnUnknownShopUntilReleased(t *testing.T) {
	const shop = "new-shop.myshopify.com"
	e := startEdge(t, loadConfig(t))
	h, body := shopifyRedact(shop, "9001", "d1", testSecrets[webhook.Shopify])
	resp, answer := send(t, http.DefaultClient, "POST", e.EdgeURL()+"/webhooks/shopify", h, body)
	if resp.StatusCode != http.StatusAccepted || !strings.Contains(string(answer), "quarantined") {
		t.Fatalf("an unknown shop's webhook = %d %s, want 202 quarantined", resp.StatusCode, answer)
	}
	held := quarantineList(t, e.Runtime)
	if len(held) != 1 || held[0].TenantHash != edge.Hash(shop) || held[0].DeliveryID != "d1" || !held[0].Verified || held[0].Topic != "customers/redact" {
		t.Fatalf("quarantine lists %+v", held)
	}
	for _, region := range []string{"eu", "us"} {
		if got := list(t, e.Runtime, region); len(got) != 0 {
			t.Errorf("%s lists %+v for a quarantined delivery", region, got)
		}
		if n := e.receiverDeliveries(region, "d1"); n != 0 {
			t.Errorf("the %s receiver got a quarantined delivery", region)
		}
	}
	if got := e.regionsCalled(); len(got) != 0 {
		t.Errorf("subsystems of %v were called", got)
	}
	var alert *OutboxMessage
	for _, m := range e.Outbox().Recent(10) {
		if m.TopicArn == EdgeOpsTopic(e.Config()) {
			alert = &m
		}
		if strings.Contains(m.Message+m.Subject, shop) || strings.Contains(m.Message, "9001") {
			t.Errorf("an outbox message names the shop or the customer: %+v", m)
		}
	}
	if alert == nil || !strings.Contains(alert.Message, edge.AlertQuarantined) || !strings.Contains(alert.Message, held[0].ID) {
		t.Errorf("the edge ops alert: %+v", alert)
	}
	if b, err := os.ReadFile(filepath.Join(e.Outbox().Dir(), "lethe-edge-ops.jsonl")); err != nil || !strings.Contains(string(b), held[0].ID) {
		t.Errorf("the edge ops topic's file: %v %s", err, b)
	}

	release := e.EdgeURL() + "/quarantine/" + held[0].ID + "/release"
	if resp, body := do(t, "POST", release, nil, ""); resp.StatusCode != http.StatusConflict {
		t.Errorf("release before registration = %d %s, want 409", resp.StatusCode, body)
	}
	if resp, body := do(t, "PUT", mustRegion(t, e.Runtime, "eu").URL+"/tenants/"+shop, nil, ""); resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT eu /tenants = %d %s", resp.StatusCode, body)
	}
	if resp, body := do(t, "PUT", e.EdgeURL()+"/tenants/"+shop, http.Header{"Content-Type": {"application/json"}}, `{"region":"eu"}`); resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT edge /tenants = %d %s", resp.StatusCode, body)
	}
	// Released two hours (of Lethe's clock) later, the request still
	// counts from the edge's receipt.
	e.Clock().(*asl.FakeClock).Advance(2 * time.Hour)
	resp, answer = send(t, http.DefaultClient, "POST", release, nil, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(answer), `"released"`) {
		t.Fatalf("release = %d %s", resp.StatusCode, answer)
	}
	eu := list(t, e.Runtime, "eu")
	if len(eu) != 1 || eu[0].Source != "webhook:shopify" || eu[0].TenantID != shop {
		t.Fatalf("eu lists %+v after the release", eu)
	}
	if got := get(t, e.Runtime, eu[0].RequestID); !got.ReceivedAt.Equal(t0) || !got.Deadline.Equal(e.Config().Deadline.After(t0)) {
		t.Errorf("the released request was received %s, due %s; want the edge's receipt %s on Lethe's clock", got.ReceivedAt, got.Deadline, t0)
	}
	if r := wait(t, e.Runtime, eu[0].RequestID); r.Status != erasure.StatusCompleted {
		t.Errorf("the released erasure: %s %+v", r.Status, r.Subsystems)
	}
	if got := list(t, e.Runtime, "us"); len(got) != 0 {
		t.Errorf("us lists %+v", got)
	}
	if held := quarantineList(t, e.Runtime); len(held) != 0 {
		t.Errorf("still held after the release: %+v", held)
	}
	// Shopify's retry of the held delivery stays a duplicate.
	if resp, body := send(t, http.DefaultClient, "POST", e.EdgeURL()+"/webhooks/shopify", h, body); resp.StatusCode/100 != 2 {
		t.Errorf("a retry after the release = %d %s", resp.StatusCode, body)
	}
	if got := list(t, e.Runtime, "eu"); len(got) != 1 {
		t.Errorf("eu lists %d erasures after a retry, want 1", len(got))
	}
}

// TestEdgeRedirect: /t/{tenant}/... answers 302 (GET, HEAD) or 307 to the
// tenant's region's local URL, path and query kept; an unknown tenant is
// a 404 JSON error.
func TestEdgeRedirect(t *testing.T) {
	e := startEdge(t, loadConfig(t))
	eu, us := mustRegion(t, e.Runtime, "eu").URL, mustRegion(t, e.Runtime, "us").URL
	cases := []struct {
		method, path string
		status       int
		location     string
	}{
		{"GET", "/t/eu-shop.myshopify.com/erasures/er_eu_x?view=full", http.StatusFound, eu + "/erasures/er_eu_x?view=full"},
		{"HEAD", "/t/us-help/erasures", http.StatusFound, us + "/erasures"},
		{"POST", "/t/us-shop.myshopify.com/erasures", http.StatusTemporaryRedirect, us + "/erasures"},
		{"GET", "/t/eu-help", http.StatusFound, eu + "/"},
		{"GET", "/t/nobody.myshopify.com/erasures", http.StatusNotFound, ""},
	}
	for _, c := range cases {
		resp, body := send(t, noRedirects, c.method, e.EdgeURL()+c.path, nil, nil)
		if resp.StatusCode != c.status || resp.Header.Get("Location") != c.location {
			t.Errorf("%s %s = %d Location %q, want %d %q (%s)", c.method, c.path, resp.StatusCode, resp.Header.Get("Location"), c.status, c.location, body)
		}
		if c.status == http.StatusNotFound {
			var eb errorBody
			if json.Unmarshal(body, &eb) != nil || eb.Error.Code != edge.CodeUnknownTenant || eb.Error.Field != "tenant" {
				t.Errorf("unknown tenant: %s", body)
			}
		}
	}
}

// TestEdgeGlobalErasure: a subject known under an eu and a us tenant gets
// one regional erasure in each, and GET /erasures/{globalId} on the edge
// aggregates their states until both completed.
func TestEdgeGlobalErasure(t *testing.T) {
	e := startEdge(t, loadConfig(t))
	resp, body := do(t, "POST", e.EdgeURL()+"/erasures", http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {"ticket-42"}},
		`{"subjectId":"alice","tenantIds":["us-help","eu-shop.myshopify.com"]}`)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /erasures on the edge = %d %s", resp.StatusCode, body)
	}
	var g struct {
		GlobalID string
		Regions  []struct{ Region, RequestID string }
	}
	if err := json.Unmarshal(body, &g); err != nil || len(g.Regions) != 2 {
		t.Fatalf("answer %s: %v", body, err)
	}
	for _, r := range g.Regions {
		if region, err := erasure.ParseID(r.RequestID); err != nil || region != r.Region {
			t.Errorf("region %s filed %s", r.Region, r.RequestID)
		}
		if got := list(t, e.Runtime, r.Region); len(got) != 1 || got[0].RequestID != r.RequestID || got[0].Source != erasure.SourceAPI {
			t.Errorf("%s lists %+v", r.Region, got)
		}
	}
	// The same key again is the same global erasure, filed nowhere twice.
	resp, again := do(t, "POST", e.EdgeURL()+"/erasures", http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {"ticket-42"}},
		`{"subjectId":"alice","tenantIds":["us-help","eu-shop.myshopify.com"]}`)
	if resp.StatusCode/100 != 2 || !strings.Contains(string(again), g.GlobalID) {
		t.Errorf("the retry = %d %s", resp.StatusCode, again)
	}
	var status struct {
		Status  string
		Regions []struct{ Region, RequestID, Status string }
	}
	waitFor(t, func() bool {
		resp, body := do(t, "GET", e.EdgeURL()+"/erasures/"+g.GlobalID, nil, "")
		if resp.StatusCode != 200 || json.Unmarshal(body, &status) != nil {
			t.Fatalf("GET /erasures/%s = %d %s", g.GlobalID, resp.StatusCode, body)
		}
		return status.Status == string(erasure.StatusCompleted)
	}, "the global erasure to complete")
	for _, r := range status.Regions {
		if r.Status != string(erasure.StatusCompleted) {
			t.Errorf("%s: %s", r.Region, r.Status)
		}
	}
	for _, region := range []string{"eu", "us"} {
		if got := list(t, e.Runtime, region); len(got) != 1 {
			t.Errorf("%s lists %d erasures, want 1", region, len(got))
		}
		for _, s := range []string{"projects", "orders", "customers"} {
			if e.Farm().Holds(region, s, "alice") {
				t.Errorf("%s/%s still holds alice", region, s)
			}
		}
	}
	if strings.Contains(e.log.String(), `"alice"`) {
		t.Error("the log names the subject")
	}
}

// TestStatusPortRoutes: the edge's routes, the status page and the demo
// subsystems share the status port without shadowing each other, and a
// path none of them has reaches the fan-out by the $default route, which
// answers it in Lethe's error shape (not API Gateway's {"message"}).
func TestStatusPortRoutes(t *testing.T) {
	e := startEdge(t, loadConfig(t))
	cases := []struct {
		method, path string
		status       int
		contains     string
	}{
		{"GET", "/", 200, "<html"},
		{"GET", "/erasures/eg_0190b0a0-0000-7000-8000-000000000000", 404, `"code":"not_found"`},
		{"GET", "/erasures/er_eu_x", 400, `"field":"globalId"`},
		{"DELETE", "/erasures/eg_0190b0a0-0000-7000-8000-000000000000", 404, `"code":"route_not_found"`},
		{"GET", "/tenants/eu-help", 200, `"region":"eu"`},
		// The operator listings beside the status page ("GET /{$}") and
		// the routes under the same paths.
		{"GET", "/tenants", 200, `{"tenant":"eu-help","region":"eu",`},
		{"GET", "/tenants?limit=0", 400, `"field":"limit"`},
		{"GET", "/erasures", 200, `{"erasures":[]}`},
		{"GET", "/erasures?next=x", 400, `"field":"next"`},
		{"GET", "/receipts", 200, `{"receipts":[]}`},
		{"DELETE", "/receipts", 404, `"code":"route_not_found"`}, // as on AWS: the $default route
		{"GET", "/webhooks/shopify", 405, `"code":"method_not_allowed"`},
		{"POST", "/webhooks/nosuch", 404, "unknown_provider"},
		{"GET", "/nothing/here", 404, `"code":"route_not_found"`},
		{"GET", "/demo/eu/orders/erasures/nosuch", 404, ""},
		{"DELETE", "/demo/eu/projects/subjects/nobody", 404, ""},
	}
	for _, c := range cases {
		resp, body := do(t, c.method, e.EdgeURL()+c.path, nil, "")
		if resp.StatusCode != c.status || !strings.Contains(string(body), c.contains) {
			t.Errorf("%s %s = %d %s, want %d with %q", c.method, c.path, resp.StatusCode, body, c.status, c.contains)
		}
	}
	// The demo subsystem answered, not the edge.
	calledDemo := false
	for _, c := range e.calls.list() {
		calledDemo = calledDemo || (c.Region == "eu" && c.Subsystem == "projects")
	}
	if !calledDemo {
		t.Error("DELETE /demo/eu/projects/... did not reach the demo subsystem")
	}
}

// TestDemoTenantsRegisteredOnce: the demo tenants are registered in their
// region and the edge directory at start, and again at the next start
// without change; a tenant moved at the edge since stays where it was
// moved; regions the configuration lacks get none.
func TestDemoTenantsRegisteredOnce(t *testing.T) {
	dir := t.TempDir()
	cfg := loadConfig(t)
	open := func(cfg *config.Config) *Runtime {
		rt, err := Start(context.Background(), Options{Config: cfg, DataDir: dir, Demo: true, Clock: asl.NewFakeClock(t0), NoSync: true, Log: discard(), WebhookSecrets: testSecrets})
		if err != nil {
			t.Fatal(err)
		}
		return rt
	}
	ctx := context.Background()
	rt := open(cfg)
	var first edge.Tenant
	for _, dt := range DemoTenants {
		tn, err := rt.Edge().DB.Directory().Tenant(ctx, dt.Key)
		if err != nil || tn.Region != dt.Region {
			t.Errorf("edge directory %s: %+v %v", dt.Key, tn, err)
		}
		if dt.Key == "us-help" {
			first = tn
		}
		owns, err := mustRegion(t, rt, dt.Region).Requests.OwnsTenant(ctx, dt.Key)
		if err != nil || !owns {
			t.Errorf("region %s does not own %s: %v", dt.Region, dt.Key, err)
		}
	}
	if len(rt.Edge().Registered) != len(DemoTenants) {
		t.Errorf("registered %d demo tenants", len(rt.Edge().Registered))
	}
	// An operator moves us-help to eu.
	if _, _, _, err := rt.Edge().DB.Directory().PutTenant(ctx, "us-help", "eu", true, time.Now()); err != nil {
		t.Fatal(err)
	}
	rt.Close()

	rt = open(cfg)
	tn, _ := rt.Edge().DB.Directory().Tenant(ctx, "us-help")
	if tn.Region != "eu" || !tn.RegisteredAt.Equal(first.RegisteredAt) {
		t.Errorf("us-help after a restart: %+v, want left in eu, registered %s", tn, first.RegisteredAt)
	}
	if len(rt.Edge().Registered) != len(DemoTenants)-1 {
		t.Errorf("registered %d demo tenants, want all but the moved one", len(rt.Edge().Registered))
	}
	rt.Close()

	euOnly := *cfg
	euOnly.Regions = cfg.Regions[:1]
	rt, err := Start(ctx, Options{Config: &euOnly, DataDir: t.TempDir(), Demo: true, Clock: asl.NewFakeClock(t0), NoSync: true, Log: discard(), WebhookSecrets: testSecrets})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	for _, dt := range rt.Edge().Registered {
		if dt.Region != "eu" {
			t.Errorf("registered %s in %s, which is not configured", dt.Key, dt.Region)
		}
	}
	if _, err := rt.Edge().DB.Directory().Tenant(ctx, "us-shop.myshopify.com"); !errors.Is(err, edge.ErrNotFound) {
		t.Errorf("us-shop in an eu-only directory: %v", err)
	}
}

// TestExampleWebhookWorks posts the banner's example (the demo customer of
// eu-shop, signed with the development secret) and watches it erase the
// customer in eu; the curl line carries the same request.
func TestExampleWebhookWorks(t *testing.T) {
	rt, err := Start(context.Background(), Options{Config: loadConfig(t), DataDir: t.TempDir(), Demo: true, Clock: asl.NewFakeClock(t0), NoSync: true, Log: discard(),
		WebhookSecrets: DevWebhookSecrets})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	x, ok := rt.ExampleWebhook("lethe-local-example")
	if !ok || x.Tenant.Key != "eu-shop.myshopify.com" {
		t.Fatalf("example: %+v %v", x, ok)
	}
	curl := x.Curl()
	for _, want := range []string{"curl -i -X POST " + rt.EdgeURL() + "/webhooks/shopify", "'X-Shopify-Hmac-Sha256: " + x.Header.Get(webhook.HeaderShopifyHmac) + "'", "--data-binary '" + string(x.Body) + "'"} {
		if !strings.Contains(curl, want) {
			t.Errorf("curl lacks %q:\n%s", want, curl)
		}
	}
	resp, body := send(t, http.DefaultClient, x.Method, x.URL, x.Header, x.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("the example = %d %s", resp.StatusCode, body)
	}
	eu := list(t, rt, "eu")
	if len(eu) != 1 {
		t.Fatalf("eu lists %+v", eu)
	}
	if r := wait(t, rt, eu[0].RequestID); r.Status != erasure.StatusCompleted || statusOf(r)["projects"] != erasure.SubsystemDeleted {
		t.Errorf("the example's erasure: %s %+v", r.Status, r.Subsystems)
	}
	if rt.Farm().Holds("eu", "projects", x.Tenant.Subject) {
		t.Error("the demo customer is still held")
	}
}

func TestWebhookSecrets(t *testing.T) {
	env := map[string]string{EnvShopifySecret: "from-env", EnvZendeskSecret: "  "}
	got, dev := WebhookSecretsFromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if got[webhook.Shopify] != "from-env" || got[webhook.Zendesk] != DevWebhookSecrets[webhook.Zendesk] || !slices.Equal(dev, []string{webhook.Zendesk}) {
		t.Errorf("from env: %v dev %v", got, dev)
	}
	s := WebhookSecrets{webhook.Shopify: "s"}
	ctx := context.Background()
	cases := []struct {
		name string
		src  config.TokenSource
		want string
		env  string
	}{
		{"region", config.TokenSource{Kind: config.TokenSecretsManager, Name: config.WebhookSecretName("eu", "shopify", "a.myshopify.com")}, "s", ""},
		{"edge scope", config.TokenSource{Kind: config.TokenSecretsManager, Name: config.WebhookSecretName(config.EdgeScope, "shopify", "x")}, "s", ""},
		{"provider without", config.TokenSource{Kind: config.TokenSecretsManager, Name: config.WebhookSecretName("eu", "zendesk", "x")}, "", EnvZendeskSecret},
		{"not a webhook secret", config.TokenSource{Kind: config.TokenSecretsManager, Name: "lethe/eu/orders/token"}, "", ""},
		{"ssm", config.TokenSource{Kind: config.TokenSSM, Name: config.WebhookSecretName("eu", "shopify", "x")}, "", ""},
	}
	for _, c := range cases {
		v, err := s.Token(ctx, c.src)
		if v != c.want || (c.want == "") != errors.Is(err, ErrNoWebhookSecret) || (c.env != "" && !strings.Contains(err.Error(), c.env)) {
			t.Errorf("%s: %q %v", c.name, v, err)
		}
	}
	if b, err := s.WebhookSecret(ctx, "shopify", "any.myshopify.com"); string(b) != "s" || err != nil {
		t.Errorf("edge shopify: %q %v", b, err)
	}
	if _, err := s.WebhookSecret(ctx, "generic", "t"); !errors.Is(err, edge.ErrNoSecret) {
		t.Errorf("edge generic: %v", err)
	}
}

// TestEdgeRoutesMatchInfra reads infra/edge_api.go: the local edge serves
// the edge stack's routes, each with the function and authorisation the
// stack gives it.
func TestEdgeRoutesMatchInfra(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "infra", "edge_api.go"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`\{awsapigatewayv2\.HttpMethod_([A-Z]+), "([^"]+)", (fanout|api), (true|false), `)
	var infra []string
	for _, m := range re.FindAllStringSubmatch(string(src), -1) {
		fn := registry.FnWebhookFanout
		if m[3] == "api" {
			fn = registry.FnEdgeAPI
		}
		infra = append(infra, fmt.Sprintf("%s %s %s %s", m[1], m[2], fn, m[4]))
	}
	var local []string
	for _, r := range EdgeRoutes {
		local = append(local, fmt.Sprintf("%s %s %s %v", r.Method, r.Path, r.Function, r.Public))
	}
	if len(infra) == 0 || !slices.Equal(infra, local) {
		t.Errorf("infra's edge routes:\n%s\nlocal:\n%s", strings.Join(infra, "\n"), strings.Join(local, "\n"))
	}
}

// get reads a request by GET /erasures/{id}.
func get(t *testing.T, rt *Runtime, id string) erasure.Request {
	t.Helper()
	region, _ := erasure.ParseID(id)
	resp, body := do(t, "GET", mustRegion(t, rt, region).URL+"/erasures/"+id, nil, "")
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s = %d %s", id, resp.StatusCode, body)
	}
	var r erasure.Request
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	return r
}
