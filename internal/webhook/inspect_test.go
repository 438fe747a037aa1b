package webhook

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Real-shaped payloads: Shopify's mandatory compliance webhooks
// (shopify.dev, "Privacy law compliance"), Zendesk's user.deleted event
// (developer.zendesk.com, "User events"), Lethe's generic erasure.
const (
	shopifyCustomersRedact = `{
  "shop_id": 954889,
  "shop_domain": "eu-shop.myshopify.com",
  "customer": {"id": 191167, "email": "john@example.com", "phone": "555-625-1199"},
  "orders_to_redact": [299938, 280263, 220458]
}`
	shopifyCustomersRedactEmailOnly = `{"shop_id": 954889, "shop_domain": "eu-shop.myshopify.com", "customer": {"email": "john@example.com"}, "orders_to_redact": []}`
	shopifyShopRedact               = `{"shop_id": 954889, "shop_domain": "eu-shop.myshopify.com"}`
	shopifyDataRequest              = `{"shop_id": 954889, "shop_domain": "eu-shop.myshopify.com", "orders_requested": [299938], "customer": {"id": 191167, "email": "john@example.com", "phone": "555-625-1199"}, "data_request": {"id": 9999}}`
	zendeskUserDeleted              = `{
  "account_id": 22129848,
  "detail": {
    "created_at": "2026-10-23T23:16:06Z",
    "default_group_id": null,
    "email": "jane.doe@example.com",
    "external_id": null,
    "id": "9873843",
    "organization_id": null,
    "role": "end-user",
    "updated_at": "2026-11-02T09:15:10Z"
  },
  "event": {},
  "id": "5f6dc6d0-3c8e-4f8b-9b1a-8d7e8c6a1e2f",
  "subject": "zen:user:9873843",
  "time": "2026-11-02T09:15:10.000000000Z",
  "type": "zen:event-type:user.deleted",
  "zendesk_event_version": "2022-11-06"
}`
	zendeskUserCreated = `{"account_id": 22129848, "detail": {"id": "9873843", "email": "jane.doe@example.com"}, "event": {}, "id": "c0a8", "subject": "zen:user:9873843", "time": "2026-11-02T09:15:10Z", "type": "zen:event-type:user.created", "zendesk_event_version": "2022-11-06"}`
)

func shopifyHeaders(shop, topic, id string) http.Header {
	h := hdr(HeaderShopifyShop, shop, HeaderShopifyTopic, topic,
		"X-Shopify-Api-Version", "2026-10", "X-Shopify-Triggered-At", "2026-11-02T09:15:10.123Z")
	if id != "" {
		h.Set(HeaderShopifyWebhookID, id)
	}
	return h
}

func TestInspect(t *testing.T) {
	hashOf := func(body string) string { d, _, _ := deliveryID(http.Header{}, "none", []byte(body)); return d }
	for _, tc := range []struct {
		name     string
		provider string
		h        http.Header
		query    url.Values
		body     string
		want     Delivery
		field    string // the field of the *InvalidDelivery, "" = none
		reason   error
	}{
		{name: "shopify/customers-redact", provider: Shopify,
			h: shopifyHeaders("eu-shop.myshopify.com", "customers/redact", "b54557e4-8a5f-4f7d-9c3d-70bcd043aa11"), body: shopifyCustomersRedact,
			want: Delivery{Provider: Shopify, Tenant: "eu-shop.myshopify.com", ID: "b54557e4-8a5f-4f7d-9c3d-70bcd043aa11", Topic: "customers/redact"}},
		{name: "shopify/no-webhook-id-hashes-body", provider: Shopify,
			h: shopifyHeaders("eu-shop.myshopify.com", "app/uninstalled", ""), body: "{}",
			want: Delivery{Provider: Shopify, Tenant: "eu-shop.myshopify.com", ID: hashOf("{}"), IDFromBody: true, Topic: "app/uninstalled"}},
		{name: "shopify/three-part-topic", provider: Shopify,
			h: shopifyHeaders("eu-shop.myshopify.com", "orders/risk_assessment/changed", "1"), body: "{}",
			want: Delivery{Provider: Shopify, Tenant: "eu-shop.myshopify.com", ID: "1", Topic: "orders/risk_assessment/changed"}},
		{name: "shopify/missing-shop", provider: Shopify, h: hdr(HeaderShopifyTopic, "customers/redact"), field: HeaderShopifyShop, reason: ErrMissing},
		{name: "shopify/upper-case-shop", provider: Shopify, h: shopifyHeaders("EU-Shop.myshopify.com", "customers/redact", "1"), field: HeaderShopifyShop, reason: ErrMalformed},
		{name: "shopify/shop-with-slash", provider: Shopify, h: shopifyHeaders("eu-shop.myshopify.com/../x", "customers/redact", "1"), field: HeaderShopifyShop, reason: ErrMalformed},
		{name: "shopify/shop-twice", provider: Shopify, h: hdr(HeaderShopifyShop, "a.myshopify.com", HeaderShopifyShop, "b.myshopify.com", HeaderShopifyTopic, "customers/redact"), field: HeaderShopifyShop, reason: ErrRepeated},
		{name: "shopify/missing-topic", provider: Shopify, h: hdr(HeaderShopifyShop, "eu-shop.myshopify.com"), field: HeaderShopifyTopic, reason: ErrMissing},
		{name: "shopify/bad-topic", provider: Shopify, h: shopifyHeaders("eu-shop.myshopify.com", "CUSTOMERS_REDACT", "1"), field: HeaderShopifyTopic, reason: ErrMalformed},
		{name: "shopify/bad-webhook-id", provider: Shopify, h: shopifyHeaders("eu-shop.myshopify.com", "customers/redact", "id with spaces"), field: HeaderShopifyWebhookID, reason: ErrMalformed},
		{name: "shopify/webhook-id-too-long", provider: Shopify, h: shopifyHeaders("eu-shop.myshopify.com", "customers/redact", strings.Repeat("a", 129)), field: HeaderShopifyWebhookID, reason: ErrMalformed},

		{name: "zendesk/user-deleted", provider: Zendesk,
			h:     hdr(HeaderZendeskInvocationID, "8350205582", HeaderZendeskWebhookID, "01F1KRFQ6BG29CNWFR60NK5FNY", HeaderZendeskAccountID, "22129848"),
			query: url.Values{"tenant": {"eu-help"}}, body: zendeskUserDeleted,
			want: Delivery{Provider: Zendesk, Tenant: "eu-help", ID: "8350205582", Topic: "user.deleted"}},
		{name: "zendesk/slash-separated-type", provider: Zendesk,
			h: hdr(HeaderZendeskInvocationID, "1"), query: url.Values{"tenant": {"eu-help"}}, body: `{"type":"zen:event-type/user.merged"}`,
			want: Delivery{Provider: Zendesk, Tenant: "eu-help", ID: "1", Topic: "user.merged"}},
		{name: "zendesk/trigger-json", provider: Zendesk,
			h: hdr(HeaderZendeskInvocationID, "2"), query: url.Values{"tenant": {"eu-help"}}, body: `{"ticket_id": "123"}`,
			want: Delivery{Provider: Zendesk, Tenant: "eu-help", ID: "2", Topic: "trigger"}},
		{name: "zendesk/trigger-form", provider: Zendesk,
			h: hdr(HeaderZendeskInvocationID, "3"), query: url.Values{"tenant": {"eu-help"}}, body: "ticket_id=123&status=open",
			want: Delivery{Provider: Zendesk, Tenant: "eu-help", ID: "3", Topic: "trigger"}},
		{name: "zendesk/no-invocation-id", provider: Zendesk,
			query: url.Values{"tenant": {"eu-help"}}, body: zendeskUserDeleted,
			want: Delivery{Provider: Zendesk, Tenant: "eu-help", ID: hashOf(zendeskUserDeleted), IDFromBody: true, Topic: "user.deleted"}},
		{name: "zendesk/no-tenant", provider: Zendesk, h: hdr(HeaderZendeskInvocationID, "1"), body: zendeskUserDeleted, field: "tenant", reason: ErrMissing},
		{name: "zendesk/empty-tenant", provider: Zendesk, query: url.Values{"tenant": {""}}, body: zendeskUserDeleted, field: "tenant", reason: ErrMissing},
		{name: "zendesk/tenant-twice", provider: Zendesk, query: url.Values{"tenant": {"eu-help", "us-help"}}, body: zendeskUserDeleted, field: "tenant", reason: ErrRepeated},
		{name: "zendesk/bad-tenant", provider: Zendesk, query: url.Values{"tenant": {"eu_help!"}}, body: zendeskUserDeleted, field: "tenant", reason: ErrMalformed},
		// A trigger's payload is the Zendesk admin's own JSON, and a ticket's
		// type ({{ticket.ticket_type}}: question, incident, ...) is a
		// common field of it: only a type that claims to be an event type
		// makes the body an event.
		{name: "zendesk/trigger-with-ticket-type", provider: Zendesk,
			h: hdr(HeaderZendeskInvocationID, "4"), query: url.Values{"tenant": {"eu-help"}}, body: `{"ticket_id": "123", "type": "incident"}`,
			want: Delivery{Provider: Zendesk, Tenant: "eu-help", ID: "4", Topic: "trigger"}},
		{name: "zendesk/trigger-with-numeric-type", provider: Zendesk,
			h: hdr(HeaderZendeskInvocationID, "5"), query: url.Values{"tenant": {"eu-help"}}, body: `{"type": 7}`,
			want: Delivery{Provider: Zendesk, Tenant: "eu-help", ID: "5", Topic: "trigger"}},
		{name: "zendesk/trigger-with-unprefixed-type", provider: Zendesk,
			h: hdr(HeaderZendeskInvocationID, "6"), query: url.Values{"tenant": {"eu-help"}}, body: `{"type": "user.deleted"}`,
			want: Delivery{Provider: Zendesk, Tenant: "eu-help", ID: "6", Topic: "trigger"}},
		{name: "zendesk/event-type-malformed", provider: Zendesk, query: url.Values{"tenant": {"eu-help"}}, body: `{"type": "zen:event-type:User Deleted"}`, field: "type", reason: ErrMalformed},

		{name: "generic/erasure", provider: Generic,
			h:    hdr(HeaderLetheTenant, "acme", HeaderLetheTopic, "erasure.requested", HeaderLetheDeliveryID, "dlv_01J9"),
			body: genericBody,
			want: Delivery{Provider: Generic, Tenant: "acme", ID: "dlv_01J9", Topic: "erasure.requested"}},
		{name: "generic/missing-tenant", provider: Generic, h: hdr(HeaderLetheTopic, "x"), field: HeaderLetheTenant, reason: ErrMissing},
		{name: "generic/missing-topic", provider: Generic, h: hdr(HeaderLetheTenant, "acme"), field: HeaderLetheTopic, reason: ErrMissing},
		{name: "generic/bad-topic", provider: Generic, h: hdr(HeaderLetheTenant, "acme", HeaderLetheTopic, "Erasure Requested"), field: HeaderLetheTopic, reason: ErrMalformed},
		{name: "generic/tenant-with-colon", provider: Generic, h: hdr(HeaderLetheTenant, "acme:eu", HeaderLetheTopic, "x"), field: HeaderLetheTenant, reason: ErrMalformed},
		{name: "generic/tenant-too-long", provider: Generic, h: hdr(HeaderLetheTenant, strings.Repeat("a", 129), HeaderLetheTopic, "x"), field: HeaderLetheTenant, reason: ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := Lookup(tc.provider)
			got, err := p.Inspect(tc.h, tc.query, []byte(tc.body))
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Inspect = %v", err)
				}
				if got != tc.want {
					t.Errorf("Inspect = %+v, want %+v", got, tc.want)
				}
				return
			}
			var inv *InvalidDelivery
			if !errors.As(err, &inv) || inv.Field != tc.field || !errors.Is(err, tc.reason) {
				t.Fatalf("Inspect = %v (%T), want *InvalidDelivery on %s, %v", err, err, tc.field, tc.reason)
			}
			if strings.Contains(err.Error(), "example.com") {
				t.Errorf("error quotes the body: %v", err)
			}
		})
	}
}

func TestErasure(t *testing.T) {
	shop := Delivery{Provider: Shopify, Tenant: "eu-shop.myshopify.com", ID: "w1"}
	zd := Delivery{Provider: Zendesk, Tenant: "eu-help", ID: "8350205582", Topic: "user.deleted"}
	gen := Delivery{Provider: Generic, Tenant: "acme", ID: "d1", Topic: "erasure.requested"}
	with := func(d Delivery, topic string) Delivery { d.Topic = topic; return d }
	for _, tc := range []struct {
		name    string
		d       Delivery
		body    string
		subject string // "" = not an erasure
		field   string // *InvalidDelivery's field
	}{
		{"shopify/customers-redact", with(shop, "customers/redact"), shopifyCustomersRedact, "shopify:eu-shop.myshopify.com:customer:191167", ""},
		{"shopify/customers-redact-id-as-string", with(shop, "customers/redact"), `{"shop_domain":"eu-shop.myshopify.com","customer":{"id":"191167"}}`, "shopify:eu-shop.myshopify.com:customer:191167", ""},
		{"shopify/customers-redact-email-only", with(shop, "customers/redact"), shopifyCustomersRedactEmailOnly, "shopify:eu-shop.myshopify.com:email:john@example.com", ""},
		{"shopify/customers-redact-null-id", with(shop, "customers/redact"), `{"shop_domain":"eu-shop.myshopify.com","customer":{"id":null,"email":"john@example.com"}}`, "shopify:eu-shop.myshopify.com:email:john@example.com", ""},
		{"shopify/shop-redact", with(shop, "shop/redact"), shopifyShopRedact, "shopify:eu-shop.myshopify.com:shop", ""},
		{"shopify/data-request-is-not-erasure", with(shop, "customers/data_request"), shopifyDataRequest, "", ""},
		{"shopify/orders-create-is-not-erasure", with(shop, "orders/create"), "not even json", "", ""},
		{"shopify/other-shop-in-body", with(shop, "customers/redact"), strings.Replace(shopifyCustomersRedact, "eu-shop", "us-shop", 1), "", "shop_domain"},
		{"shopify/no-shop-domain", with(shop, "shop/redact"), `{"shop_id": 954889}`, "", "shop_domain"},
		{"shopify/no-customer", with(shop, "customers/redact"), shopifyShopRedact, "", "customer"},
		{"shopify/customer-not-object", with(shop, "customers/redact"), `{"shop_domain":"eu-shop.myshopify.com","customer":"john"}`, "", "customer"},
		{"shopify/customer-empty", with(shop, "customers/redact"), `{"shop_domain":"eu-shop.myshopify.com","customer":{}}`, "", "customer.id"},
		{"shopify/customer-id-fraction", with(shop, "customers/redact"), `{"shop_domain":"eu-shop.myshopify.com","customer":{"id":1.5}}`, "", "customer.id"},
		{"shopify/customer-id-negative", with(shop, "customers/redact"), `{"shop_domain":"eu-shop.myshopify.com","customer":{"id":-1}}`, "", "customer.id"},
		{"shopify/email-with-newline", with(shop, "customers/redact"), `{"shop_domain":"eu-shop.myshopify.com","customer":{"email":"a@b.c\n"}}`, "", "customer.email"},
		{"shopify/not-json", with(shop, "customers/redact"), `shop_domain=eu-shop.myshopify.com`, "", "body"},
		{"shopify/array", with(shop, "customers/redact"), `[]`, "", "body"},
		{"shopify/two-objects", with(shop, "shop/redact"), shopifyShopRedact + shopifyShopRedact, "", "body"},
		{"shopify/invalid-utf8", with(shop, "shop/redact"), "{\"shop_domain\":\"eu-shop.myshopify.com\",\"x\":\"\xff\"}", "", "body"},
		{"shopify/key-case-matters", with(shop, "shop/redact"), `{"Shop_Domain":"eu-shop.myshopify.com"}`, "", "shop_domain"},

		{"zendesk/user-deleted", zd, zendeskUserDeleted, "zendesk:eu-help:user:9873843", ""},
		{"zendesk/user-deleted-subject-only", zd, `{"type":"zen:event-type:user.deleted","subject":"zen:user:42"}`, "zendesk:eu-help:user:42", ""},
		{"zendesk/user-deleted-numeric-id", zd, `{"detail":{"id":42}}`, "zendesk:eu-help:user:42", ""},
		{"zendesk/user-created-is-not-erasure", with(zd, "user.created"), zendeskUserCreated, "", ""},
		{"zendesk/trigger-is-not-erasure", with(zd, "trigger"), "x=1", "", ""},
		{"zendesk/no-user", zd, `{"type":"zen:event-type:user.deleted"}`, "", "detail.id"},
		{"zendesk/bad-detail-id", zd, `{"detail":{"id":"abc"}}`, "", "detail.id"},
		{"zendesk/bad-subject", zd, `{"subject":"zen:ticket:42"}`, "", "subject"},

		{"generic/erasure", gen, genericBody, "user-42@example.com", ""},
		{"generic/extra-fields-ignored", gen, `{"subjectId":"u-1","reason":"customer asked"}`, "u-1", ""},
		{"generic/other-topic", with(gen, "invoice.paid"), `{"subjectId":"u-1"}`, "", ""},
		{"generic/missing-subject", gen, `{}`, "", "subjectId"},
		{"generic/empty-subject", gen, `{"subjectId":""}`, "", "subjectId"},
		{"generic/subject-not-string", gen, `{"subjectId":42}`, "", "subjectId"},
		{"generic/subject-lone-surrogate", gen, `{"subjectId":"lone\ud800surrogate"}`, "", "subjectId"},
		{"shopify/email-lone-surrogate", with(shop, "customers/redact"), `{"shop_domain":"eu-shop.myshopify.com","customer":{"email":"a\udc00@b.c"}}`, "", "customer.email"},
		{"generic/subject-padded", gen, `{"subjectId":" u-1"}`, "", "subjectId"},
		{"generic/subject-too-long", gen, `{"subjectId":"` + strings.Repeat("x", 257) + `"}`, "", "subjectId"},
		{"generic/subject-case-matters", gen, `{"SubjectId":"u-1"}`, "", "subjectId"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := Lookup(tc.d.Provider)
			got, ok, err := p.Erasure(tc.d, []byte(tc.body))
			if tc.field != "" {
				var inv *InvalidDelivery
				if !errors.As(err, &inv) || inv.Field != tc.field {
					t.Fatalf("Erasure = %q, %v, %v; want *InvalidDelivery on %s", got, ok, err, tc.field)
				}
				if ok || got != "" {
					t.Errorf("Erasure failed but returned %q, %v", got, ok)
				}
				for _, leak := range []string{"john", "jane", "191167", "example.com"} {
					if strings.Contains(err.Error(), leak) {
						t.Errorf("error quotes the body (%s): %v", leak, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Erasure = %v", err)
			}
			if ok != (tc.subject != "") || got != tc.subject {
				t.Errorf("Erasure = %q, %v; want %q", got, ok, tc.subject)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	for _, name := range []string{Shopify, Zendesk, Generic} {
		p, err := Lookup(name)
		if err != nil || p.Name() != name {
			t.Errorf("Lookup(%s) = %v, %v", name, p, err)
		}
		if len(p.ForwardHeaders()) == 0 {
			t.Errorf("%s forwards no headers", name)
		}
	}
	for _, name := range []string{"", "freshdesk", "Shopify", "shopify ", "<script>", "a/b"} {
		_, err := Lookup(name)
		var up *UnknownProvider
		if !errors.As(err, &up) {
			t.Errorf("Lookup(%q) = %v, want *UnknownProvider", name, err)
			continue
		}
		if !strings.Contains(err.Error(), "generic, shopify, zendesk") {
			t.Errorf("error does not list the providers: %v", err)
		}
		if name != "" && !safeNameRE.MatchString(name) && strings.Contains(err.Error(), name) {
			t.Errorf("error echoes an unsafe name: %v", err)
		}
	}
	if got := strings.Join(Names(), ","); got != "generic,shopify,zendesk" {
		t.Errorf("Names = %s", got)
	}
}

func TestValidTenant(t *testing.T) {
	for key, want := range map[string]bool{
		"eu-shop.myshopify.com": true, "eu-help": true, "acme": true, "t_1": true, "a": true, "0": true,
		strings.Repeat("a", 128): true, strings.Repeat("a", 129): false,
		"": false, "-a": false, "a-": false, ".a": false, "a.": false, "A": false, "a b": false,
		"a/b": false, "a:b": false, "ä": false, "a\n": false, "café.example": false,
	} {
		if got := ValidTenant(key); got != want {
			t.Errorf("ValidTenant(%q) = %v, want %v", key, got, want)
		}
		err := ValidateTenant("tenant", key)
		if (err == nil) != want {
			t.Errorf("ValidateTenant(%q) = %v", key, err)
		}
	}
}

func TestDeliveryKeys(t *testing.T) {
	d := Delivery{Provider: Generic, Tenant: "acme", ID: "1", Topic: "erasure.requested"}
	if d.TopicKey() != "generic/erasure.requested" || d.IdempotencyKey() != "generic:acme:1" {
		t.Errorf("TopicKey %s, IdempotencyKey %s", d.TopicKey(), d.IdempotencyKey())
	}
	// Two tenants whose senders chose the same delivery id file apart.
	other := d
	other.Tenant = "globex"
	if other.IdempotencyKey() == d.IdempotencyKey() {
		t.Errorf("tenants %s and %s share the idempotency key %s", d.Tenant, other.Tenant, d.IdempotencyKey())
	}
}

func TestCheckMulticast(t *testing.T) {
	if err := CheckMulticast([]string{"shopify/app/uninstalled", "generic/ping"}); err != nil {
		t.Errorf("topics without personal data refused: %v", err)
	}
	for _, topic := range []string{"shopify/customers/redact", "shopify/shop/redact", "zendesk/user.deleted", "generic/erasure.requested"} {
		err := CheckMulticast([]string{"shopify/app/uninstalled", topic})
		if err == nil || !strings.Contains(err.Error(), "edge.multicastTopics[1]") {
			t.Errorf("CheckMulticast accepted the erasure topic %s (%v)", topic, err)
		}
	}
}
