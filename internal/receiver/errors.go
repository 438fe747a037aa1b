package receiver

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/webhook"
)

// Error codes of the {"error": {"code", "message", "field"}} body. Callers
// (the edge's forwarder, operators) branch on them.
const (
	CodeRouteNotFound        = "route_not_found"
	CodeMethodNotAllowed     = "method_not_allowed"
	CodeUnknownProvider      = "unknown_provider"
	CodeBodyTooLarge         = "body_too_large"
	CodeInvalidBody          = "invalid_body"
	CodeInvalidDelivery      = "invalid_delivery"
	CodeBadSignature         = "bad_signature"
	CodeTenantNotOwned       = "tenant_not_owned"
	CodeIdempotencyKeyReused = "idempotency_key_reused"
	CodeUnavailable          = "unavailable"
	CodeInternal             = "internal"
)

// httpError is an answer decided by the receiver itself.
type httpError struct {
	status  int
	code    string
	field   string
	message string
	allow   string
	// cause is for the log only (why a misroute was or was not alerted).
	cause string
}

func (e *httpError) Error() string {
	if e.cause != "" {
		return e.code + ": " + e.message + "; " + e.cause
	}
	return e.code + ": " + e.message
}

// unavailable is a failure of the store, the secrets or the queue that
// may pass: 503, and the provider retries.
type unavailable struct {
	op  string
	err error
}

func (e *unavailable) Error() string { return e.op + ": " + e.err.Error() }
func (e *unavailable) Unwrap() error { return e.err }

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field"`
}

// classify is the one place where errors become HTTP answers. Messages of
// 5xx answers are generic; details stay in the log.
func classify(err error) (int, errorDetail, string) {
	var he *httpError
	var up *webhook.UnknownProvider
	var se *webhook.SignatureError
	var inv *webhook.InvalidDelivery
	var un *unavailable
	switch {
	case errors.As(err, &he):
		return he.status, errorDetail{he.code, he.message, he.field}, he.allow
	case errors.As(err, &up):
		return http.StatusNotFound, errorDetail{CodeUnknownProvider, up.Error(), "provider"}, ""
	case errors.As(err, &se):
		return http.StatusUnauthorized, errorDetail{CodeBadSignature, se.Error(), se.Header}, ""
	case errors.As(err, &inv):
		return http.StatusBadRequest, errorDetail{CodeInvalidDelivery, inv.Error(), inv.Field}, ""
	case errors.Is(err, erasure.ErrIdempotencyKeyReused):
		return http.StatusUnprocessableEntity, errorDetail{CodeIdempotencyKeyReused,
			"this delivery id already filed an erasure for another subject", "deliveryId"}, ""
	case errors.As(err, &un):
		return http.StatusServiceUnavailable, errorDetail{CodeUnavailable,
			"the region cannot take the delivery now; retry later (a retried delivery never files a second request)", ""}, ""
	}
	return http.StatusInternalServerError, errorDetail{CodeInternal, "internal error", ""}, ""
}

// respond encodes an outcome or an error; it returns the status and the
// error code for the log.
func respond(out outcome, err error) (events.APIGatewayProxyResponse, int, string) {
	headers := map[string]string{
		"Content-Type":           "application/json; charset=utf-8",
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
	}
	if err != nil {
		status, detail, allow := classify(err)
		if allow != "" {
			headers["Allow"] = allow
		}
		if status == http.StatusServiceUnavailable {
			headers["Retry-After"] = "5"
		}
		b, _ := json.Marshal(errorBody{detail}) // strings only: cannot fail
		return events.APIGatewayProxyResponse{StatusCode: status, Headers: headers, Body: string(b)}, status, detail.Code
	}
	b, err := json.Marshal(out.body)
	if err != nil {
		return respond(outcome{}, err)
	}
	return events.APIGatewayProxyResponse{StatusCode: out.status, Headers: headers, Body: string(b)}, out.status, ""
}
