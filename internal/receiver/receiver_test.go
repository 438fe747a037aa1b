package receiver

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/webhook"
)

const (
	customersRedact = `{"shop_id":954889,"shop_domain":"eu-shop.myshopify.com","customer":{"id":191167,"email":"john@example.com","phone":"555-625-1199"},"orders_to_redact":[299938,280263,220458]}`
	zendeskDeleted  = `{"account_id":22129848,"detail":{"email":"jane.doe@example.com","id":"9873843","role":"end-user"},"event":{},"id":"5f6dc6d0-3c8e-4f8b-9b1a-8d7e8c6a1e2f","subject":"zen:user:9873843","time":"2026-11-02T09:15:10Z","type":"zen:event-type:user.deleted","zendesk_event_version":"2022-11-06"}`
	zendeskCreated  = `{"account_id":22129848,"detail":{"email":"jane.doe@example.com","id":"9873843"},"event":{},"id":"6a","subject":"zen:user:9873843","time":"2026-11-02T09:15:10Z","type":"zen:event-type:user.created","zendesk_event_version":"2022-11-06"}`
	genericErasure  = `{"subjectId":"acme-user-77@example.com"}`
)

// personal are strings of the payloads above that must never reach a log
// line, an answer, an alert or a queue attribute.
var personal = []string{"john@example.com", "191167", "555-625-1199", "jane.doe@example.com", "9873843", "acme-user-77"}

// delivery is a signed request of one provider.
type delivery struct {
	provider, tenant, topic, id string
	body                        string
	secret                      string
	signedAt                    time.Time
}

func (d delivery) event() events.APIGatewayProxyRequest {
	h := http.Header{}
	var query map[string]string
	switch d.provider {
	case webhook.Shopify:
		h.Set(webhook.HeaderShopifyShop, d.tenant)
		h.Set(webhook.HeaderShopifyTopic, d.topic)
		h.Set(webhook.HeaderShopifyWebhookID, d.id)
		h.Set("X-Shopify-Api-Version", "2026-10")
	case webhook.Zendesk:
		query = map[string]string{"tenant": d.tenant}
		h.Set(webhook.HeaderZendeskInvocationID, d.id)
		h.Set(webhook.HeaderZendeskAccountID, "22129848")
	default:
		h.Set(webhook.HeaderLetheTenant, d.tenant)
		h.Set(webhook.HeaderLetheTopic, d.topic)
		h.Set(webhook.HeaderLetheDeliveryID, d.id)
	}
	if p, err := webhook.Lookup(d.provider); err == nil && d.secret != "" {
		at := d.signedAt
		if at.IsZero() {
			at = testNow
		}
		p.Sign(h, []byte(d.body), []byte(d.secret), at)
	}
	return webhookEvent(d.provider, h, query, []byte(d.body))
}

var (
	redactEU  = delivery{provider: "shopify", tenant: shopEU, topic: "customers/redact", id: "b54557e4-8a5f-4f7d-9c3d-70bcd043aa11", body: customersRedact, secret: secretShop}
	deletedEU = delivery{provider: "zendesk", tenant: helpEU, id: "8350205582", body: zendeskDeleted, secret: secretHelp}
)

func with(d delivery, change func(*delivery)) delivery { change(&d); return d }

// expect is what a delivery must come to.
type expect struct {
	status      int
	code, field string
	result      string // filed, existing, queued, dropped; "" for errors
	subject     string // of the filed request
	source      string // of the filed request
	alerts      int
}

func TestHandle(t *testing.T) {
	failing := errors.New("operation error: https response error StatusCode: 500, table lethe-eu-requests-7F3A")
	for _, tc := range []struct {
		name  string
		ev    events.APIGatewayProxyRequest
		setup func(*fixture)
		want  expect
	}{
		{"shopify customers/redact files an erasure", redactEU.event(), nil,
			expect{status: 202, result: "filed", subject: "shopify:eu-shop.myshopify.com:customer:191167", source: "webhook:shopify"}},
		{"shopify shop/redact files the shop's erasure", with(redactEU, func(d *delivery) {
			d.topic, d.body = "shop/redact", `{"shop_id":954889,"shop_domain":"eu-shop.myshopify.com"}`
		}).event(), nil, expect{status: 202, result: "filed", subject: "shopify:eu-shop.myshopify.com:shop", source: "webhook:shopify"}},
		{"shopify orders/create is queued", with(redactEU, func(d *delivery) {
			d.topic, d.body = "orders/create", `{"id":820982911946154508,"email":"john@example.com"}`
		}).event(), nil, expect{status: 202, result: "queued"}},
		{"shopify customers/data_request is queued", with(redactEU, func(d *delivery) { d.topic = "customers/data_request" }).event(), nil,
			expect{status: 202, result: "queued"}},
		{"zendesk user.deleted files an erasure", deletedEU.event(), nil,
			expect{status: 202, result: "filed", subject: "zendesk:eu-help:user:9873843", source: "webhook:zendesk"}},
		{"zendesk user.created is queued", with(deletedEU, func(d *delivery) { d.body = zendeskCreated }).event(), nil,
			expect{status: 202, result: "queued"}},
		{"generic erasure.requested files an erasure", delivery{provider: "generic", tenant: genericEU, topic: "erasure.requested", id: "dlv-1", body: genericErasure, secret: secretAcme}.event(), nil,
			expect{status: 202, result: "filed", subject: "acme-user-77@example.com", source: "webhook:generic"}},
		{"generic binary body is queued", delivery{provider: "generic", tenant: genericEU, topic: "files/uploaded", id: "dlv-2", body: "\x89PNG\r\n\x1a\n\xff", secret: secretAcme}.event(), nil,
			expect{status: 202, result: "queued"}},

		{"not owned, multicast topic: dropped", with(redactEU, func(d *delivery) {
			d.tenant, d.topic, d.secret, d.body = shopUS, "app/uninstalled", "", `{"id":1}`
		}).event(), nil, expect{status: 200, result: "dropped"}},
		{"not owned, authentic: 409 and an alert", with(redactEU, func(d *delivery) {
			d.tenant, d.secret = shopMoved, secretMove
			d.body = strings.Replace(customersRedact, shopEU, shopMoved, 1)
		}).event(), nil, expect{status: 409, code: CodeTenantNotOwned, field: "tenant", alerts: 1}},
		{"not owned, no secret here: 409, no alert", with(redactEU, func(d *delivery) { d.tenant = shopUS }).event(), nil,
			expect{status: 409, code: CodeTenantNotOwned, field: "tenant"}},
		{"not owned, forged: 409, no alert", with(redactEU, func(d *delivery) { d.tenant, d.secret = shopMoved, "guess" }).event(), nil,
			expect{status: 409, code: CodeTenantNotOwned, field: "tenant"}},
		{"not owned, alert fails: still 409", with(redactEU, func(d *delivery) { d.tenant, d.secret = shopMoved, secretMove }).event(),
			func(f *fixture) { f.alerts.fail = failing }, expect{status: 409, code: CodeTenantNotOwned, field: "tenant"}},

		{"tampered body", func() events.APIGatewayProxyRequest {
			ev := redactEU.event()
			ev.Body = base64.StdEncoding.EncodeToString([]byte(strings.Replace(customersRedact, "191167", "191168", 1)))
			return ev
		}(), nil, expect{status: 401, code: CodeBadSignature, field: webhook.HeaderShopifyHmac}},
		{"wrong secret", with(redactEU, func(d *delivery) { d.secret = "shpss_other" }).event(), nil,
			expect{status: 401, code: CodeBadSignature, field: webhook.HeaderShopifyHmac}},
		{"unsigned", with(redactEU, func(d *delivery) { d.secret = "" }).event(), nil,
			expect{status: 401, code: CodeBadSignature, field: webhook.HeaderShopifyHmac}},
		{"stale zendesk delivery", with(deletedEU, func(d *delivery) { d.signedAt = testNow.Add(-10 * time.Minute) }).event(), nil,
			expect{status: 401, code: CodeBadSignature, field: webhook.HeaderZendeskTimestamp}},
		{"stale zendesk delivery released from the edge's quarantine", released(with(deletedEU, func(d *delivery) { d.signedAt = testNow.Add(-30 * time.Hour) }).event()), nil,
			expect{status: 202, result: "filed", subject: "zendesk:eu-help:user:9873843", source: "webhook:zendesk"}},
		{"released delivery older than the quarantine", released(with(deletedEU, func(d *delivery) { d.signedAt = testNow.Add(-73 * time.Hour) }).event()), nil,
			expect{status: 401, code: CodeBadSignature, field: webhook.HeaderZendeskTimestamp}},
		{"released delivery still verified", released(with(redactEU, func(d *delivery) { d.secret = "shpss_other" }).event()), nil,
			expect{status: 401, code: CodeBadSignature, field: webhook.HeaderShopifyHmac}},
		{"zendesk without tenant", func() events.APIGatewayProxyRequest {
			ev := deletedEU.event()
			ev.QueryStringParameters, ev.MultiValueQueryStringParameters = nil, nil
			return ev
		}(), nil, expect{status: 400, code: CodeInvalidDelivery, field: "tenant"}},
		{"bad shop domain", with(redactEU, func(d *delivery) { d.tenant = "EU-Shop.myshopify.com" }).event(), nil,
			expect{status: 400, code: CodeInvalidDelivery, field: webhook.HeaderShopifyShop}},
		{"erasure payload without customer", with(redactEU, func(d *delivery) {
			d.body = `{"shop_id":954889,"shop_domain":"eu-shop.myshopify.com"}`
		}).event(), nil, expect{status: 400, code: CodeInvalidDelivery, field: "customer"}},
		{"erasure payload of another shop", with(redactEU, func(d *delivery) {
			d.body = strings.Replace(customersRedact, shopEU, shopUS, 1)
		}).event(), nil, expect{status: 400, code: CodeInvalidDelivery, field: "shop_domain"}},
		{"unknown provider", with(redactEU, func(d *delivery) { d.provider = "freshdesk" }).event(), nil,
			expect{status: 404, code: CodeUnknownProvider, field: "provider"}},
		{"GET", func() events.APIGatewayProxyRequest { ev := redactEU.event(); ev.HTTPMethod = "GET"; return ev }(), nil,
			expect{status: 405, code: CodeMethodNotAllowed}},
		{"other path", func() events.APIGatewayProxyRequest {
			ev := redactEU.event()
			ev.PathParameters, ev.Path = nil, "/hooks"
			return ev
		}(), nil, expect{status: 404, code: CodeRouteNotFound}},
		{"invalid base64", func() events.APIGatewayProxyRequest { ev := redactEU.event(); ev.Body = "%%%"; return ev }(), nil,
			expect{status: 400, code: CodeInvalidBody}},
		{"too large", func() events.APIGatewayProxyRequest {
			ev := redactEU.event()
			ev.Body, ev.IsBase64Encoded = strings.Repeat("x", webhook.MaxBodyBytes+1), false
			return ev
		}(), nil, expect{status: 413, code: CodeBodyTooLarge}},

		{"ownership unreadable", redactEU.event(), func(f *fixture) { f.requests.ownFail = failing },
			expect{status: 503, code: CodeUnavailable}},
		{"secret unreadable", redactEU.event(), func(f *fixture) { f.secrets.fail = failing },
			expect{status: 503, code: CodeUnavailable}},
		{"store down", redactEU.event(), func(f *fixture) { f.requests.fail = failing },
			expect{status: 503, code: CodeUnavailable}},
		{"queue down", with(redactEU, func(d *delivery) { d.topic = "orders/create" }).event(), func(f *fixture) { f.queue.fail = failing },
			expect{status: 503, code: CodeUnavailable}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if tc.setup != nil {
				tc.setup(f)
			}
			resp := f.call(t, tc.ev)
			check(t, f, resp, tc.want)
		})
	}
}

// check asserts an answer and every side effect the fakes saw.
func check(t *testing.T, f *fixture, resp events.APIGatewayProxyResponse, want expect) {
	t.Helper()
	if resp.StatusCode != want.status {
		t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, want.status, resp.Body)
	}
	if ct := resp.Headers["Content-Type"]; ct != "application/json; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	if want.code != "" {
		code, field := errorOf(t, resp.Body)
		if code != want.code || field != want.field {
			t.Errorf("error = %s/%q, want %s/%q; body %s", code, field, want.code, want.field, resp.Body)
		}
		if want.status == 503 && resp.Headers["Retry-After"] == "" {
			t.Error("503 without Retry-After")
		}
		if want.status == 405 && resp.Headers["Allow"] != "POST" {
			t.Errorf("Allow = %q", resp.Headers["Allow"])
		}
	}
	created := 0
	for _, c := range f.requests.creates {
		if c.outcome == "created" {
			created++
		}
	}
	switch want.result {
	case "filed", "existing":
		if len(f.requests.creates) != 1 {
			t.Fatalf("Create calls = %d, want 1", len(f.requests.creates))
		}
		c := f.requests.creates[0]
		r := c.req
		if r.SubjectID != want.subject || r.Source != want.source ||
			r.Status != erasure.StatusPending || r.TenantID == "" || !strings.Contains(c.key, ":") {
			t.Errorf("created %+v with key %q; want subject %q", r, c.key, want.subject)
		}
		if !r.ReceivedAt.Equal(testNow) || !r.Deadline.Equal(testNow.AddDate(0, 1, 0)) || len(r.Subsystems) != 3 {
			t.Errorf("request times/subsystems: %v %v %d", r.ReceivedAt, r.Deadline, len(r.Subsystems))
		}
		var v filedView
		if err := json.Unmarshal([]byte(resp.Body), &v); err != nil || v.RequestID != r.ID || v.Source != r.Source {
			t.Errorf("answer %s does not name request %s (%v)", resp.Body, r.ID, err)
		}
		if len(f.queue.sent) != 0 {
			t.Errorf("an erasure was also queued")
		}
	default:
		if created != 0 {
			t.Errorf("created %d requests, want none", created)
		}
	}
	if want.result == "queued" {
		if len(f.queue.sent) != 1 {
			t.Fatalf("queued %d messages, want 1", len(f.queue.sent))
		}
		var m Message
		if err := json.Unmarshal([]byte(f.queue.sent[0].body), &m); err != nil {
			t.Fatal(err)
		}
		if m.Tenant == "" || m.DeliveryID == "" || m.Topic == "" || m.ReceivedAt != "2026-11-02T09:15:12Z" || m.Body == "" {
			t.Errorf("queued %+v", m)
		}
		if a := f.queue.sent[0].attrs; a["provider"] != m.Provider || a["topic"] != m.Topic || a["tenant"] != m.Tenant || a["deliveryId"] != m.DeliveryID {
			t.Errorf("attributes %v do not match the message", a)
		}
	} else if len(f.queue.sent) != 0 {
		t.Errorf("queued %d messages, want none", len(f.queue.sent))
	}
	var logged struct {
		AWSRequestID string `json:"awsRequestId"`
		DeliveryID   string `json:"deliveryId"`
	}
	// One JSON line per delivery, after the metric line of a request filed.
	lines := strings.Split(strings.TrimSpace(f.logs.String()), "\n")
	wantLines := 1
	if want.result == "filed" {
		wantLines = 2
		var metric map[string]any
		if json.Unmarshal([]byte(lines[0]), &metric) != nil || metric["ErasuresReceived"] != 1.0 || metric["source"] != want.source {
			t.Errorf("no ErasuresReceived metric line for the request filed: %s", lines[0])
		}
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &logged); len(lines) != wantLines || err != nil || logged.AWSRequestID == "" {
		t.Errorf("not %d JSON log lines ending with the awsRequestId's (%v): %s", wantLines, err, f.logs.String())
	}
	if len(f.alerts.pubs) != want.alerts {
		t.Errorf("published %d alerts, want %d", len(f.alerts.pubs), want.alerts)
	}
	for _, a := range f.alerts.pubs {
		if strings.Contains(a.message, shopMoved) || strings.Contains(a.subject, shopMoved) || len(a.subject) > 100 {
			t.Errorf("alert names the tenant in clear or has a long subject: %+v", a)
		}
		for _, s := range []string{"region:      eu", "provider:    shopify", "delivery id: " + logged.DeliveryID, TenantHash(shopMoved)} {
			if !strings.Contains(a.message, s) {
				t.Errorf("alert lacks %q:\n%s", s, a.message)
			}
		}
	}
	// Nothing personal in answers, logs, alerts or queue attributes.
	var seen []string
	seen = append(seen, resp.Body, f.logs.String())
	for _, a := range f.alerts.pubs {
		seen = append(seen, a.subject, a.message)
	}
	for _, m := range f.queue.sent {
		for _, v := range m.attrs {
			seen = append(seen, v)
		}
	}
	for _, s := range seen {
		for _, p := range personal {
			if strings.Contains(s, p) {
				t.Errorf("%q leaked into %s", p, s)
			}
		}
	}
}

// TestRedeliveryFilesOnce: the edge may forward one delivery twice (its
// retry after a lost answer); the second finds the first request.
func TestRedeliveryFilesOnce(t *testing.T) {
	f := newFixture(t)
	first := f.call(t, redactEU.event())
	second := f.call(t, redactEU.event())
	if first.StatusCode != 202 || second.StatusCode != 200 {
		t.Fatalf("statuses %d, %d; want 202, 200", first.StatusCode, second.StatusCode)
	}
	var a, b filedView
	_ = json.Unmarshal([]byte(first.Body), &a)
	_ = json.Unmarshal([]byte(second.Body), &b)
	if a.RequestID == "" || a.RequestID != b.RequestID {
		t.Errorf("request ids %q, %q; want one", a.RequestID, b.RequestID)
	}
	if len(f.requests.byID) != 1 {
		t.Errorf("%d requests stored", len(f.requests.byID))
	}
	for _, c := range f.requests.creates {
		if c.key != "shopify:"+shopEU+":"+redactEU.id {
			t.Errorf("idempotency key %q", c.key)
		}
	}
}

// TestDeliveryIDReusedForAnotherSubject: a delivery id that already filed
// an erasure for one subject cannot file one for another.
func TestDeliveryIDReusedForAnotherSubject(t *testing.T) {
	f := newFixture(t)
	f.call(t, redactEU.event())
	other := with(redactEU, func(d *delivery) { d.body = strings.Replace(customersRedact, "191167", "191168", 1) })
	resp := f.call(t, other.event())
	if code, _ := errorOf(t, resp.Body); resp.StatusCode != 422 || code != CodeIdempotencyKeyReused {
		t.Errorf("= %d %s", resp.StatusCode, resp.Body)
	}
}

// TestNothingReadBeforeOwnership: a multicast delivery for a tenant the
// region does not own reads no secret (the region need not hold one).
func TestNothingReadBeforeOwnership(t *testing.T) {
	f := newFixture(t)
	ev := with(redactEU, func(d *delivery) { d.tenant, d.topic, d.secret = shopUS, "app/uninstalled", "" }).event()
	if resp := f.call(t, ev); resp.StatusCode != 200 || !strings.Contains(resp.Body, `"dropped"`) {
		t.Fatalf("= %d %s", resp.StatusCode, resp.Body)
	}
	if len(f.secrets.reads) != 0 {
		t.Errorf("secrets read: %v", f.secrets.reads)
	}
	// An owned tenant's secret is the region's own copy.
	f.call(t, redactEU.event())
	if want := "secretsmanager:lethe/eu/webhooks/shopify/eu-shop.myshopify.com"; len(f.secrets.reads) != 1 || f.secrets.reads[0] != want {
		t.Errorf("secrets read: %v, want [%s]", f.secrets.reads, want)
	}
}

// released turns a delivery into one the edge releases from its quarantine
// (ReleaseRoute), with or without a matched resource (the local runtime
// matches none).
func released(ev events.APIGatewayProxyRequest) events.APIGatewayProxyRequest {
	ev.Resource, ev.RequestContext.ResourcePath = "/webhooks/{provider}/release", "/webhooks/{provider}/release"
	ev.Path += "/release"
	return ev
}

func TestReleaseRouteWithoutResource(t *testing.T) {
	f := newFixture(t)
	ev := released(with(deletedEU, func(d *delivery) { d.signedAt = testNow.Add(-30 * time.Hour) }).event())
	ev.Resource, ev.PathParameters = "", nil
	if resp := f.call(t, ev); resp.StatusCode != 202 {
		t.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
	}
	ev = with(deletedEU, func(d *delivery) { d.signedAt = testNow.Add(-30 * time.Hour) }).event()
	ev.Resource, ev.PathParameters = "", nil
	if resp := f.call(t, ev); resp.StatusCode != 401 {
		t.Fatalf("a stale delivery on the public route: status %d: %s", resp.StatusCode, resp.Body)
	}
}

// TestReleasedKeepsTheEdgesReceipt: a released delivery's request counts
// from when the edge received it, as the release says; a time the release
// cannot mean (unreadable, in the future, older than a quarantine), or one
// sent on the public route, is not believed.
func TestReleasedKeepsTheEdgesReceipt(t *testing.T) {
	atEdge := testNow.Add(-30 * time.Hour)
	for _, tc := range []struct {
		name    string
		release bool
		header  string
		want    time.Time
	}{
		{"released with the edge's receipt", true, atEdge.Format(time.RFC3339Nano), atEdge},
		{"released without one", true, "", testNow},
		{"released with an unreadable one", true, "yesterday", testNow},
		{"released with a future one", true, testNow.Add(time.Hour).Format(time.RFC3339Nano), testNow},
		{"released with one older than a quarantine", true, testNow.Add(-30 * 24 * time.Hour).Format(time.RFC3339Nano), testNow},
		{"public route", false, atEdge.Format(time.RFC3339Nano), testNow},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			ev := with(deletedEU, func(d *delivery) { d.signedAt = testNow.Add(-time.Minute) }).event()
			if tc.release {
				ev = released(ev)
			}
			if tc.header != "" {
				ev.Headers[webhook.ReceivedAtHeader] = tc.header
				ev.MultiValueHeaders[webhook.ReceivedAtHeader] = []string{tc.header}
			}
			if resp := f.call(t, ev); resp.StatusCode != 202 {
				t.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
			}
			if len(f.requests.creates) != 1 {
				t.Fatalf("%d creates", len(f.requests.creates))
			}
			r := f.requests.creates[0].req
			if !r.ReceivedAt.Equal(tc.want) || !r.Deadline.Equal(f.h.deadline.After(tc.want)) {
				t.Errorf("received %s, due %s; want received %s", r.ReceivedAt, r.Deadline, tc.want)
			}
			// A release is recorded in the audit records; a public delivery
			// is not.
			if tc.release != (len(f.requests.audit) == 1) {
				t.Fatalf("audit records %+v", f.requests.audit)
			}
			if tc.release {
				a := f.requests.audit[0]
				if a.Action != "quarantine_release" || a.RequestID != r.ID || a.Detail["result"] != "filed" || strings.Contains(fmt.Sprint(a), r.SubjectID) {
					t.Errorf("audit record %+v", a)
				}
			}
		})
	}
}
