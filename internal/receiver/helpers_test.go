package receiver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"github.com/lethe-erasure/lethe/internal/subjectkey/subjectkeytest"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/eventstest"
)

// testConfigJSON is the eu region of the default cdk.json as ForRegion
// writes it, with one multicast topic.
const testConfigJSON = `{
  "deadline": {"months": 1},
  "regions": [{
    "name": "eu", "awsRegion": "eu-west-1",
    "subsystems": [
      {"name": "projects", "mode": "sync", "baseUrl": "https://projects.eu.example.com", "adminEmails": ["projects-admins@example.com"]},
      {"name": "orders", "mode": "async", "baseUrl": "https://orders.eu.example.com", "adminEmails": ["orders-admins@example.com"]},
      {"name": "customers", "mode": "async", "baseUrl": "https://customers.eu.example.com", "adminEmails": ["customers-admins@example.com"]}
    ]
  }],
  "edge": {"multicastTopics": ["shopify/app/uninstalled", "generic/ping"], "signatureToleranceSeconds": 300}
}`

// testNow is when the sample events were sent (their signed timestamps).
var testNow = time.Date(2026, 11, 2, 9, 15, 12, 0, time.UTC)

// The region's tenants and secrets. moved-shop has a secret left in eu
// but is no longer registered there: its deliveries are authentic
// misroutes.
const (
	shopEU     = "eu-shop.myshopify.com"
	shopUS     = "us-shop.myshopify.com"
	shopMoved  = "moved-shop.myshopify.com"
	helpEU     = "eu-help"
	genericEU  = "acme"
	secretShop = "shpss_eu_shop_demo_secret"
	secretHelp = "eu-help-zendesk-signing-secret"
	secretAcme = "acme-generic-secret"
	secretMove = "shpss_moved_shop_secret"
)

func testSecrets() *fakeSecrets {
	return &fakeSecrets{values: map[string]string{
		config.WebhookSecretName("eu", "shopify", shopEU):    secretShop,
		config.WebhookSecretName("eu", "zendesk", helpEU):    secretHelp,
		config.WebhookSecretName("eu", "generic", genericEU): secretAcme,
		config.WebhookSecretName("eu", "shopify", shopMoved): secretMove,
	}}
}

// fixture is a receiver of region eu over fakes.
type fixture struct {
	h        *Handler
	requests *fakeRequests
	secrets  *fakeSecrets
	queue    *fakeQueue
	alerts   *fakeAlerts
	logs     *eventstest.Logs
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	cfg, region, err := config.FromEnv(testConfigJSON)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{
		requests: newFakeRequests(shopEU, helpEU, genericEU),
		secrets:  testSecrets(),
		queue:    &fakeQueue{},
		alerts:   &fakeAlerts{},
		logs:     &eventstest.Logs{},
	}
	f.h = New(f.requests, subjectkeytest.Key(), f.secrets, f.queue, f.alerts, cfg, region,
		WithClock(func() time.Time { return testNow }),
		WithLogger(slog.New(slog.NewJSONHandler(f.logs, nil))))
	return f
}

// call runs one event through the handler.
func (f *fixture) call(t testing.TB, ev events.APIGatewayProxyRequest) events.APIGatewayProxyResponse {
	t.Helper()
	resp, err := f.h.Handle(context.Background(), ev)
	if err != nil {
		t.Fatalf("Handle returned an error: %v", err)
	}
	return resp
}

// webhookEvent is a REST proxy event of POST /webhooks/{provider} as API
// Gateway delivers it (headers single- and multi-valued, binary body
// base64-encoded).
func webhookEvent(provider string, h http.Header, query map[string]string, body []byte) events.APIGatewayProxyRequest {
	ev := events.APIGatewayProxyRequest{
		Resource:          "/webhooks/{provider}",
		Path:              "/webhooks/" + provider,
		HTTPMethod:        http.MethodPost,
		Headers:           map[string]string{},
		MultiValueHeaders: map[string][]string{},
		PathParameters:    map[string]string{"provider": provider},
		Body:              base64.StdEncoding.EncodeToString(body),
		IsBase64Encoded:   true,
		RequestContext: events.APIGatewayProxyRequestContext{
			RequestID: "c0ffee00-0000-4000-8000-000000000001", Stage: "prod", ResourcePath: "/webhooks/{provider}",
		},
	}
	h.Set("Content-Type", "application/json")
	for k, vs := range h {
		ev.Headers[k] = vs[len(vs)-1]
		ev.MultiValueHeaders[k] = vs
	}
	if len(query) > 0 {
		ev.QueryStringParameters = query
		ev.MultiValueQueryStringParameters = map[string][]string{}
		for k, v := range query {
			ev.MultiValueQueryStringParameters[k] = []string{v}
		}
	}
	return ev
}

func errorOf(t testing.TB, body string) (code, field string) {
	t.Helper()
	var e struct {
		Error *struct {
			Code    string  `json:"code"`
			Message string  `json:"message"`
			Field   *string `json:"field"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == nil || e.Error.Field == nil || e.Error.Message == "" {
		t.Fatalf("not a JSON error {code, message, field}: %s", body)
	}
	return e.Error.Code, *e.Error.Field
}
