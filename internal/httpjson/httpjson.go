// Package httpjson is how every Lethe HTTP handler answers in JSON: the
// error body {"error": {"code", "message", "field"}}, the headers every
// answer carries, Allow on a 405 and Retry-After when a retry can succeed.
//
// It exists so that this is said once. The regional API, the regional
// webhook receiver and the edge answer API Gateway events of different
// shapes (REST API v1, HTTP API v2) and map different domain errors to
// answers (each keeps its own classify), but clients, the edge's forwarder
// and operators see one wire format and branch on it; three copies would
// drift.
package httpjson

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// Error is an error answer before it is encoded: a client's mistake (a
// 4xx, refused before anything is written) made where it is found, or the
// answer a handler's classify gives to a failure. It is an error so that
// handlers can return it, wrapped or not, like any other.
type Error struct {
	Status  int
	Code    string
	Field   string
	Message string
	// Allow lists the route's methods for a 405's Allow header.
	Allow string
	// RetryAfter, in seconds, is sent as Retry-After when positive: the
	// answer to the same request may differ later (a 503, a 409 for work
	// in flight).
	RetryAfter int
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// BadRequest is the 400 of a request that is wrong as sent.
func BadRequest(code, field, message string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: code, Field: field, Message: message}
}

// NotFound is the 404 of a route or a thing that does not exist.
func NotFound(code, field, message string) *Error {
	return &Error{Status: http.StatusNotFound, Code: code, Field: field, Message: message}
}

// MethodNotAllowed is the 405 of a known route; allow becomes the Allow
// header HTTP requires with it (RFC 9110 §15.5.6).
func MethodNotAllowed(code, message, allow string) *Error {
	return &Error{Status: http.StatusMethodNotAllowed, Code: code, Message: message, Allow: allow}
}

// Conflict is the 409 of a request that the current state refuses.
func Conflict(code, field, message string) *Error {
	return &Error{Status: http.StatusConflict, Code: code, Field: field, Message: message}
}

// Unprocessable is the 422 of a well-formed request that cannot be done as
// asked (an Idempotency-Key reused for another subject).
func Unprocessable(code, field, message string) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: code, Field: field, Message: message}
}

// Unavailable is the 503 of a failure that may pass; retryAfter is the
// handler's Retry-After in seconds.
func Unavailable(code, message string, retryAfter int) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: code, Message: message, RetryAfter: retryAfter}
}

// ErrorBody is the JSON body of every error answer.
type ErrorBody struct {
	Error Detail `json:"error"`
}

// Detail is the object inside ErrorBody. Field is always sent, empty when
// no single field is at fault, so that clients can read it unconditionally.
type Detail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field"`
}

// Answer is an encoded JSON answer, ready to copy into an API Gateway
// response of either version.
type Answer struct {
	Status  int
	Headers map[string]string
	Body    string
	// Code is the error code of an error answer and empty for a success:
	// what the handler's log line records.
	Code string
	// Err is the error answered (the handler's, or the failure to encode
	// its body); nil for a success. The log line of a 5xx records it.
	Err error
}

// Headers returns the headers every JSON answer carries, in a new map the
// caller may add to: the type, no caching of personal data, no sniffing.
func Headers() map[string]string {
	return map[string]string{
		"Content-Type":           "application/json; charset=utf-8",
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
	}
}

// Respond encodes the answer to one request. When err is nil, body (nil
// for no body) is sent with status; otherwise, or when body cannot be
// encoded, classify, the handler's one mapping of errors to answers,
// decides the error answer.
func Respond(status int, body any, err error, classify func(error) *Error) Answer {
	if err != nil {
		return encodeError(classify(err), err)
	}
	a := Answer{Status: status, Headers: Headers()}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			err = fmt.Errorf("encode answer: %w", err)
			return encodeError(classify(err), err)
		}
		a.Body = string(b)
	}
	return a
}

func encodeError(e *Error, err error) Answer {
	h := Headers()
	if e.Allow != "" {
		h["Allow"] = e.Allow
	}
	if e.RetryAfter > 0 {
		h["Retry-After"] = strconv.Itoa(e.RetryAfter)
	}
	b, _ := json.Marshal(ErrorBody{Detail{e.Code, e.Message, e.Field}}) // strings only: cannot fail
	return Answer{Status: e.Status, Headers: h, Body: string(b), Code: e.Code, Err: err}
}
