package edge

// The edge and the regions' webhook receivers together: the edge's
// forwarding and the receiver's re-verification must agree on every byte,
// header and query parameter, so this test puts the real receiver
// (internal/receiver) behind each region's loopback server instead of a
// recorder.

import (
	"context"
	"encoding/base64"
	"github.com/lethe-erasure/lethe/internal/audit"
	"github.com/lethe-erasure/lethe/internal/subjectkey/subjectkeytest"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/eventstest"
	"github.com/lethe-erasure/lethe/internal/receiver"
)

// regionRequests is one region's requests table as the receiver sees it:
// owned tenants and the requests filed, one per idempotency key.
type regionRequests struct {
	mu      sync.Mutex
	owned   map[string]bool
	byKey   map[string]erasure.Request
	subject map[string]string // request id -> subject
}

// AppendAudit: the regions of the edge's tests keep no audit records.
func (r *regionRequests) AppendAudit(context.Context, ...audit.Record) error { return nil }

func (r *regionRequests) Create(_ context.Context, req erasure.Request, key string) (erasure.Request, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.byKey[key]; ok {
		if r.subject[old.ID] != req.SubjectID {
			return erasure.Request{}, false, erasure.ErrIdempotencyKeyReused
		}
		return old, false, nil
	}
	r.byKey[key] = req
	r.subject[req.ID] = req.SubjectID
	return req, true, nil
}

func (r *regionRequests) OwnsTenant(_ context.Context, tenant string) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.owned[tenant], nil
}

func (r *regionRequests) filed() []erasure.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []erasure.Request
	for _, req := range r.byKey {
		req.SubjectID = r.subject[req.ID]
		out = append(out, req)
	}
	return out
}

// regionSecrets serves the region's copies of the demo tenants' secrets
// (the same values as the edge's).
type regionSecrets struct{ region string }

func (s regionSecrets) Token(_ context.Context, src config.TokenSource) (string, error) {
	rest, ok := strings.CutPrefix(src.Name, "lethe/"+s.region+"/webhooks/")
	if !ok {
		return "", ErrNoSecret
	}
	provider, tenant, _ := strings.Cut(rest, "/")
	return secretOf(provider, tenant), nil
}

type discard struct{}

func (discard) Send(context.Context, string, map[string]string) error { return nil }
func (discard) Publish(context.Context, string, string) error         { return nil }

// asReceiver serves a region's loopback server with the real receiver, the
// HTTP request turned into the REST event API Gateway would deliver (every
// body binary, as the regional API is configured).
func asReceiver(t *testing.T, h *harness, srv *regionServer, owned ...string) *regionRequests {
	t.Helper()
	reqs := &regionRequests{owned: map[string]bool{}, byKey: map[string]erasure.Request{}, subject: map[string]string{}}
	for _, o := range owned {
		reqs.owned[o] = true
	}
	cfg, err := config.Parse([]byte(`{"regions":[{"name":"` + srv.name + `","awsRegion":"eu-west-1","subsystems":[
		{"name":"projects","mode":"sync","baseUrl":"https://projects.example.com"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := cfg.ForRegion(srv.name)
	if err != nil {
		t.Fatal(err)
	}
	rh := receiver.New(reqs, subjectkeytest.Key(), regionSecrets{region: srv.name}, discard{}, discard{}, rc, rc.Regions[0],
		receiver.WithClock(h.clock.Now), receiver.WithLogger(slog.New(slog.NewJSONHandler(&eventstest.Logs{}, nil))))
	srv.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		provider := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/webhooks/"), "/release")
		resource := "/webhooks/{provider}"
		if strings.HasSuffix(r.URL.Path, "/release") {
			if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
				http.Error(w, `{"message":"Missing Authentication Token"}`, http.StatusForbidden) // API Gateway's IAM answer
				return
			}
			resource += "/release"
		}
		ev := events.APIGatewayProxyRequest{
			Resource: resource, Path: r.URL.Path, HTTPMethod: r.Method,
			Headers: map[string]string{}, MultiValueHeaders: map[string][]string(r.Header.Clone()),
			PathParameters: map[string]string{"provider": provider},
			Body:           base64.StdEncoding.EncodeToString(body), IsBase64Encoded: true,
		}
		for k, vs := range r.Header {
			ev.Headers[k] = vs[len(vs)-1]
		}
		if q := r.URL.Query(); len(q) > 0 {
			ev.QueryStringParameters, ev.MultiValueQueryStringParameters = map[string]string{}, map[string][]string(q)
			for k, vs := range q {
				ev.QueryStringParameters[k] = vs[len(vs)-1]
			}
		}
		resp, err := rh.Handle(r.Context(), ev)
		if err != nil {
			t.Errorf("receiver: %v", err)
		}
		for k, v := range resp.Headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.WriteString(w, resp.Body)
	})
	return reqs
}

func TestWebhooksEndAsErasuresInTheHomeRegionOnly(t *testing.T) {
	h := newHarness(t)
	eu := asReceiver(t, h, h.eu, euShop, euHelp)
	us := asReceiver(t, h, h.us, usShop, usHelp)

	// A Shopify customers/redact of the EU shop: one erasure in eu.
	redact := h.shopify(euShop, "wh-1", "customers/redact", []byte(redactBody))
	if resp := h.serveFanout(redact); resp.StatusCode != 200 {
		t.Fatalf("edge: %d %s", resp.StatusCode, resp.Body)
	}
	// The provider's retry of the same delivery files nothing more.
	if resp := h.serveFanout(redact); resp.StatusCode != 200 {
		t.Fatalf("edge, retry: %d %s", resp.StatusCode, resp.Body)
	}
	// A Zendesk user deletion of the US help desk: one erasure in us.
	zd := h.signed("zendesk", usHelp, "inv-1", "", []byte(`{"type":"zen:event-type:user.deleted","detail":{"id":"8001"},"subject":"zen:user:8001"}`),
		secretOf("zendesk", usHelp))
	if resp := h.serveFanout(zd); resp.StatusCode != 200 {
		t.Fatalf("edge, zendesk: %d %s", resp.StatusCode, resp.Body)
	}

	got := eu.filed()
	if len(got) != 1 || got[0].SubjectID != "shopify:eu-shop.myshopify.com:customer:191167" || got[0].Source != "webhook:shopify" || got[0].TenantID != euShop {
		t.Errorf("eu filed %+v", got)
	}
	got = us.filed()
	if len(got) != 1 || got[0].SubjectID != "zendesk:us-help:user:8001" || got[0].Source != "webhook:zendesk" {
		t.Errorf("us filed %+v", got)
	}
}

// A delivery held in quarantine for longer than the replay window is
// released to its home region by the receiver's release route and filed.
func TestQuarantineReleaseReachesTheReceiver(t *testing.T) {
	h := newHarness(t)
	eu := asReceiver(t, h, h.eu, euShop, euHelp, "new-help")
	asReceiver(t, h, h.us, usShop, usHelp)
	h.secrets["zendesk/new-help"] = secretOf("zendesk", "new-help")

	ev := h.signed("zendesk", "new-help", "inv-9", "", []byte(`{"type":"zen:event-type:user.deleted","detail":{"id":"9"}}`),
		secretOf("zendesk", "new-help"))
	if resp := h.serveFanout(ev); resp.StatusCode != 202 {
		t.Fatalf("edge: %d %s", resp.StatusCode, resp.Body)
	}
	if len(eu.filed()) != 0 {
		t.Fatal("a quarantined delivery reached the region")
	}
	h.clock.Advance(6 * time.Hour) // far past the 300 s replay window, within the 72 h quarantine
	if resp := h.apiCall("PUT", "/tenants/new-help", `{"region":"eu"}`); resp.StatusCode != 201 {
		t.Fatal(resp.Body)
	}
	id := QuarantineID(DeliveryKey("zendesk", "new-help", "inv-9"))
	if resp := h.apiCall("POST", "/quarantine/"+id+"/release", ""); resp.StatusCode != 200 {
		t.Fatalf("release: %d %s", resp.StatusCode, resp.Body)
	}
	if got := eu.filed(); len(got) != 1 || got[0].SubjectID != "zendesk:new-help:user:9" {
		t.Errorf("eu filed %+v", got)
	}
}
