package webhook

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Zendesk's headers (developer.zendesk.com/documentation/webhooks/anatomy-of-a-webhook-request).
const (
	HeaderZendeskSignature    = "X-Zendesk-Webhook-Signature"
	HeaderZendeskTimestamp    = "X-Zendesk-Webhook-Signature-Timestamp"
	HeaderZendeskInvocationID = "X-Zendesk-Webhook-Invocation-Id"
	HeaderZendeskWebhookID    = "X-Zendesk-Webhook-Id"
	HeaderZendeskAccountID    = "X-Zendesk-Account-Id"
)

// QueryTenant is the query parameter of the webhook endpoint URL that
// names a Zendesk tenant (its subdomain): .../webhooks/zendesk?tenant=eu-help.
const QueryTenant = "tenant"

// Zendesk topics: event types without the "zen:event-type:" prefix.
const (
	TopicZendeskUserDeleted = "user.deleted"
	// TopicZendeskTrigger is the topic of trigger and automation webhooks,
	// whose payload the Zendesk admin defines and which carry no type.
	TopicZendeskTrigger = "trigger"
)

// zendeskEventTypePrefix starts the type of every Zendesk event.
const zendeskEventTypePrefix = "zen:event-type"

var (
	zendeskTypeRE = regexp.MustCompile(`^zen:event-type[:/]([a-z0-9_]{1,40}(?:\.[a-z0-9_]{1,60}){1,3})$`)
	zendeskUserRE = regexp.MustCompile(`^zen:user:([0-9]{1,20})$`)
)

type zendesk struct{}

func (zendesk) Name() string { return Zendesk }

func (zendesk) ForwardHeaders() []string {
	return []string{HeaderZendeskSignature, HeaderZendeskTimestamp, HeaderZendeskInvocationID, HeaderZendeskWebhookID, HeaderZendeskAccountID}
}

func (zendesk) ForwardQuery() []string { return []string{QueryTenant} }

func (zendesk) Inspect(h http.Header, query url.Values, body []byte) (Delivery, error) {
	d := Delivery{Provider: Zendesk}
	t, err := queryParam(query, QueryTenant)
	if err != nil {
		return Delivery{}, err
	}
	if t == "" {
		return Delivery{}, &InvalidDelivery{Field: QueryTenant, Err: ErrMissing,
			Reason: "a Zendesk webhook's endpoint URL names its tenant: .../webhooks/zendesk?tenant=<subdomain>"}
	}
	if d.Tenant, err = tenantFrom(QueryTenant, t); err != nil {
		return Delivery{}, err
	}
	if d.Topic, err = zendeskTopic(body); err != nil {
		return Delivery{}, err
	}
	if d.ID, d.IDFromBody, err = deliveryID(h, HeaderZendeskInvocationID, body); err != nil {
		return Delivery{}, err
	}
	return d, nil
}

// zendeskTopic is the event type of an event webhook's JSON body, or
// TopicZendeskTrigger for a body that is not an event: trigger webhooks
// send whatever JSON, XML or form data the Zendesk admin wrote, and such
// JSON may well have a "type" of its own (a ticket's type, incident,
// question, ...). Only a type that claims to be an event type
// (zen:event-type...) makes the body an event, and then it must be a
// well-formed one.
func zendeskTopic(body []byte) (string, error) {
	if b := bytes.TrimSpace(body); len(b) == 0 || b[0] != '{' {
		return TopicZendeskTrigger, nil
	}
	obj, err := object(body, "")
	if err != nil {
		return TopicZendeskTrigger, nil
	}
	typ, err := stringField(obj, "", "type")
	if err != nil || !strings.HasPrefix(typ, zendeskEventTypePrefix) {
		return TopicZendeskTrigger, nil
	}
	m := zendeskTypeRE.FindStringSubmatch(typ)
	if m == nil {
		return "", &InvalidDelivery{Field: "type", Err: ErrMalformed, Reason: "a Zendesk event type is zen:event-type:<domain>.<event>"}
	}
	return m[1], nil
}

func (zendesk) Verify(h http.Header, body, secret []byte, now time.Time, tolerance time.Duration) error {
	if len(secret) == 0 {
		return noSecret(HeaderZendeskSignature)
	}
	sig, err := signatureHeader(h, HeaderZendeskSignature)
	if err != nil {
		return err
	}
	ts, err := signatureHeader(h, HeaderZendeskTimestamp)
	if err != nil {
		return err
	}
	signed, err := time.Parse(time.RFC3339, ts)
	if err != nil || strings.TrimSpace(ts) != ts {
		return &SignatureError{Header: HeaderZendeskTimestamp, Err: ErrMalformed}
	}
	if err := checkBase64MAC(HeaderZendeskSignature, sig, mac(secret, []byte(ts), body)); err != nil {
		return err
	}
	return checkTime(HeaderZendeskTimestamp, signed, now, tolerance)
}

func (zendesk) Sign(h http.Header, body, secret []byte, now time.Time) {
	ts := now.UTC().Format(time.RFC3339)
	h.Set(HeaderZendeskTimestamp, ts)
	h.Set(HeaderZendeskSignature, base64.StdEncoding.EncodeToString(mac(secret, []byte(ts), body)))
}

// Erasure: user.deleted names the user in detail.id (a string) and in
// subject ("zen:user:<id>"); detail.id is read first.
func (zendesk) Erasure(d Delivery, body []byte) (string, bool, error) {
	if d.Topic != TopicZendeskUserDeleted {
		return "", false, nil
	}
	obj, err := object(body, "")
	if err != nil {
		return "", false, err
	}
	if detail, err := objectField(obj, "", "detail"); err == nil {
		if _, ok := detail["id"]; ok {
			id, err := idField(detail, "detail.", "id")
			if err != nil {
				return "", false, err
			}
			return subject("detail.id", "zendesk:"+d.Tenant+":user:"+id)
		}
	}
	s, err := stringField(obj, "", "subject")
	if err != nil {
		return "", false, &InvalidDelivery{Field: "detail.id", Err: ErrMissing, Reason: "a user.deleted event names its user in detail.id or subject"}
	}
	m := zendeskUserRE.FindStringSubmatch(s)
	if m == nil {
		return "", false, &InvalidDelivery{Field: "subject", Err: ErrMalformed, Reason: "must be zen:user:<id>"}
	}
	return subject("subject", "zendesk:"+d.Tenant+":user:"+m[1])
}
