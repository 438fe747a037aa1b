package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The generic scheme's headers.
const (
	HeaderLetheSignature  = "X-Lethe-Signature"
	HeaderLetheTenant     = "X-Lethe-Tenant"
	HeaderLetheTopic      = "X-Lethe-Topic"
	HeaderLetheDeliveryID = "X-Lethe-Delivery-Id"
)

// TopicErasureRequested is the generic topic of an erasure request, with
// the body {"subjectId": "..."}.
const TopicErasureRequested = "erasure.requested"

// ReceivedAtHeader carries, on a quarantine release from the edge to a
// region's IAM-authorised release route, when the edge first received the
// delivery (RFC 3339): the request it files counts its deadline from then,
// not from the release. Other routes ignore it.
const ReceivedAtHeader = "X-Lethe-Received-At"

var genericTopicRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_./-]{0,63}$`)

type generic struct{}

func (generic) Name() string { return Generic }

func (generic) ForwardHeaders() []string {
	return []string{HeaderLetheSignature, HeaderLetheTenant, HeaderLetheTopic, HeaderLetheDeliveryID}
}

func (generic) ForwardQuery() []string { return nil }

func (generic) Inspect(h http.Header, _ url.Values, body []byte) (Delivery, error) {
	d := Delivery{Provider: Generic}
	t, err := requiredHeader(h, HeaderLetheTenant)
	if err != nil {
		return Delivery{}, err
	}
	if d.Tenant, err = tenantFrom(HeaderLetheTenant, t); err != nil {
		return Delivery{}, err
	}
	if d.Topic, err = requiredHeader(h, HeaderLetheTopic); err != nil {
		return Delivery{}, err
	}
	if !genericTopicRE.MatchString(d.Topic) {
		return Delivery{}, &InvalidDelivery{Field: HeaderLetheTopic, Err: ErrMalformed,
			Reason: "a topic is 1-64 lower-case letters, digits, '.', '_', '/' or '-'"}
	}
	if d.ID, d.IDFromBody, err = deliveryID(h, HeaderLetheDeliveryID, body); err != nil {
		return Delivery{}, err
	}
	return d, nil
}

func genericMAC(t string, body, secret []byte) []byte {
	return mac(secret, []byte(t), []byte{'.'}, body)
}

// parseGenericSignature reads "t=<unix>,v1=<hex>[,v1=<hex>...]"; other
// keys are ignored so that a later scheme can be sent alongside.
func parseGenericSignature(v string) (t string, sigs [][]byte, ok bool) {
	for _, part := range strings.Split(v, ",") {
		k, val, found := strings.Cut(strings.TrimSpace(part), "=")
		if !found {
			return "", nil, false
		}
		switch k {
		case "t":
			if t != "" || val == "" || len(val) > 12 || strings.Trim(val, "0123456789") != "" {
				return "", nil, false
			}
			t = val
		case "v1":
			b, err := hex.DecodeString(val)
			if err != nil || len(b) != sha256.Size {
				return "", nil, false
			}
			sigs = append(sigs, b)
		}
	}
	return t, sigs, t != "" && len(sigs) > 0
}

func (generic) Verify(h http.Header, body, secret []byte, now time.Time, tolerance time.Duration) error {
	if len(secret) == 0 {
		return noSecret(HeaderLetheSignature)
	}
	v, err := signatureHeader(h, HeaderLetheSignature)
	if err != nil {
		return err
	}
	t, sigs, ok := parseGenericSignature(v)
	if !ok {
		return &SignatureError{Header: HeaderLetheSignature, Err: ErrMalformed}
	}
	want := genericMAC(t, body, secret)
	match := false
	for _, s := range sigs {
		// Every candidate is compared, so the time taken does not say
		// which one matched.
		if hmac.Equal(s, want) {
			match = true
		}
	}
	if !match {
		return &SignatureError{Header: HeaderLetheSignature, Err: ErrMismatch}
	}
	sec, err := strconv.ParseInt(t, 10, 64)
	if err != nil {
		return &SignatureError{Header: HeaderLetheSignature, Err: ErrMalformed}
	}
	return checkTime(HeaderLetheSignature, time.Unix(sec, 0), now, tolerance)
}

func (generic) Sign(h http.Header, body, secret []byte, now time.Time) {
	t := strconv.FormatInt(now.Unix(), 10)
	h.Set(HeaderLetheSignature, "t="+t+",v1="+hex.EncodeToString(genericMAC(t, body, secret)))
}

// Erasure: erasure.requested carries {"subjectId": "..."}; the sender
// chooses the subject id's form. Other fields are the sender's business
// and ignored.
func (generic) Erasure(d Delivery, body []byte) (string, bool, error) {
	if d.Topic != TopicErasureRequested {
		return "", false, nil
	}
	obj, err := object(body, "")
	if err != nil {
		return "", false, err
	}
	s, err := stringField(obj, "", "subjectId")
	if err != nil {
		return "", false, err
	}
	return subject("subjectId", s)
}
