package receiver

import (
	"errors"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/httpjson"
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

// unavailable is a failure of the store, the secrets or the queue that
// may pass: 503, and the provider retries.
type unavailable struct {
	op  string
	err error
}

func (e *unavailable) Error() string { return e.op + ": " + e.err.Error() }
func (e *unavailable) Unwrap() error { return e.err }

// retryAfterSeconds is the Retry-After of a 503.
const retryAfterSeconds = 5

// classify is the one place where errors become HTTP answers. Messages of
// 5xx answers are generic; details stay in the log.
func classify(err error) *httpjson.Error {
	var he *httpjson.Error
	var up *webhook.UnknownProvider
	var se *webhook.SignatureError
	var inv *webhook.InvalidDelivery
	var un *unavailable
	switch {
	case errors.As(err, &he):
		return he
	case errors.As(err, &up):
		return httpjson.NotFound(CodeUnknownProvider, "provider", up.Error())
	case errors.As(err, &se):
		return &httpjson.Error{Status: http.StatusUnauthorized, Code: CodeBadSignature, Field: se.Header, Message: se.Error()}
	case errors.As(err, &inv):
		return httpjson.BadRequest(CodeInvalidDelivery, inv.Field, inv.Error())
	case errors.Is(err, erasure.ErrIdempotencyKeyReused):
		return httpjson.Unprocessable(CodeIdempotencyKeyReused, "deliveryId",
			"this delivery id already filed an erasure for another subject")
	case errors.As(err, &un):
		return httpjson.Unavailable(CodeUnavailable,
			"the region cannot take the delivery now; retry later (a retried delivery never files a second request)", retryAfterSeconds)
	}
	return &httpjson.Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error"}
}

// respond encodes an outcome or an error; it returns the status, the error
// code and the error answered, for the log.
func respond(out outcome, err error) (events.APIGatewayProxyResponse, int, string, error) {
	a := httpjson.Respond(out.status, out.body, err, classify)
	return events.APIGatewayProxyResponse{StatusCode: a.Status, Headers: a.Headers, Body: a.Body}, a.Status, a.Code, a.Err
}
