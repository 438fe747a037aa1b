package edge

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lethe-erasure/lethe/internal/httpjson"
)

// Error codes of the {"error": {"code", "message", "field"}} bodies. They
// are part of the API: callers branch on them.
const (
	CodeRouteNotFound      = "route_not_found"
	CodeMethodNotAllowed   = "method_not_allowed"
	CodeUnknownProvider    = "unknown_provider"
	CodeInvalidWebhook     = "invalid_webhook"
	CodeInvalidSignature   = "invalid_signature"
	CodeBodyTooLarge       = "body_too_large"
	CodeInvalidBody        = "invalid_body"
	CodeInvalidJSON        = "invalid_json"
	CodeUnknownField       = "unknown_field"
	CodeDuplicateField     = "duplicate_field"
	CodeInvalidType        = "invalid_type"
	CodeRequired           = "required"
	CodeInvalidTenant      = "invalid_tenant"
	CodeInvalidPath        = "invalid_path"
	CodeUnknownTenant      = "unknown_tenant"
	CodeUnknownRegion      = "unknown_region"
	CodeTenantConflict     = "tenant_registered_elsewhere"
	CodeInvalidSubjectID   = "invalid_subject_id"
	CodeInvalidID          = "invalid_id"
	CodeNotFound           = "not_found"
	CodeInvalidIdempotency = "invalid_idempotency_key"
	CodeIdempotencyReused  = "idempotency_key_reused"
	CodeUnsupportedMedia   = "unsupported_media_type"
	CodeDeliveryInFlight   = "delivery_in_flight"
	CodeRegionNotDeployed  = "region_not_deployed"
	CodeRegionUnavailable  = "region_unavailable"
	CodeMisrouted          = "misrouted"
	CodeRegionRejected     = "region_rejected"
	CodeSecretMissing      = "secret_missing"
	// CodeSignatureUnverifiable: no secret for the tenant at the edge.
	CodeSignatureUnverifiable = "signature_unverifiable"
	CodeUnavailable           = "unavailable"
	CodeInternal              = "internal"
	CodeInvalidQueryParam     = "invalid_query"
	CodeQuarantineNotKnown    = "tenant_still_unknown"
	CodeTooManyTenants        = "too_many_tenants"
	CodeDuplicateTenant       = "duplicate_tenant"
	// CodeInvalidCursor: a listing's next is not one it handed out.
	CodeInvalidCursor = "invalid_cursor"
)

// RegionUnavailable means a region did not answer 2xx after the bounded
// retries (network error, timeout, 5xx, 429).
type RegionUnavailable struct {
	Region string
	// Status is the last HTTP status, 0 when there was no answer.
	Status int
	Err    error
}

func (e *RegionUnavailable) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("region %s unavailable: %v", e.Region, e.Err)
	}
	return fmt.Sprintf("region %s unavailable: HTTP %d", e.Region, e.Status)
}

// Unwrap exposes the transport error.
func (e *RegionUnavailable) Unwrap() error { return e.Err }

// Misrouted means a region answered 409 to a forwarded webhook: it does not
// own the tenant, so the directory is wrong.
type Misrouted struct{ Region string }

func (e *Misrouted) Error() string { return "region " + e.Region + " does not own the tenant (409)" }

// RegionRejected means a region refused a request with a 4xx that retrying
// cannot change (a signature its own secret does not match, a body it
// refuses, an IAM denial).
type RegionRejected struct {
	Region string
	Status int
	// Code is the region's error code when it sent the house error body.
	Code string
}

func (e *RegionRejected) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("region %s refused: HTTP %d %s", e.Region, e.Status, e.Code)
	}
	return fmt.Sprintf("region %s refused: HTTP %d", e.Region, e.Status)
}

// RegionNotDeployed means the region has no apiUrl in the configuration.
type RegionNotDeployed struct{ Region string }

func (e *RegionNotDeployed) Error() string {
	return "region " + e.Region + " has no apiUrl (not deployed)"
}

// SecretMissing means a registered tenant has no webhook secret at the edge.
type SecretMissing struct{ Provider, TenantHash string }

func (e *SecretMissing) Error() string {
	return "no edge webhook secret for a registered " + e.Provider + " tenant " + e.TenantHash
}

// retryAfterSeconds is the Retry-After of 503 and 409 answers.
const retryAfterSeconds = 30

// classify is the one place where errors become HTTP answers. 5xx
// messages are generic: internals stay in the log.
func classify(err error) *httpjson.Error {
	var (
		in  *httpjson.Error
		tc  *TenantConflict
		ru  *RegionUnavailable
		mr  *Misrouted
		rr  *RegionRejected
		nd  *RegionNotDeployed
		sm  *SecretMissing
		sto *StoreUnavailable
	)
	switch {
	case errors.As(err, &in):
		return in
	case errors.As(err, &tc):
		return httpjson.Conflict(CodeTenantConflict, "region",
			"the tenant is registered in region "+tc.Current+"; send {\"region\": ..., \"move\": true} to move it")
	case errors.As(err, &ru):
		return httpjson.Unavailable(CodeRegionUnavailable,
			"region "+ru.Region+" did not accept in time; retry later (nothing was kept at the edge)", retryAfterSeconds)
	case errors.As(err, &mr):
		return &httpjson.Error{Status: http.StatusBadGateway, Code: CodeMisrouted,
			Message: "region " + mr.Region + " does not own the tenant; operators were alerted"}
	case errors.As(err, &rr):
		return &httpjson.Error{Status: http.StatusBadGateway, Code: CodeRegionRejected,
			Message: fmt.Sprintf("region %s refused with HTTP %d; operators were alerted", rr.Region, rr.Status)}
	case errors.As(err, &nd):
		return httpjson.Unavailable(CodeRegionNotDeployed, "region "+nd.Region+" is not deployed yet", retryAfterSeconds)
	case errors.As(err, &sm):
		return httpjson.Unavailable(CodeSecretMissing,
			"the edge holds no webhook secret for this tenant; operators were alerted", retryAfterSeconds)
	case errors.As(err, &sto):
		return httpjson.Unavailable(CodeUnavailable, "the edge's tables are unavailable; retry later", retryAfterSeconds)
	default:
		return &httpjson.Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error"}
	}
}

// reply is a successful answer before it is encoded.
type reply struct {
	status int
	body   any
	header map[string]string
}

// respond encodes a reply or an error as an HTTP API answer; it returns the
// error code and the error answered, for the log line.
func respond(rep reply, err error) (events.APIGatewayV2HTTPResponse, string, error) {
	a := httpjson.Respond(rep.status, rep.body, err, classify)
	if a.Code == "" {
		for k, v := range rep.header {
			a.Headers[k] = v
		}
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: a.Status, Headers: a.Headers, Body: a.Body}, a.Code, a.Err
}
