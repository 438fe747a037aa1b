package httpjson

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// classify is a handler's mapping as the tests need it: *Error answers as
// itself, anything else is a 500.
func classify(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error"}
}

func TestRespond(t *testing.T) {
	std := Headers()
	with := func(k, v string) map[string]string {
		h := Headers()
		h[k] = v
		return h
	}
	for _, tc := range []struct {
		name   string
		status int
		body   any
		err    error
		want   Answer
	}{
		{"success encodes the body", http.StatusCreated, map[string]string{"status": "queued"}, nil,
			Answer{Status: 201, Headers: std, Body: `{"status":"queued"}`}},
		{"nil body is no body", http.StatusOK, nil, nil,
			Answer{Status: 200, Headers: std}},
		{"400 names the field", 0, nil, BadRequest("invalid_json", "subjectId", "subjectId must be a string"),
			Answer{Status: 400, Headers: std, Code: "invalid_json",
				Body: `{"error":{"code":"invalid_json","message":"subjectId must be a string","field":"subjectId"}}`}},
		{"field is sent even when empty", 0, nil, fmt.Errorf("route: %w", NotFound("route_not_found", "", "no such route")),
			Answer{Status: 404, Headers: std, Code: "route_not_found",
				Body: `{"error":{"code":"route_not_found","message":"no such route","field":""}}`}},
		{"405 sends Allow", 0, nil, MethodNotAllowed("method_not_allowed", "webhooks are POSTed", "POST"),
			Answer{Status: 405, Headers: with("Allow", "POST"), Code: "method_not_allowed",
				Body: `{"error":{"code":"method_not_allowed","message":"webhooks are POSTed","field":""}}`}},
		{"409 without RetryAfter sends no Retry-After", 0, nil, Conflict("tenant_not_owned", "tenant", "not here"),
			Answer{Status: 409, Headers: std, Code: "tenant_not_owned",
				Body: `{"error":{"code":"tenant_not_owned","message":"not here","field":"tenant"}}`}},
		{"422", 0, nil, Unprocessable("idempotency_key_reused", "Idempotency-Key", "used"),
			Answer{Status: 422, Headers: std, Code: "idempotency_key_reused",
				Body: `{"error":{"code":"idempotency_key_reused","message":"used","field":"Idempotency-Key"}}`}},
		{"503 sends Retry-After", 0, nil, Unavailable("unavailable", "retry later", 30),
			Answer{Status: 503, Headers: with("Retry-After", "30"), Code: "unavailable",
				Body: `{"error":{"code":"unavailable","message":"retry later","field":""}}`}},
		{"message is JSON-escaped, HTML too", 0, nil, BadRequest("invalid_json", "", `body is not "JSON" <x>`),
			Answer{Status: 400, Headers: std, Code: "invalid_json",
				Body: `{"error":{"code":"invalid_json","message":"body is not \"JSON\" \u003cx\u003e","field":""}}`}},
		{"classify decides what is not an *Error", http.StatusOK, nil, errors.New("table gone"),
			Answer{Status: 500, Headers: std, Code: "internal",
				Body: `{"error":{"code":"internal","message":"internal error","field":""}}`}},
		{"a body that cannot be encoded is classify's", http.StatusOK, make(chan int), nil,
			Answer{Status: 500, Headers: std, Code: "internal",
				Body: `{"error":{"code":"internal","message":"internal error","field":""}}`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Respond(tc.status, tc.body, tc.err, classify)
			// The error answered is the handler's, or the encoding's.
			switch {
			case tc.err != nil && got.Err != tc.err:
				t.Errorf("Err = %v, want the handler's %v", got.Err, tc.err)
			case tc.err == nil && tc.want.Code != "" && (got.Err == nil || !strings.HasPrefix(got.Err.Error(), "encode answer")):
				t.Errorf("Err = %v, want the encoding failure", got.Err)
			case tc.want.Code == "" && got.Err != nil:
				t.Errorf("Err = %v on a success", got.Err)
			}
			got.Err = nil
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Respond (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHeadersAreNewEachTime(t *testing.T) {
	a := Respond(http.StatusOK, nil, nil, classify)
	a.Headers["Location"] = "/x"
	if _, ok := Headers()["Location"]; ok {
		t.Fatal("an answer's headers leak into the next answer")
	}
}

func TestErrorText(t *testing.T) {
	if got := BadRequest("invalid_json", "x", "bad").Error(); got != "invalid_json: bad" {
		t.Errorf("Error() = %q", got)
	}
}
