// Package api is the regional HTTP API of Lethe: it takes erasure requests
// (POST /erasures, DELETE /api/user/{id}) and reports on them
// (GET /erasures/{requestId}, GET /erasures). It answers API Gateway REST
// API proxy events; the local runtime calls the same Handle from an HTTP
// adapter, so routing is done here on HTTPMethod and Path alone.
//
// Intake writes one request with a conditional write; the requests table's
// stream then starts the erasure. A data subject's id goes into the store
// and nowhere else: it is in no answer (the caller knows it, and answers are
// logged by proxies), no log line (routes are logged by template, never by
// path) and no error message.
//
// Answers the issue leaves open:
//   - A request id of another region is 404 with code wrong_region naming
//     that region; the store is not asked. (Not 421: HTTP/2 clients retry
//     421 on a new connection, which cannot help.)
//   - DELETE /api/user/{id} takes no body; a non-empty one is a 400 rather
//     than silently dropped.
//   - Body keys are matched exactly and at most once; the body must be one
//     UTF-8 JSON object. null counts as absent; tenantId "" is refused.
//   - Every store failure is 503 with Retry-After and a generic message;
//     the log line carries the error with the subject id redacted.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lethe-erasure/lethe/internal/audit"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/httpjson"
	"github.com/lethe-erasure/lethe/internal/metrics"
)

// requestStore is what the API needs of the requests table. The DynamoDB
// adapter (internal/store/dynamo) and the local runtime's embedded store
// implement it.
type requestStore interface {
	// Create stores req unless its subject already has an open request or
	// the idempotency key (may be "") was used: then it returns that
	// request with created=false. Conditional writes only. A key first used
	// for another subject gives erasure.ErrIdempotencyKeyReused.
	Create(ctx context.Context, req erasure.Request, idempotencyKey string) (stored erasure.Request, created bool, err error)
	// Get returns the request or erasure.ErrNotFound.
	Get(ctx context.Context, id string) (erasure.Request, error)
	// Page lists requests newest first after a cursor, matching a filter.
	Page(ctx context.Context, after string, limit, examine int, match func(erasure.Request) bool) ([]erasure.Request, string, error)
	// RegisterTenant records that the region owns the tenant; registering
	// again changes nothing and returns the first time, created=false.
	RegisterTenant(ctx context.Context, tenant string) (registeredAt time.Time, created bool, err error)
	// TenantRegistration returns when the tenant was registered; ok is
	// false when the region does not own it.
	TenantRegistration(ctx context.Context, tenant string) (registeredAt time.Time, ok bool, err error)
	// Change changes a request conditionally, with its audit records.
	Change(ctx context.Context, id string, fn func(*erasure.Request) ([]audit.Record, error)) (erasure.Request, error)
	// CallbackTarget names the request and subsystem a callback token's
	// hash answers for.
	CallbackTarget(ctx context.Context, hash string) (requestID, subsystem string, err error)
	// Suppressed answers which subject hashes were erased here, with their
	// requests.
	Suppressed(ctx context.Context, hashes []string) (map[string][]erasure.Erased, error)
	// AppendAudit appends region records (a tenant registration, a
	// suppression check) to the audit chain.
	AppendAudit(ctx context.Context, recs ...audit.Record) error
	// AuditFrom lists the audit chain from an entry on.
	AuditFrom(ctx context.Context, from int64, limit int) ([]audit.Record, error)
	// Audit lists audit records of a request, or of the region.
	Audit(ctx context.Context, requestID string, limit int) ([]audit.Record, error)
}

// Limits of the API. They bound what one caller can make a Lambda parse and
// store, and what one answer carries.
const (
	// MaxBodyBytes bounds a request body (after base64 decoding).
	MaxBodyBytes = 16 << 10
	// DefaultListLimit and MaxListLimit bound GET /erasures?limit=.
	DefaultListLimit = 20
	MaxListLimit     = 100
	// MaxTenantIDBytes bounds a tenant id; tenant ids are
	// [A-Za-z0-9._:-] so they are safe in logs, keys and URLs.
	MaxTenantIDBytes = 128
	// MaxIdempotencyKeyBytes bounds an Idempotency-Key header.
	MaxIdempotencyKeyBytes = 255
)

// Handler serves the API of one region. It holds no per-request state and
// is safe for concurrent use.
type Handler struct {
	store      requestStore
	subjects   erasure.SubjectHasher
	keys       KeySet
	certifier  Certifier
	tasks      TaskSender
	executions Executions
	notices    Notices
	region     config.Region
	deadline   config.Deadline
	now        func() time.Time
	newID      func(region string) (string, error)
	log        *slog.Logger
	// metrics counts requests filed (default: EMF lines in the log).
	metrics metrics.Sink
}

// Option changes a Handler's defaults; tests and the local runtime use them
// to inject a clock and a logger.
type Option func(*Handler)

// WithClock sets the clock that stamps receivedAt (and so the deadline).
// The local runtime's accelerated clock comes in here.
func WithClock(now func() time.Time) Option { return func(h *Handler) { h.now = now } }

// WithLogger sets the structured logger (JSON to stdout by default, which
// CloudWatch Logs ingests as is).
func WithLogger(l *slog.Logger) Option { return func(h *Handler) { h.log = l } }

// New builds the API of region with cfg's deadline policy. store is the
// region's requests table; subjects is the region's subject key, which
// names a subject for its lock and the suppression list.
func New(store requestStore, subjects erasure.SubjectHasher, cfg *config.Config, region config.Region, opts ...Option) *Handler {
	h := &Handler{
		store:    store,
		subjects: subjects,
		region:   region,
		deadline: cfg.Deadline,
		now:      time.Now,
		newID:    erasure.NewID,
		log:      slog.New(slog.NewJSONHandler(os.Stdout, nil)),
	}
	for _, o := range opts {
		o(h)
	}
	if h.metrics == nil {
		h.metrics = metrics.EMF{Log: h.log, Now: h.now}
	}
	return h
}

// WithMetrics sets where the handler counts what it files.
func WithMetrics(s metrics.Sink) Option { return func(h *Handler) { h.metrics = s } }

// reply is a successful answer before it is encoded.
type reply struct {
	status    int
	body      any
	location  string
	requestID string // the erasure request the answer is about, for the log
	noStore   bool   // Cache-Control: no-store (the answer holds a subject id)
	// contentType, when set, sends raw as the body instead of body as JSON
	// (a certificate is application/jose, the keys a JWK set).
	contentType string
	raw         string
	headers     map[string]string // more headers of a success
}

// Handle answers one API Gateway REST proxy event. It never returns an
// error: every failure is an HTTP answer (a returned error would become an
// opaque 502 from API Gateway).
//
// ev.Path must be the path as the client sent it, percent-encoding kept (as
// API Gateway REST APIs deliver it). Resource and PathParameters are used
// when set and ignored otherwise.
func (h *Handler) Handle(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	start := time.Now()
	rt, err := match(ev)
	var rep reply
	var subject string // for redaction of error text only
	if err == nil {
		rep, subject, err = rt.serve(h, ctx, ev, rt.param)
	}
	resp, status, code, err := h.respond(rep, err)

	attrs := []slog.Attr{
		slog.String("awsRequestId", ev.RequestContext.RequestID),
		slog.String("route", rt.name),
		slog.Int("status", status),
		slog.Int64("durationMs", time.Since(start).Milliseconds()),
	}
	if rep.requestID != "" {
		attrs = append(attrs, slog.String("requestId", rep.requestID))
	}
	level := slog.LevelInfo
	if code != "" {
		attrs = append(attrs, slog.String("code", code))
		if status >= 500 {
			level = slog.LevelError
			attrs = append(attrs, slog.String("error", erasure.Redact(err.Error(), subject)))
		}
	}
	h.log.LogAttrs(ctx, level, "api request", attrs...)
	return resp, nil
}

// respond encodes a reply or an error; it returns the status, the error
// code and the error answered, for the log.
func (h *Handler) respond(rep reply, err error) (events.APIGatewayProxyResponse, int, string, error) {
	a := httpjson.Respond(rep.status, rep.body, err, classify)
	if err == nil && rep.contentType != "" {
		a.Headers["Content-Type"], a.Body = rep.contentType, rep.raw
	}
	if err == nil {
		for k, v := range rep.headers {
			if v != "" {
				a.Headers[k] = v
			}
		}
	}
	if a.Code == "" && rep.location != "" {
		a.Headers["Location"] = rep.location
	}
	if a.Code == "" && rep.noStore {
		a.Headers["Cache-Control"] = "no-store"
	}
	return events.APIGatewayProxyResponse{StatusCode: a.Status, Headers: a.Headers, Body: a.Body}, a.Status, a.Code, a.Err
}

// route is one matched endpoint. name is the route template: it is what
// logs carry, never the path (DELETE's path holds a subject id).
type route struct {
	name  string
	param string
	serve func(h *Handler, ctx context.Context, ev events.APIGatewayProxyRequest, param string) (reply, string, error)
}

// match routes on HTTPMethod and Path. Unknown paths are 404, known paths
// with another method 405 with an Allow header.
func match(ev events.APIGatewayProxyRequest) (route, error) {
	path := ev.Path
	if len(path) > 1 {
		path = strings.TrimSuffix(path, "/")
	}
	unmatched := route{name: "unmatched " + ev.HTTPMethod}
	if !strings.HasPrefix(path, "/") {
		return unmatched, errNoRoute
	}
	segs := strings.Split(path[1:], "/")
	method := ev.HTTPMethod
	if rt, err, ok := operatorRoute(ev, segs); ok {
		return rt, err
	}
	switch {
	case len(segs) == 1 && segs[0] == "erasures":
		switch method {
		case http.MethodPost:
			return route{name: "POST /erasures", serve: (*Handler).postErasure}, nil
		case http.MethodGet:
			return route{name: "GET /erasures", serve: (*Handler).listErasures}, nil
		}
		return route{name: method + " /erasures"}, methodNotAllowed("GET, POST")
	case len(segs) == 2 && segs[0] == "erasures" && segs[1] != "":
		name := method + " /erasures/{requestId}"
		if method != http.MethodGet {
			return route{name: name}, methodNotAllowed("GET")
		}
		id, err := pathParam(ev, segs, 1)
		if err != nil {
			return route{name: name}, httpjson.BadRequest(CodeInvalidRequestID, "requestId", "the request id in the path is not valid percent-encoding")
		}
		return route{name: name, param: id, serve: (*Handler).getErasure}, nil
	case len(segs) == 3 && segs[0] == "api" && segs[1] == "user" && segs[2] != "":
		name := method + " /api/user/{id}"
		if method != http.MethodDelete {
			return route{name: name}, methodNotAllowed("DELETE")
		}
		id, err := pathParam(ev, segs, 2)
		if err != nil {
			return route{name: name}, httpjson.BadRequest(CodeInvalidSubjectID, "id", "the id in the path is not valid percent-encoding")
		}
		return route{name: name, param: id, serve: (*Handler).deleteUser}, nil
	case len(segs) == 2 && segs[0] == "tenants" && segs[1] != "":
		return tenantRoute(ev, segs)
	case len(segs) == 1 && segs[0] == "callbacks":
		if method != http.MethodPost {
			return route{name: method + " /callbacks"}, methodNotAllowed("POST")
		}
		return route{name: "POST /callbacks", serve: (*Handler).callback}, nil
	}
	return unmatched, errNoRoute
}

var errNoRoute = &httpjson.Error{Status: http.StatusNotFound, Code: CodeRouteNotFound,
	Message: "no such route; the API has POST /erasures, GET /erasures, GET /erasures/{requestId}, DELETE /api/user/{id}, PUT|GET /tenants/{tenant}, " +
		"POST /erasures/{requestId}/retry, POST /erasures/{requestId}/subsystems/{name}/attestation, GET /erasures/{requestId}/subject, POST /erasures/{requestId}/extension, GET /erasures/{requestId}/certificate, GET /keys, POST /suppressions/check, GET /audit and POST /callbacks"}

func methodNotAllowed(allow string) error {
	return httpjson.MethodNotAllowed(CodeMethodNotAllowed, "method not allowed on this route; allowed: "+allow, allow)
}

// pathParam returns the decoded path segment i. When API Gateway matched a
// resource template with a {name} at that position, its already decoded
// path parameter is used; otherwise the raw segment is percent-decoded.
func pathParam(ev events.APIGatewayProxyRequest, segs []string, i int) (string, error) {
	if rs := strings.Split(strings.Trim(ev.Resource, "/"), "/"); len(rs) == len(segs) {
		if s := rs[i]; len(s) > 2 && s[0] == '{' && s[len(s)-1] == '}' && !strings.HasSuffix(s, "+}") {
			if v := ev.PathParameters[s[1:len(s)-1]]; v != "" {
				return v, nil
			}
		}
	}
	return url.PathUnescape(segs[i])
}
