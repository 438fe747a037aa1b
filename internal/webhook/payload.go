package webhook

import (
	"bytes"
	"encoding/json"
	"regexp"
	"unicode/utf8"

	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/strictjson"
)

// The body readers below name the field at fault as a JSON path and never
// quote a value: a body may hold someone's e-mail address.

// bodyField names the body itself in errors.
const bodyField = "body"

// object decodes one JSON object; prefix names it in errors ("" is the
// body itself). Keys are matched exactly (a map), unlike struct decoding,
// which would also take "Shop_Domain" for shop_domain.
func object(raw []byte, prefix string) (map[string]json.RawMessage, error) {
	field := bodyField
	if prefix != "" {
		field = prefix[:len(prefix)-1]
	}
	if !utf8.Valid(raw) {
		return nil, &InvalidDelivery{Field: field, Err: ErrMalformed, Reason: "must be UTF-8 JSON"}
	}
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&obj); err != nil || obj == nil || dec.More() {
		return nil, &InvalidDelivery{Field: field, Err: ErrMalformed, Reason: "must be a JSON object"}
	}
	return obj, nil
}

// objectField returns the object under key.
func objectField(obj map[string]json.RawMessage, prefix, key string) (map[string]json.RawMessage, error) {
	raw, ok := obj[key]
	if !ok || string(raw) == "null" {
		return nil, &InvalidDelivery{Field: prefix + key, Err: ErrMissing}
	}
	return object(raw, prefix+key+".")
}

// stringField returns the non-empty string under key.
func stringField(obj map[string]json.RawMessage, prefix, key string) (string, error) {
	raw, ok := obj[key]
	if !ok || string(raw) == "null" {
		return "", &InvalidDelivery{Field: prefix + key, Err: ErrMissing}
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", &InvalidDelivery{Field: prefix + key, Err: ErrMalformed, Reason: "must be a string"}
	}
	if _, lone := strictjson.LoneSurrogate(raw); lone {
		// encoding/json turned it into U+FFFD: another id than was sent.
		return "", &InvalidDelivery{Field: prefix + key, Err: ErrMalformed, Reason: "holds an unpaired UTF-16 surrogate escape, which is no character"}
	}
	if s == "" {
		return "", &InvalidDelivery{Field: prefix + key, Err: ErrMissing}
	}
	return s, nil
}

var numericIDRE = regexp.MustCompile(`^[0-9]{1,20}$`)

// idField returns a provider's numeric id under key, given as a JSON
// number or a string of digits (Zendesk sends ids as strings).
func idField(obj map[string]json.RawMessage, prefix, key string) (string, error) {
	raw, ok := obj[key]
	if !ok || string(raw) == "null" {
		return "", &InvalidDelivery{Field: prefix + key, Err: ErrMissing}
	}
	s := string(raw)
	if len(raw) > 0 && raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			s = ""
		}
	}
	if !numericIDRE.MatchString(s) {
		return "", &InvalidDelivery{Field: prefix + key, Err: ErrMalformed, Reason: "must be a numeric id"}
	}
	return s, nil
}

// subject validates a subject id formed from field.
func subject(field, id string) (string, bool, error) {
	if err := erasure.ValidateSubjectID(id); err != nil {
		return "", false, &InvalidDelivery{Field: field, Err: ErrMalformed, Reason: "the subject id it gives " + err.Error()}
	}
	return id, true, nil
}
