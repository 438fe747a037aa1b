package webhook

import (
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// FuzzVerify: any header value, body and secret give nil or a
// *SignatureError, never a panic; and a forged signature never verifies.
func FuzzVerify(f *testing.F) {
	f.Add("shopify", shopifyVector, "", shopifyBody, "shpss_local_demo_secret")
	f.Add("zendesk", zendeskVector, "2026-11-02T09:15:12Z", zendeskBody, "zendesk-secret")
	f.Add("generic", "t=1793610912,v1="+genericVector, "", genericBody, "lethe-generic-secret")
	f.Add("generic", "t=,v1=,v1", "", "", "")
	f.Add("zendesk", "====", "9999-99-99T99:99:99Z", "{", "k")
	// Found by this fuzzer: a line break inside a base64 signature verified.
	f.Add("shopify", shopifyVector[:20]+"\n"+shopifyVector[20:], "", shopifyBody, "shpss_local_demo_secret")
	f.Fuzz(func(t *testing.T, provider, sig, ts, body, secret string) {
		p, err := Lookup(provider)
		if err != nil {
			return
		}
		h := http.Header{}
		for _, name := range []string{HeaderShopifyHmac, HeaderZendeskSignature, HeaderLetheSignature} {
			h.Set(name, sig)
		}
		h.Set(HeaderZendeskTimestamp, ts)
		err = p.Verify(h, []byte(body), []byte(secret), now, 0)
		var se *SignatureError
		if err != nil && !errors.As(err, &se) {
			t.Fatalf("Verify = %v (%T), want nil or *SignatureError", err, err)
		}
		if err == nil {
			// It verified: it must be the genuine signature.
			good := http.Header{}
			signedAt := now
			if provider == Zendesk {
				signedAt, _ = time.Parse(time.RFC3339, ts)
			}
			p.Sign(good, []byte(body), []byte(secret), signedAt)
			if provider != Generic && good.Get(p.ForwardHeaders()[0]) != sig {
				t.Fatalf("%s verified signature %q, genuine is %q", provider, sig, good.Get(p.ForwardHeaders()[0]))
			}
		}
	})
}

// FuzzInspect: any headers, query and body give a delivery with a valid
// tenant and a delivery id, or an *InvalidDelivery; Erasure on the result
// gives a valid subject or an *InvalidDelivery. Never a panic.
func FuzzInspect(f *testing.F) {
	f.Add("shopify", "eu-shop.myshopify.com", "customers/redact", "id-1", shopifyCustomersRedact)
	f.Add("shopify", "eu-shop.myshopify.com", "shop/redact", "", shopifyShopRedact)
	f.Add("zendesk", "eu-help", "", "8350205582", zendeskUserDeleted)
	f.Add("generic", "acme", "erasure.requested", "d1", genericBody)
	f.Add("generic", "acme", "erasure.requested", "d1", `{"subjectId":"\u0000"}`)
	f.Fuzz(func(t *testing.T, provider, tenant, topic, id, body string) {
		p, err := Lookup(provider)
		if err != nil {
			return
		}
		h := http.Header{}
		h.Set(HeaderShopifyShop, tenant)
		h.Set(HeaderLetheTenant, tenant)
		h.Set(HeaderShopifyTopic, topic)
		h.Set(HeaderLetheTopic, topic)
		for _, name := range []string{HeaderShopifyWebhookID, HeaderZendeskInvocationID, HeaderLetheDeliveryID} {
			h.Set(name, id)
		}
		d, err := p.Inspect(h, url.Values{QueryTenant: {tenant}}, []byte(body))
		var inv *InvalidDelivery
		if err != nil {
			if !errors.As(err, &inv) {
				t.Fatalf("Inspect = %v (%T)", err, err)
			}
			return
		}
		if !ValidTenant(d.Tenant) || d.ID == "" || d.Topic == "" || d.Provider != provider {
			t.Fatalf("Inspect = %+v", d)
		}
		subject, ok, err := p.Erasure(d, []byte(body))
		if err != nil && !errors.As(err, &inv) {
			t.Fatalf("Erasure = %v (%T)", err, err)
		}
		if ok && (err != nil || subject == "") {
			t.Fatalf("Erasure = %q, %v, %v", subject, ok, err)
		}
	})
}
