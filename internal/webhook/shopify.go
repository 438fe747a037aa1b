package webhook

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"time"
)

// Shopify's headers (shopify.dev/docs/apps/build/webhooks).
const (
	HeaderShopifyHmac      = "X-Shopify-Hmac-Sha256"
	HeaderShopifyShop      = "X-Shopify-Shop-Domain"
	HeaderShopifyWebhookID = "X-Shopify-Webhook-Id"
	HeaderShopifyTopic     = "X-Shopify-Topic"
)

// Shopify's mandatory compliance topics that are erasures.
const (
	TopicShopifyCustomersRedact = "customers/redact"
	TopicShopifyShopRedact      = "shop/redact"
)

var shopifyTopicRE = regexp.MustCompile(`^[a-z0-9_]{1,40}(?:/[a-z0-9_]{1,40}){1,3}$`)

type shopify struct{}

func (shopify) Name() string { return Shopify }

func (shopify) ForwardHeaders() []string {
	return []string{HeaderShopifyHmac, HeaderShopifyShop, HeaderShopifyWebhookID, HeaderShopifyTopic}
}

func (shopify) ForwardQuery() []string { return nil }

func (shopify) Inspect(h http.Header, _ url.Values, body []byte) (Delivery, error) {
	d := Delivery{Provider: Shopify}
	shop, err := requiredHeader(h, HeaderShopifyShop)
	if err != nil {
		return Delivery{}, err
	}
	if d.Tenant, err = tenantFrom(HeaderShopifyShop, shop); err != nil {
		return Delivery{}, err
	}
	if d.Topic, err = requiredHeader(h, HeaderShopifyTopic); err != nil {
		return Delivery{}, err
	}
	if !shopifyTopicRE.MatchString(d.Topic) {
		return Delivery{}, &InvalidDelivery{Field: HeaderShopifyTopic, Err: ErrMalformed,
			Reason: "a Shopify topic is lower-case words joined by '/', e.g. customers/redact"}
	}
	if d.ID, d.IDFromBody, err = deliveryID(h, HeaderShopifyWebhookID, body); err != nil {
		return Delivery{}, err
	}
	return d, nil
}

func (shopify) Verify(h http.Header, body, secret []byte, _ time.Time, _ time.Duration) error {
	if len(secret) == 0 {
		return noSecret(HeaderShopifyHmac)
	}
	v, err := signatureHeader(h, HeaderShopifyHmac)
	if err != nil {
		return err
	}
	return checkBase64MAC(HeaderShopifyHmac, v, mac(secret, body))
}

func (shopify) Sign(h http.Header, body, secret []byte, _ time.Time) {
	h.Set(HeaderShopifyHmac, base64.StdEncoding.EncodeToString(mac(secret, body)))
}

// Erasure: customers/redact is one customer of the shop; shop/redact is
// the whole shop (see the package documentation for the subject ids).
// The body's shop_domain must be the header's: a body naming another shop
// than the one whose secret signed it is refused.
func (shopify) Erasure(d Delivery, body []byte) (string, bool, error) {
	if d.Topic != TopicShopifyCustomersRedact && d.Topic != TopicShopifyShopRedact {
		return "", false, nil
	}
	obj, err := object(body, "")
	if err != nil {
		return "", false, err
	}
	shop, err := stringField(obj, "", "shop_domain")
	if err != nil {
		return "", false, err
	}
	if shop != d.Tenant {
		return "", false, &InvalidDelivery{Field: "shop_domain", Err: ErrMalformed, Reason: "does not match " + HeaderShopifyShop}
	}
	if d.Topic == TopicShopifyShopRedact {
		return subject("shop_domain", "shopify:"+d.Tenant+":shop")
	}
	cust, err := objectField(obj, "", "customer")
	if err != nil {
		return "", false, err
	}
	if _, present := cust["id"]; present && string(cust["id"]) != "null" {
		id, err := idField(cust, "customer.", "id")
		if err != nil {
			return "", false, err
		}
		return subject("customer.id", "shopify:"+d.Tenant+":customer:"+id)
	}
	email, err := stringField(cust, "customer.", "email")
	var invalid *InvalidDelivery
	if errors.As(err, &invalid) && errors.Is(invalid.Err, ErrMissing) {
		return "", false, &InvalidDelivery{Field: "customer.id", Err: ErrMissing, Reason: "customer has neither id nor email"}
	}
	if err != nil {
		return "", false, err
	}
	return subject("customer.email", "shopify:"+d.Tenant+":email:"+email)
}
