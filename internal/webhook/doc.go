// Package webhook knows the integrations that post webhooks to Lethe:
// how each signs a delivery, where its tenant, delivery id and topic are
// read, and which of its topics are GDPR erasure requests. The edge's
// fan-out and each region's receiver both use it, so they read a delivery
// the same way; it knows nothing of AWS, of regions or of the tenant
// directory.
//
// # Use
//
//	p, err := webhook.Lookup(name)            // "shopify", "zendesk", "generic"; *UnknownProvider
//	d, err := p.Inspect(header, query, body)  // tenant, delivery id, topic: NOT trusted yet
//	secret := <the tenant's secret for p, d.Tenant>
//	err = p.Verify(header, body, secret, now, tolerance) // *SignatureError
//	subject, ok, err := p.Erasure(d, body)    // only after Verify
//
// Inspect comes first because the secret is per tenant; what it returns is
// not trusted until Verify passes with that tenant's secret. A request that
// names another tenant than the one that signed it fails Verify, because it
// is checked with the named tenant's secret. This is also why the tenant may
// come from an unsigned part of the request (Zendesk's query parameter).
//
// The edge forwards the body byte for byte, the headers of ForwardHeaders
// unchanged and the query parameters of ForwardQuery unchanged, so that the
// region's receiver can Inspect and Verify the same request again.
//
// # Providers
//
// shopify: X-Shopify-Hmac-Sha256 = base64(HMAC-SHA256(secret, body)); the
// tenant is X-Shopify-Shop-Domain, the delivery id X-Shopify-Webhook-Id,
// the topic X-Shopify-Topic (e.g. customers/redact). Shopify signs no
// timestamp, so there is no staleness check; replays are caught by the
// edge's de-duplication on the delivery id and, for erasures, by the
// idempotency key built from it.
//
// zendesk: X-Zendesk-Webhook-Signature = base64(HMAC-SHA256(secret,
// timestamp + body)) with the timestamp of
// X-Zendesk-Webhook-Signature-Timestamp (RFC 3339, e.g.
// 2021-03-25T05:09:27Z), per developer.zendesk.com/documentation/webhooks/verifying.
// A Zendesk webhook carries the numeric account id (x-zendesk-account-id)
// but not the subdomain Lethe keys tenants by, so the admin puts the
// subdomain in the webhook's endpoint URL: .../webhooks/zendesk?tenant=eu-help.
// The delivery id is X-Zendesk-Webhook-Invocation-Id (one per invocation,
// kept across Zendesk's retries); the topic is the event type of the body
// without its "zen:event-type:" prefix (user.deleted), or "trigger" for the
// admin-defined payloads of trigger and automation webhooks, which carry no
// event type (a "type" field of theirs that does not start with
// "zen:event-type" is the admin's own, e.g. a ticket's type).
//
// generic: for every other integration, a scheme in the style of Stripe's:
//
//	X-Lethe-Signature: t=<unix seconds>,v1=<hex(HMAC-SHA256(secret, t + "." + body))>
//
// (several v1= entries may be given, e.g. during a secret rotation; one
// match is enough), X-Lethe-Tenant names the tenant, X-Lethe-Topic the
// topic, X-Lethe-Delivery-Id the delivery.
//
// Timestamps (zendesk, generic) further than the tolerance from now, in
// either direction, are refused. The delivery id, when the provider sends
// none, is the hex SHA-256 of the body: the same bytes re-sent are the same
// delivery. Every comparison of a signature is constant-time (hmac.Equal).
// Errors name the header, query parameter or body field at fault and never
// quote a secret, a signature, a body or a value from it.
//
// # Tenant keys
//
// A tenant key is 1-128 lower-case letters, digits, dots, dashes and
// underscores, starting and ending with a letter or digit: a Shopify shop
// domain (eu-shop.myshopify.com), a Zendesk subdomain (eu-help), a
// Freshdesk domain or a Lethe tenant id. Keys are not lower-cased on the
// way in: the directory and the secret names
// (config.WebhookSecretName) use them as they are, so a key that is not
// already canonical is refused rather than silently mapped.
//
// # Erasures
//
// Erasure says whether a verified delivery is an erasure request and for
// which subject. Subject ids are scoped by provider and tenant, because
// the tenant (the merchant, the help desk) is the controller that asked:
// a redact from one Shopify shop must not erase what Lethe's subsystems
// hold for the same person on behalf of another shop, which an e-mail
// address alone would do. The stable provider id is preferred to the
// e-mail address, which the person may have changed since.
//
//	shopify customers/redact  shopify:<shop>:customer:<customer.id>
//	                          (shopify:<shop>:email:<customer.email> when the id is absent)
//	shopify shop/redact       shopify:<shop>:shop — the whole shop's data, 48 hours after
//	                          the app was uninstalled; filed as an erasure so it gets a
//	                          deadline, per-subsystem results and failure alerts
//	zendesk user.deleted      zendesk:<subdomain>:user:<detail.id>
//	generic erasure.requested {"subjectId": "..."} as given by the sender
//
// Every other topic (customers/data_request included: it asks for a copy,
// not an erasure) is not an erasure and goes to the product's queue.
package webhook
