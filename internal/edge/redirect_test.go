package edge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRedirect(t *testing.T) {
	h := newHarness(t)
	eu, us := h.eu.srv.URL, h.us.srv.URL
	tests := []struct {
		name     string
		method   string
		path     string
		query    string
		stage    string
		status   int
		location string
		code     string
	}{
		{name: "GET eu", method: "GET", path: "/t/eu-shop.myshopify.com/erasures/er_eu_1", status: 302, location: eu + "/erasures/er_eu_1"},
		{name: "HEAD eu", method: "HEAD", path: "/t/eu-shop.myshopify.com/erasures", status: 302, location: eu + "/erasures"},
		{name: "GET us with query", method: "GET", path: "/t/us-help/erasures", query: "limit=5&x=a%20b", status: 302, location: us + "/erasures?limit=5&x=a%20b"},
		{name: "POST is 307", method: "POST", path: "/t/eu-help/erasures", status: 307, location: eu + "/erasures"},
		{name: "DELETE is 307", method: "DELETE", path: "/t/us-shop.myshopify.com/api/user/u%2F1", status: 307, location: us + "/api/user/u%2F1"},
		{name: "no path", method: "GET", path: "/t/eu-help", status: 302, location: eu + "/"},
		{name: "trailing slash", method: "GET", path: "/t/eu-help/", status: 302, location: eu + "/"},
		{name: "escapes kept clean", method: "GET", path: "/t/eu-help/a%20b/%E2%82%AC", status: 302, location: eu + "/a%20b/%E2%82%AC"},
		{name: "named stage stripped", method: "GET", path: "/prod/t/eu-help/erasures", stage: "prod", status: 302, location: eu + "/erasures"},
		{name: "unknown tenant", method: "GET", path: "/t/nobody.myshopify.com/erasures", status: 404, code: CodeUnknownTenant},
		{name: "region without apiUrl", method: "GET", path: "/t/ap-shop.myshopify.com/erasures", status: 503, code: CodeRegionNotDeployed},
		{name: "bad tenant", method: "GET", path: "/t/EU_SHOP!/erasures", status: 400, code: CodeInvalidTenant},
		{name: "dot dot", method: "GET", path: "/t/eu-help/../../admin", status: 400, code: CodeInvalidPath},
		{name: "encoded dot dot", method: "GET", path: "/t/eu-help/%2e%2e/admin", status: 400, code: CodeInvalidPath},
		{name: "bad escape", method: "GET", path: "/t/eu-help/%zz", status: 400, code: CodeInvalidPath},
		{name: "query with a fragment", method: "GET", path: "/t/eu-help/x", query: "a=1#frag", status: 400, code: CodeInvalidQueryParam},
		{name: "empty tenant", method: "GET", path: "/t//x", status: 404, code: CodeRouteNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := h.httpEvent(tc.method, tc.path, tc.query, nil, nil)
			if tc.stage != "" {
				ev.RequestContext.Stage = tc.stage
			}
			resp := h.serveFanout(ev)
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d: %s", resp.StatusCode, tc.status, resp.Body)
			}
			if got := resp.Headers["Location"]; got != tc.location {
				t.Errorf("Location = %q, want %q", got, tc.location)
			}
			if tc.code != "" {
				if e := errorOf(t, resp); e.Code != tc.code {
					t.Errorf("code = %s, want %s", e.Code, tc.code)
				}
			}
			if tc.method == http.MethodHead && resp.Body != "" {
				t.Errorf("HEAD answer has a body: %q", resp.Body)
			}
		})
	}
	if len(h.eu.requests())+len(h.us.requests()) != 0 {
		t.Error("a redirect called a region")
	}
}

func TestFanoutFaults(t *testing.T) {
	t.Run("registered tenant without an edge secret", func(t *testing.T) {
		h := newHarness(t)
		delete(h.secrets, "shopify/"+euShop)
		resp := h.serveFanout(h.shopify(euShop, "f-1", "customers/redact", []byte(redactBody)))
		if resp.StatusCode != 503 || errorOf(t, resp).Code != CodeSecretMissing || resp.Headers["Retry-After"] == "" {
			t.Fatalf("%d %s", resp.StatusCode, resp.Body)
		}
		if diff := cmp.Diff([]string{AlertSecretMissing}, h.alerts.kinds()); diff != "" {
			t.Error(diff)
		}
		if _, claimed := h.store.receipt(DeliveryKey("shopify", euShop, "f-1")); claimed || len(h.eu.requests()) != 0 {
			t.Error("an unverified delivery of a registered tenant went on")
		}
		// Alerted once an hour, not per delivery.
		h.serveFanout(h.shopify(euShop, "f-2", "customers/redact", []byte(redactBody)))
		h.clock.Advance(time.Hour)
		h.serveFanout(h.shopify(euShop, "f-3", "customers/redact", []byte(redactBody)))
		if diff := cmp.Diff([]string{AlertSecretMissing, AlertSecretMissing}, h.alerts.kinds()); diff != "" {
			t.Errorf("alerts over two hours (-want +got):\n%s", diff)
		}
	})
	t.Run("home region not deployed", func(t *testing.T) {
		h := newHarness(t)
		resp := h.serveFanout(h.shopify(apShop, "f-2", "customers/redact", []byte(redactBody)))
		if resp.StatusCode != 503 || errorOf(t, resp).Code != CodeRegionNotDeployed {
			t.Fatalf("%d %s", resp.StatusCode, resp.Body)
		}
		if diff := cmp.Diff([]string{AlertRegionNotDeployed}, h.alerts.kinds()); diff != "" {
			t.Error(diff)
		}
		if h.store.callsOf("Claim") != 0 || len(h.eu.requests())+len(h.us.requests()) != 0 {
			t.Error("a delivery for an undeployed region was claimed or sent elsewhere")
		}
	})
	t.Run("tables unavailable", func(t *testing.T) {
		h := newHarness(t)
		h.store.fail = errThrottled
		resp := h.serveFanout(h.shopify(euShop, "f-3", "customers/redact", []byte(redactBody)))
		if resp.StatusCode != 503 || errorOf(t, resp).Code != CodeUnavailable || strings.Contains(resp.Body, "Throttling") {
			t.Fatalf("%d %s", resp.StatusCode, resp.Body)
		}
		if len(h.eu.requests()) != 0 {
			t.Error("forwarded without a claim")
		}
	})
	t.Run("secrets unavailable", func(t *testing.T) {
		h := newHarness(t)
		h.fan.secrets = failingSecrets{}
		resp := h.serveFanout(h.shopify(euShop, "f-4", "customers/redact", []byte(redactBody)))
		if resp.StatusCode != 503 || errorOf(t, resp).Code != CodeUnavailable {
			t.Fatalf("%d %s", resp.StatusCode, resp.Body)
		}
	})
	t.Run("quarantine unavailable releases the claim", func(t *testing.T) {
		h := newHarness(t)
		h.secrets["shopify/"+newShop] = "x"
		h.store.holdFails = errThrottled
		resp := h.serveFanout(h.signed("shopify", newShop, "f-5", "customers/redact", []byte(redactBody), "x"))
		if resp.StatusCode != 503 {
			t.Fatalf("%d %s", resp.StatusCode, resp.Body)
		}
		r, _ := h.store.receipt(DeliveryKey("shopify", newShop, "f-5"))
		if r.State != StateReleased || r.Outcome != OutcomeNotHeld {
			t.Errorf("receipt = %+v", r)
		}
		h.store.holdFails = nil
		if resp := h.serveFanout(h.signed("shopify", newShop, "f-5", "customers/redact", []byte(redactBody), "x")); resp.StatusCode != 202 {
			t.Errorf("retry: %d %s", resp.StatusCode, resp.Body)
		}
	})
	t.Run("unknown tenant with an edge secret is verified", func(t *testing.T) {
		h := newHarness(t)
		h.secrets["shopify/"+newShop] = "known"
		if resp := h.serveFanout(h.signed("shopify", newShop, "f-6", "customers/redact", []byte(redactBody), "known")); resp.StatusCode != 202 {
			t.Fatalf("%d %s", resp.StatusCode, resp.Body)
		}
		held, err := h.store.Held(t.Context(), QuarantineID(DeliveryKey("shopify", newShop, "f-6")))
		if err != nil || !held.Verified {
			t.Errorf("held = %+v, %v; want verified", held, err)
		}
	})
	t.Run("unverifiable deliveries are counted and alerted once an hour per tenant", func(t *testing.T) {
		h := newHarness(t)
		for i, at := range []time.Duration{0, time.Minute, 58 * time.Minute, time.Hour} {
			h.clock.Advance(at)
			resp := h.serveFanout(h.signed("shopify", newShop, fmt.Sprintf("u-%d", i), "customers/redact", []byte(redactBody), "forged"))
			if resp.StatusCode != 401 || errorOf(t, resp).Code != CodeSignatureUnverifiable {
				t.Fatalf("delivery %d: %d %s", i, resp.StatusCode, resp.Body)
			}
		}
		if diff := cmp.Diff([]string{AlertUnverified, AlertUnverified}, h.alerts.kinds()); diff != "" {
			t.Errorf("alerts over two hours (-want +got):\n%s", diff)
		}
		if h.store.heldCount() != 0 || len(h.eu.requests())+len(h.us.requests()) != 0 {
			t.Error("an unverifiable delivery was held or forwarded")
		}
		if n := strings.Count(h.logs.String(), `"UnverifiedWebhooks":1`); n != 4 || !strings.Contains(h.logs.String(), `"Namespace":"Lethe"`) {
			t.Errorf("%d metric records of 4 refused deliveries:\n%s", n, h.logs.String())
		}
		if strings.Contains(h.logs.String(), newShop) {
			t.Error("the log names the tenant")
		}
	})
	t.Run("a failed alert does not fail the delivery", func(t *testing.T) {
		h := newHarness(t)
		h.secrets["shopify/"+newShop] = "x"
		h.alerts.fail = errors.New("SNS down")
		if resp := h.serveFanout(h.signed("shopify", newShop, "f-7", "customers/redact", []byte(redactBody), "x")); resp.StatusCode != 202 {
			t.Fatalf("%d %s", resp.StatusCode, resp.Body)
		}
		if !strings.Contains(h.logs.String(), "ops alert not published") {
			t.Error("the failed alert was not logged")
		}
	})
}

type failingSecrets struct{}

func (failingSecrets) WebhookSecret(context.Context, string, string) ([]byte, error) {
	return nil, errors.New("AccessDeniedException")
}
