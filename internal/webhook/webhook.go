package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Provider names, as they appear in POST /webhooks/{provider}, in
// multicast topics ("<provider>/<topic>") and in config.WebhookSecretName.
const (
	Shopify = "shopify"
	Zendesk = "zendesk"
	Generic = "generic"
)

// Limits shared by the edge and the regional receiver.
const (
	// MaxBodyBytes is the largest webhook body Lethe takes. The regional
	// receiver queues non-erasure bodies on SQS, whose messages are at most
	// 256 KiB; the edge refuses larger bodies at once instead of
	// forwarding what the region would refuse.
	MaxBodyBytes = 256 << 10
	// MaxTenantBytes bounds a tenant key.
	MaxTenantBytes = 128
	// MaxDeliveryIDBytes bounds a delivery id.
	MaxDeliveryIDBytes = 128
	// DefaultTolerance is the replay window Verify applies when given none
	// (config.DefaultSignatureToleranceSeconds).
	DefaultTolerance = 300 * time.Second
)

// Delivery is what Inspect reads from a webhook request before it is
// verified. Nothing in it is trusted until Verify passes with the
// tenant's secret.
type Delivery struct {
	// Provider is the provider's name (Shopify, Zendesk, Generic).
	Provider string
	// Tenant is the tenant key: the directory's key and the last part of
	// the webhook secret's name.
	Tenant string
	// ID is the provider's delivery id, or the hex SHA-256 of the body
	// when the provider sent none (IDFromBody).
	ID         string
	IDFromBody bool
	// Topic is the provider's topic: customers/redact, user.deleted,
	// erasure.requested, ...
	Topic string
}

// TopicKey is the topic as configuration names it, "<provider>/<topic>"
// (config.Edge.MulticastTopics).
func (d Delivery) TopicKey() string { return d.Provider + "/" + d.Topic }

// IdempotencyKey is the key under which a region files the erasure this
// delivery asks for, "<provider>:<tenant>:<delivery id>", so that a
// delivery forwarded twice never files two requests, and two tenants whose
// senders chose the same delivery id (the generic scheme) never share one.
// The store keeps keys hashed, so its length is no concern.
func (d Delivery) IdempotencyKey() string { return d.Provider + ":" + d.Tenant + ":" + d.ID }

// Provider is one integration's way of sending webhooks.
type Provider interface {
	// Name is the provider's name.
	Name() string
	// Inspect reads the tenant, delivery id and topic of a request. query
	// is the request URL's query (may be nil). It fails with
	// *InvalidDelivery naming the header, query parameter or body field.
	Inspect(h http.Header, query url.Values, body []byte) (Delivery, error)
	// Verify checks the signature of the raw body with the tenant's
	// secret, and for timestamped schemes that the timestamp is within
	// tolerance of now (tolerance <= 0 means DefaultTolerance). It fails
	// with *SignatureError.
	Verify(h http.Header, body, secret []byte, now time.Time, tolerance time.Duration) error
	// Sign sets the signature headers a provider would send for body at
	// now: for tests, benchmarks and the local runtime's demo senders.
	Sign(h http.Header, body, secret []byte, now time.Time)
	// Erasure says whether a verified delivery asks to erase a data
	// subject, and which one. A delivery of an erasure topic whose body
	// does not name a valid subject fails with *InvalidDelivery.
	Erasure(d Delivery, body []byte) (subjectID string, ok bool, err error)
	// ForwardHeaders are the headers Inspect and Verify read: the edge
	// forwards them unchanged to the home region.
	ForwardHeaders() []string
	// ForwardQuery are the query parameters Inspect reads: the edge
	// forwards them unchanged too.
	ForwardQuery() []string
}

var providers = map[string]Provider{
	Shopify: shopify{},
	Zendesk: zendesk{},
	Generic: generic{},
}

// erasureTopics are the topics Erasure files as erasure requests, as
// configuration names topics ("<provider>/<topic>").
var erasureTopics = map[string]bool{
	Shopify + "/" + TopicShopifyCustomersRedact: true,
	Shopify + "/" + TopicShopifyShopRedact:      true,
	Zendesk + "/" + TopicZendeskUserDeleted:     true,
	Generic + "/" + TopicErasureRequested:       true,
}

// CheckMulticast refuses multicast topics (config.Edge.MulticastTopics)
// that are erasure requests: those carry a person's identifiers, and
// multicasting them would send personal data to every region. It names the
// first such topic. (It cannot know every topic that carries personal data;
// the configuration's owner must, and this guards the ones Lethe knows.)
func CheckMulticast(topics []string) error {
	for i, t := range topics {
		if erasureTopics[t] {
			return fmt.Errorf("edge.multicastTopics[%d]: %q is an erasure request, which names a person: it goes to the tenant's home region only", i, t)
		}
	}
	return nil
}

// Lookup returns the named provider, or *UnknownProvider.
func Lookup(name string) (Provider, error) {
	if p, ok := providers[name]; ok {
		return p, nil
	}
	return nil, &UnknownProvider{Name: name}
}

// Names lists the providers' names, sorted: for routes, error messages
// and the local runtime's demo.
func Names() []string {
	names := make([]string, 0, len(providers))
	for n := range providers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Reasons a header, parameter or field is refused. SignatureError and
// InvalidDelivery wrap one of them, for errors.Is.
var (
	ErrMissing   = errors.New("is missing")
	ErrMalformed = errors.New("is malformed")
	// ErrRepeated: a header or parameter given more than once is refused
	// rather than one of its values picked, so that the edge and the
	// region cannot pick differently.
	ErrRepeated = errors.New("is given more than once")
	// ErrMismatch: the signature does not match the body and secret.
	ErrMismatch = errors.New("does not match the body")
	// ErrStale: the signed timestamp is further from now than the
	// tolerance (in the past or in the future).
	ErrStale = errors.New("is outside the replay window")
	// ErrNoSecret: Verify was given an empty secret; nothing verifies
	// against it.
	ErrNoSecret = errors.New("no signing secret")
)

// UnknownProvider means the {provider} of the route is not one Lethe
// knows. Handlers answer 404.
type UnknownProvider struct{ Name string }

var safeNameRE = regexp.MustCompile(`^[a-z0-9-]{1,32}$`)

func (e *UnknownProvider) Error() string {
	known := strings.Join(Names(), ", ")
	if safeNameRE.MatchString(e.Name) {
		return fmt.Sprintf("unknown webhook provider %q; known: %s", e.Name, known)
	}
	return "unknown webhook provider; known: " + known
}

// SignatureError means a delivery is not authentic as far as Lethe can
// tell: handlers answer 401. Header is the header at fault; Err is one of
// ErrMissing, ErrMalformed, ErrRepeated, ErrMismatch, ErrStale or
// ErrNoSecret.
type SignatureError struct {
	Header string
	Err    error
}

func (e *SignatureError) Error() string {
	if errors.Is(e.Err, ErrNoSecret) {
		return "signature cannot be checked: " + e.Err.Error()
	}
	return "signature header " + e.Header + " " + e.Err.Error()
}

// Unwrap exposes the reason for errors.Is.
func (e *SignatureError) Unwrap() error { return e.Err }

// InvalidDelivery means a request cannot be read as a delivery of its
// provider: handlers answer 400 naming Field. Field is a header name, a
// query parameter ("tenant") or a JSON path in the body ("customer.id").
// Err is ErrMissing, ErrMalformed or ErrRepeated; Reason, when set, says
// more (never quoting a value).
type InvalidDelivery struct {
	Field  string
	Err    error
	Reason string
}

func (e *InvalidDelivery) Error() string {
	msg := e.Field + " " + e.Err.Error()
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

// Unwrap exposes the reason for errors.Is.
func (e *InvalidDelivery) Unwrap() error { return e.Err }

var tenantRE = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9._-]{0,126}[a-z0-9])?$`)

// tenantRule is the part of every tenant error message that says what a
// key must look like.
const tenantRule = "a tenant key is 1-128 lower-case letters, digits, '.', '-' or '_', starting and ending with a letter or digit"

// ValidTenant reports whether key is a well-formed tenant key.
func ValidTenant(key string) bool { return tenantRE.MatchString(key) }

// ValidateTenant checks a tenant key and names field in its error
// (*InvalidDelivery), for the APIs that take one in a path or body.
func ValidateTenant(field, key string) error {
	switch {
	case key == "":
		return &InvalidDelivery{Field: field, Err: ErrMissing, Reason: tenantRule}
	case !tenantRE.MatchString(key):
		return &InvalidDelivery{Field: field, Err: ErrMalformed, Reason: tenantRule}
	}
	return nil
}

var deliveryIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// header returns the one value of a header, "" when absent; a header
// given twice is an error. http.Header keys are canonical, but a caller
// may have built h by hand (an API Gateway event), so names are matched
// without regard to case.
func header(h http.Header, name string) (string, error) {
	var vals []string
	for k, v := range h {
		if strings.EqualFold(k, name) {
			vals = append(vals, v...)
		}
	}
	switch len(vals) {
	case 0:
		return "", nil
	case 1:
		return vals[0], nil
	}
	return "", ErrRepeated
}

// requiredHeader returns a header that must be there, once, non-empty.
func requiredHeader(h http.Header, name string) (string, error) {
	v, err := header(h, name)
	if err != nil {
		return "", &InvalidDelivery{Field: name, Err: err}
	}
	if v == "" {
		return "", &InvalidDelivery{Field: name, Err: ErrMissing}
	}
	return v, nil
}

// signatureHeader is requiredHeader for Verify's errors.
func signatureHeader(h http.Header, name string) (string, error) {
	v, err := header(h, name)
	if err != nil {
		return "", &SignatureError{Header: name, Err: err}
	}
	if v == "" {
		return "", &SignatureError{Header: name, Err: ErrMissing}
	}
	return v, nil
}

// tenantFrom checks a tenant read from field.
func tenantFrom(field, v string) (string, error) {
	if err := ValidateTenant(field, v); err != nil {
		return "", err
	}
	return v, nil
}

// deliveryID returns the delivery id of header name, or the body's hash
// when the header is absent.
func deliveryID(h http.Header, name string, body []byte) (id string, fromBody bool, err error) {
	v, err := header(h, name)
	if err != nil {
		return "", false, &InvalidDelivery{Field: name, Err: err}
	}
	if v == "" {
		sum := sha256.Sum256(body)
		return hex.EncodeToString(sum[:]), true, nil
	}
	if !deliveryIDRE.MatchString(v) {
		return "", false, &InvalidDelivery{Field: name, Err: ErrMalformed,
			Reason: "a delivery id is 1-128 characters of A-Z a-z 0-9 . _ : -"}
	}
	return v, false, nil
}

// queryParam returns the one value of a query parameter, "" when absent.
func queryParam(q url.Values, name string) (string, error) {
	switch vals := q[name]; len(vals) {
	case 0:
		return "", nil
	case 1:
		return vals[0], nil
	}
	return "", &InvalidDelivery{Field: name, Err: ErrRepeated}
}

// checkTime refuses a signed time further than tolerance from now.
func checkTime(headerName string, signed, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	if d := now.Sub(signed); d > tolerance || d < -tolerance {
		return &SignatureError{Header: headerName, Err: ErrStale}
	}
	return nil
}

func noSecret(headerName string) error { return &SignatureError{Header: headerName, Err: ErrNoSecret} }

// mac is HMAC-SHA256 of the concatenated parts under secret.
func mac(secret []byte, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, secret)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// strictBase64 decodes standard base64 as it is written and nothing else:
// Go's decoder skips CR and LF anywhere in its input and accepts non-zero
// padding bits, so that many spellings of one signature would verify.
func strictBase64(s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("line breaks in base64")
	}
	return base64.StdEncoding.Strict().DecodeString(s)
}

// checkBase64MAC compares a base64 signature header's value with the
// expected MAC in constant time.
func checkBase64MAC(headerName, value string, want []byte) error {
	got, err := strictBase64(value)
	if err != nil || len(got) != sha256.Size {
		return &SignatureError{Header: headerName, Err: ErrMalformed}
	}
	if !hmac.Equal(got, want) {
		return &SignatureError{Header: headerName, Err: ErrMismatch}
	}
	return nil
}
