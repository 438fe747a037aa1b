package api

import (
	"errors"
	"net/http"

	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/httpjson"
)

// Error codes of the {"error": {"code", "message", "field"}} body. They are
// part of the API: callers branch on them, so they never change meaning.
const (
	CodeInvalidJSON           = "invalid_json"
	CodeInvalidBody           = "invalid_body"
	CodeUnknownField          = "unknown_field"
	CodeDuplicateField        = "duplicate_field"
	CodeInvalidType           = "invalid_type"
	CodeRequired              = "required"
	CodeInvalidSubjectID      = "invalid_subject_id"
	CodeInvalidTenantID       = "invalid_tenant_id"
	CodeBodyTooLarge          = "body_too_large"
	CodeUnsupportedMediaType  = "unsupported_media_type"
	CodeInvalidIdempotencyKey = "invalid_idempotency_key"
	CodeIdempotencyKeyReused  = "idempotency_key_reused"
	CodeInvalidRequestID      = "invalid_request_id"
	CodeWrongRegion           = "wrong_region"
	CodeNotFound              = "not_found"
	CodeInvalidLimit          = "invalid_limit"
	CodeRouteNotFound         = "route_not_found"
	CodeMethodNotAllowed      = "method_not_allowed"
	CodeUnavailable           = "unavailable"
	CodeInternal              = "internal"
	CodeTooMany               = "too_many"
	CodeSubjectForgotten      = "subject_forgotten"
	CodeNotCompleted          = "request_not_completed"
	CodeCertificatePending    = "certificate_pending"
	CodeNoKeys                = "keys_unavailable"
	CodeInvalidFrom           = "invalid_from"
	CodeInvalidCursor         = "invalid_cursor"
	CodeInvalidFilter         = "invalid_filter"
	CodeInvalidCallbackToken  = "invalid_callback_token"
	CodeInvalidCallbackStatus = "invalid_callback_status"
	CodeCallbackGone          = "callback_gone"
)

// storeError is any failure of the request store other than the domain
// answers it is allowed to give (erasure.ErrNotFound,
// erasure.ErrIdempotencyKeyReused, which stay visible through Unwrap).
type storeError struct {
	op  string
	err error
}

func (e *storeError) Error() string { return "store " + e.op + ": " + e.err.Error() }
func (e *storeError) Unwrap() error { return e.err }

// retryAfterSeconds is the Retry-After of a 503: the store's failures
// are brief.
const retryAfterSeconds = 1

// classify is the one place where errors become HTTP answers. Messages of
// 5xx answers are generic: internals (table names, AWS error text) stay in
// the log.
func classify(err error) *httpjson.Error {
	var in *httpjson.Error
	var se *storeError
	switch {
	case errors.Is(err, erasure.ErrIdempotencyKeyReused):
		return httpjson.Unprocessable(CodeIdempotencyKeyReused,
			headerIdempotencyKey, "this Idempotency-Key was already used for another subject; use a new key for a new request")
	case errors.Is(err, erasure.ErrNotFound):
		return httpjson.NotFound(CodeNotFound, "requestId", "no erasure request has this id")
	case errors.As(err, &in):
		return in
	case errors.As(err, &se):
		return httpjson.Unavailable(CodeUnavailable,
			"the request store is unavailable; retry later (a retried POST or DELETE never creates a second request for the same subject or Idempotency-Key)", retryAfterSeconds)
	default:
		return &httpjson.Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error"}
	}
}
