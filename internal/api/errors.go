package api

import (
	"errors"
	"net/http"

	"github.com/lethe-erasure/lethe/internal/erasure"
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
)

// inputError is a caller's mistake: the request is refused before anything
// is written. status is 400 unless the HTTP spec has a more precise code
// (404, 405, 413, 415).
type inputError struct {
	status  int
	code    string
	field   string
	message string
	// allow lists the methods of the route for a 405's Allow header.
	allow string
}

func (e *inputError) Error() string { return e.code + ": " + e.message }

func badRequest(code, field, message string) *inputError {
	return &inputError{status: http.StatusBadRequest, code: code, field: field, message: message}
}

// storeError is any failure of the request store other than the domain
// answers it is allowed to give (erasure.ErrNotFound,
// erasure.ErrIdempotencyKeyReused, which stay visible through Unwrap).
type storeError struct {
	op  string
	err error
}

func (e *storeError) Error() string { return "store " + e.op + ": " + e.err.Error() }
func (e *storeError) Unwrap() error { return e.err }

// errorBody is the JSON body of every error answer.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field"`
}

// classify is the one place where errors become HTTP answers. Messages of
// 5xx answers are generic: internals (table names, AWS error text) stay in
// the log.
func classify(err error) (status int, body errorBody, allow string) {
	var in *inputError
	var se *storeError
	switch {
	case errors.Is(err, erasure.ErrIdempotencyKeyReused):
		return http.StatusUnprocessableEntity, errorBody{errorDetail{CodeIdempotencyKeyReused,
			"this Idempotency-Key was already used for another subject; use a new key for a new request", headerIdempotencyKey}}, ""
	case errors.Is(err, erasure.ErrNotFound):
		return http.StatusNotFound, errorBody{errorDetail{CodeNotFound, "no erasure request has this id", "requestId"}}, ""
	case errors.As(err, &in):
		return in.status, errorBody{errorDetail{in.code, in.message, in.field}}, in.allow
	case errors.As(err, &se):
		return http.StatusServiceUnavailable, errorBody{errorDetail{CodeUnavailable,
			"the request store is unavailable; retry later (a retried POST or DELETE never creates a second request for the same subject or Idempotency-Key)", ""}}, ""
	default:
		return http.StatusInternalServerError, errorBody{errorDetail{CodeInternal, "internal error", ""}}, ""
	}
}
