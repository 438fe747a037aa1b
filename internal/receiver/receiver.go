// Package receiver is a region's webhook receiver, POST /webhooks/{provider}
// on the regional REST API. The edge forwards each delivery here, to the
// tenant's home region only, with the raw body and the provider's signature
// headers unchanged. The route is not IAM-authorised (providers cannot
// sign with SigV4): the provider's HMAC, re-verified here with the
// region's own copy of the tenant's secret, is its authentication.
//
// For each delivery, in this order:
//
//  1. the provider is looked up (404 unknown_provider) and the body read
//     (413 over webhook.MaxBodyBytes);
//  2. the delivery is inspected: tenant, delivery id, topic (400 naming the
//     header, query parameter or field);
//  3. a tenant this region does not own is not processed. A multicast
//     topic (config Edge.MulticastTopics, "<provider>/<topic>": topics
//     carrying no personal data that the edge sends to every region) is
//     acknowledged, 200 {"status":"dropped"}. Any other topic is a
//     misroute: 409 tenant_not_owned, and when the delivery verifies with a
//     secret this region holds for the tenant, an ops alert (SNS) naming the
//     provider, topic, delivery id, the tenant key's hash and the region.
//     An unverifiable misroute is logged but not alerted: the route is
//     public, and anyone could otherwise fill ops' mailbox; the edge, which
//     verified the delivery, alerts on a 409 of its own;
//  4. the signature is verified with the region's secret
//     config.WebhookSecretName(region, provider, tenant) (401 bad_signature
//     naming the header; 503 when the secret cannot be read);
//  5. a GDPR erasure topic (webhook.Provider.Erasure) files an erasure
//     request with the store's Create, as the API does: source
//     "webhook:<provider>", the tenant as tenantId, idempotency key
//     "<provider>:<tenant>:<delivery id>", so a delivery forwarded twice
//     files one request. 202 {"requestId", ...} (200 for the request filed before);
//  6. any other topic is queued on the region's SQS queue for the product
//     (202 {"status":"queued"}).
//
// The edge delivers what it held in quarantine by ReleaseRoute (IAM
// only), where the signed timestamp may be as old as the quarantine.
//
// Nothing is written before the signature verifies; every failure is a
// JSON error {"error": {"code", "message", "field"}}. Logs carry the
// provider, topic, tenant key and delivery id, never the body or a subject
// id; alerts carry the tenant key only hashed.
package receiver

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lethe-erasure/lethe/internal/audit"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/httpjson"
	"github.com/lethe-erasure/lethe/internal/metrics"
	"github.com/lethe-erasure/lethe/internal/store/dynamo"
	"github.com/lethe-erasure/lethe/internal/webhook"
)

// Requests is what the receiver needs of the region's requests table.
type Requests interface {
	// Create is the API's intake write (see internal/api): one request per
	// open subject and per idempotency key, conditionally.
	Create(ctx context.Context, req erasure.Request, idempotencyKey string) (stored erasure.Request, created bool, err error)
	// OwnsTenant reports whether the region registered the tenant.
	OwnsTenant(ctx context.Context, tenant string) (bool, error)
	// AppendAudit records a quarantine release in the region's audit chain.
	AppendAudit(ctx context.Context, recs ...audit.Record) error
}

var _ Requests = (*dynamo.Store)(nil)

// Secrets reads a tenant's webhook secret; *secrets.Cache is one.
type Secrets interface {
	Token(ctx context.Context, src config.TokenSource) (string, error)
}

// Queue hands non-erasure deliveries to the product.
type Queue interface {
	// Send queues one message; attrs become message attributes.
	Send(ctx context.Context, body string, attrs map[string]string) error
}

// Alerts tells the region's operators about misrouted deliveries.
type Alerts interface {
	Publish(ctx context.Context, subject, message string) error
}

// Handler is the webhook receiver of one region. It holds no per-request
// state and is safe for concurrent use.
type Handler struct {
	requests  Requests
	subjects  erasure.SubjectHasher
	secrets   Secrets
	queue     Queue
	alerts    Alerts
	region    config.Region
	deadline  config.Deadline
	multicast []string
	tolerance time.Duration
	released  time.Duration // the tolerance of ReleaseRoute: quarantine time and replay window
	now       func() time.Time
	// filed is the clock of receipts: the request's receivedAt and
	// deadline, the queued message's receivedAt (default now).
	filed func() time.Time
	newID func(region string) (string, error)
	log   *slog.Logger
	// metrics counts requests filed (default: EMF lines in the log).
	metrics metrics.Sink
}

// Option changes a Handler's defaults (clock, logger), for tests and the
// local runtime.
type Option func(*Handler)

// WithClock sets the clock of signature checks and receipts.
func WithClock(now func() time.Time) Option { return func(h *Handler) { h.now = now } }

// WithReceiptClock sets the clock of receipts alone (receivedAt and the
// deadline): Lethe's clock under lethe local, where signatures are still
// checked on the wall clock.
func WithReceiptClock(now func() time.Time) Option { return func(h *Handler) { h.filed = now } }

// WithLogger sets the structured logger (JSON to stdout by default).
func WithLogger(l *slog.Logger) Option { return func(h *Handler) { h.log = l } }

// WithMetrics sets where the receiver counts what it files.
func WithMetrics(s metrics.Sink) Option { return func(h *Handler) { h.metrics = s } }

// New builds the receiver of region with cfg's deadline policy, multicast
// topics and signature tolerance (config.ForRegion carries them).
// subjects is the region's subject key (internal/subjectkey).
func New(requests Requests, subjects erasure.SubjectHasher, secrets Secrets, queue Queue, alerts Alerts, cfg *config.Config, region config.Region, opts ...Option) *Handler {
	tol := time.Duration(cfg.Edge.SignatureToleranceSeconds) * time.Second
	if tol <= 0 {
		tol = webhook.DefaultTolerance
	}
	quarantine := time.Duration(cfg.Edge.QuarantineHours) * time.Hour
	if quarantine <= 0 {
		quarantine = config.DefaultQuarantineHours * time.Hour
	}
	h := &Handler{
		requests:  requests,
		subjects:  subjects,
		secrets:   secrets,
		queue:     queue,
		alerts:    alerts,
		region:    region,
		deadline:  cfg.Deadline,
		multicast: cfg.Edge.MulticastTopics,
		tolerance: tol,
		released:  quarantine + tol,
		now:       time.Now,
		newID:     erasure.NewID,
		log:       slog.New(slog.NewJSONHandler(os.Stdout, nil)),
	}
	for _, o := range opts {
		o(h)
	}
	if h.filed == nil {
		h.filed = h.now
	}
	if h.metrics == nil {
		h.metrics = metrics.EMF{Log: h.log, Now: h.filed}
	}
	return h
}

// Route is the receiver's public route, as the regional API declares it.
const Route = "POST /webhooks/{provider}"

// ReleaseRoute is the IAM-authorised route by which the edge delivers what
// it held in quarantine until the tenant was registered. The delivery is
// verified as on Route, but its signed timestamp may be as old as the
// quarantine (plus the replay window): the edge's quarantine, not the
// provider, is what delayed it, and only the edge's role may call it.
const ReleaseRoute = "POST /webhooks/{provider}/release"

// outcome is what became of a delivery, for the answer and the log.
type outcome struct {
	status    int
	body      any
	result    string // filed, existing, queued, dropped
	requestID string
}

// trace is what the log line says about a delivery: no body, no subject.
type trace struct {
	provider string
	delivery webhook.Delivery
	subject  string // for redaction of error text only
}

// Handle answers one API Gateway REST proxy event. It never returns an
// error: every failure is an HTTP answer.
func (h *Handler) Handle(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	start := time.Now()
	var tr trace
	out, err := h.serve(ctx, ev, &tr)
	resp, status, code, err := respond(out, err)

	attrs := []slog.Attr{
		slog.String("awsRequestId", ev.RequestContext.RequestID),
		slog.String("route", Route),
		slog.Int("status", status),
		slog.Int64("durationMs", time.Since(start).Milliseconds()),
	}
	if tr.provider != "" {
		attrs = append(attrs, slog.String("provider", tr.provider))
	}
	if d := tr.delivery; d.Tenant != "" {
		attrs = append(attrs, slog.String("tenant", d.Tenant), slog.String("deliveryId", d.ID), slog.String("topic", d.Topic))
	}
	if out.result != "" {
		attrs = append(attrs, slog.String("result", out.result))
	}
	if out.requestID != "" {
		attrs = append(attrs, slog.String("requestId", out.requestID))
	}
	level := slog.LevelInfo
	if code != "" {
		attrs = append(attrs, slog.String("code", code))
		if status >= 500 || status == http.StatusConflict {
			level = slog.LevelWarn
			if status >= 500 {
				level = slog.LevelError
			}
			attrs = append(attrs, slog.String("error", erasure.Redact(err.Error(), tr.subject)))
		}
	}
	h.log.LogAttrs(ctx, level, "webhook delivery", attrs...)
	return resp, nil
}

func (h *Handler) serve(ctx context.Context, ev events.APIGatewayProxyRequest, tr *trace) (outcome, error) {
	name, released, err := providerOf(ev)
	if err != nil {
		return outcome{}, err
	}
	tolerance := h.tolerance
	if released {
		tolerance = h.released
	}
	if ev.HTTPMethod != http.MethodPost {
		return outcome{}, httpjson.MethodNotAllowed(CodeMethodNotAllowed, "webhooks are POSTed", http.MethodPost)
	}
	p, err := webhook.Lookup(name)
	if err != nil {
		return outcome{}, err
	}
	tr.provider = p.Name()
	body, err := readBody(ev)
	if err != nil {
		return outcome{}, err
	}
	hdr, query := requestHeaders(ev), requestQuery(ev)
	d, err := p.Inspect(hdr, query, body)
	if err != nil {
		return outcome{}, err
	}
	tr.delivery = d

	owned, err := h.requests.OwnsTenant(ctx, d.Tenant)
	if err != nil {
		return outcome{}, &unavailable{op: "read tenant ownership", err: err}
	}
	if !owned {
		return h.notOwned(ctx, p, d, hdr, body, tolerance)
	}

	secret, err := h.secret(ctx, d)
	if err != nil {
		return outcome{}, &unavailable{op: "read the tenant's webhook secret", err: err}
	}
	if err := p.Verify(hdr, body, secret, h.now(), tolerance); err != nil {
		return outcome{}, err
	}

	subject, isErasure, err := p.Erasure(d, body)
	if err != nil {
		return outcome{}, err
	}
	received := h.filed().UTC().Truncate(time.Millisecond)
	if released {
		received = h.receivedAtEdge(hdr, received)
	}
	var out outcome
	if isErasure {
		tr.subject = subject
		out, err = h.file(ctx, d, subject, received)
	} else {
		out, err = h.enqueue(ctx, d, body, received)
	}
	if err == nil && released {
		// A release from the quarantine is an operator's act: it goes into
		// the region's audit records (a retried release records it again).
		actor := ev.RequestContext.Identity.UserArn
		if actor == "" {
			actor = "unknown"
		}
		rec, aerr := audit.New(out.requestID, h.now(), actor, audit.ActionQuarantineRelease,
			map[string]string{"provider": d.Provider, "deliveryId": d.ID, "topic": d.Topic, "result": out.result})
		if aerr == nil {
			aerr = h.requests.AppendAudit(ctx, rec)
		}
		if aerr != nil {
			return outcome{}, &unavailable{op: "record the release in the audit records", err: aerr}
		}
	}
	return out, err
}

// receivedAtEdge is when the edge received a released delivery, as its
// release says: the request counts its deadline from then. A time that is
// missing, unreadable, later than now or older than a quarantine (and the
// replay window) allows is not believed; now is used.
func (h *Handler) receivedAtEdge(hdr http.Header, now time.Time) time.Time {
	t, err := time.Parse(time.RFC3339Nano, hdr.Get(webhook.ReceivedAtHeader))
	if err != nil || t.After(now.Add(time.Minute)) || t.Before(now.Add(-h.released-time.Hour)) {
		return now
	}
	return t.UTC().Truncate(time.Millisecond)
}

// secret reads the region's copy of the tenant's signing secret.
func (h *Handler) secret(ctx context.Context, d webhook.Delivery) ([]byte, error) {
	s, err := h.secrets.Token(ctx, config.TokenSource{
		Kind: config.TokenSecretsManager,
		Name: config.WebhookSecretName(h.region.Name, d.Provider, d.Tenant),
	})
	if err != nil {
		return nil, err
	}
	return []byte(s), nil
}

// notOwned acknowledges a multicast topic, and refuses anything else as a
// misroute (alerting when the delivery is authentic).
func (h *Handler) notOwned(ctx context.Context, p webhook.Provider, d webhook.Delivery, hdr http.Header, body []byte, tolerance time.Duration) (outcome, error) {
	if slices.Contains(h.multicast, d.TopicKey()) {
		return outcome{status: http.StatusOK, result: "dropped",
			body: map[string]string{"status": "dropped", "deliveryId": d.ID}}, nil
	}
	// The 409 is the same whatever happened next; why (not) alerted is for
	// the log line only.
	misroute := httpjson.Conflict(CodeTenantNotOwned, "tenant",
		fmt.Sprintf("region %s does not own this tenant; the edge routes each tenant to its home region", h.region.Name))
	secret, err := h.secret(ctx, d)
	if err != nil {
		return outcome{}, fmt.Errorf("%w; not alerted: no secret for the tenant in this region, the delivery cannot be verified", misroute)
	}
	if err := p.Verify(hdr, body, secret, h.now(), tolerance); err != nil {
		return outcome{}, fmt.Errorf("%w; not alerted: the delivery does not verify (%v)", misroute, err)
	}
	if err := h.alerts.Publish(ctx, h.alertSubject(), h.alertMessage(d)); err != nil {
		return outcome{}, fmt.Errorf("%w; the misroute alert could not be published: %v", misroute, err)
	}
	return outcome{}, fmt.Errorf("%w; alerted", misroute)
}

// TenantHash is how alerts name a tenant: hex SHA-256 of the key, so that
// an alert mail identifies the tenant to whoever holds the directory
// without naming it.
func TenantHash(tenant string) string {
	sum := sha256.Sum256([]byte(tenant))
	return hex.EncodeToString(sum[:])
}

func (h *Handler) alertSubject() string {
	return "Lethe " + h.region.Name + ": misrouted webhook refused"
}

func (h *Handler) alertMessage(d webhook.Delivery) string {
	return fmt.Sprintf(`A webhook delivery reached region %s, which does not own its tenant, and was refused (409).
The provider will retry; nothing was stored. Check the edge's tenant directory and this region's registrations (GET /tenants/{tenant}).

region:      %s
provider:    %s
topic:       %s
delivery id: %s
tenant hash: %s (hex SHA-256 of the tenant key)
`, h.region.Name, h.region.Name, d.Provider, d.Topic, d.ID, TenantHash(d.Tenant))
}

// file creates the erasure request a verified delivery asks for.
func (h *Handler) file(ctx context.Context, d webhook.Delivery, subject string, received time.Time) (outcome, error) {
	id, err := h.newID(h.region.Name)
	if err != nil {
		return outcome{}, err
	}
	subs := make([]erasure.SubsystemResult, len(h.region.Subsystems))
	for i, s := range h.region.Subsystems {
		subs[i] = erasure.SubsystemResult{Name: s.Name, Mode: string(s.Mode), Status: erasure.SubsystemPending}
	}
	req := erasure.Request{
		ID:         id,
		TenantID:   d.Tenant,
		Source:     erasure.WebhookSource(d.Provider),
		Status:     erasure.StatusPending,
		ReceivedAt: received,
		Deadline:   h.deadline.After(received),
		Subsystems: subs,
	}
	if err := req.SetSubject(h.subjects, subject); err != nil {
		return outcome{}, err
	}
	stored, created, err := h.requests.Create(ctx, req, d.IdempotencyKey())
	if err != nil {
		if errors.Is(err, erasure.ErrIdempotencyKeyReused) {
			return outcome{}, err
		}
		return outcome{}, &unavailable{op: "file the erasure request", err: err}
	}
	out := outcome{status: http.StatusAccepted, result: "filed", requestID: stored.ID}
	if !created {
		out.status, out.result = http.StatusOK, "existing"
	} else {
		metrics.Record(ctx, h.metrics, metrics.ErasuresReceived, metrics.Dims{Region: h.region.Name, Source: stored.Source}, 1)
	}
	out.body = filedView{
		RequestID:  stored.ID,
		Status:     stored.Status,
		Source:     stored.Source,
		TenantID:   stored.TenantID,
		ReceivedAt: stored.ReceivedAt.UTC().Format(timeFormat),
		Deadline:   stored.Deadline.UTC().Format(timeFormat),
		DeliveryID: d.ID,
	}
	return out, nil
}

// timeFormat is the API's: RFC 3339 in UTC with milliseconds.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

// filedView answers a delivery that filed (or found) an erasure request.
// Like the API's answers it has no subject id.
type filedView struct {
	RequestID  string         `json:"requestId"`
	Status     erasure.Status `json:"status"`
	Source     string         `json:"source"`
	TenantID   string         `json:"tenantId"`
	ReceivedAt string         `json:"receivedAt"`
	Deadline   string         `json:"deadline"`
	DeliveryID string         `json:"deliveryId"`
}

// providerOf reads {provider} from the matched resource's path parameter,
// or from the path when no resource was matched (the local runtime), and
// whether the request came by ReleaseRoute.
func providerOf(ev events.APIGatewayProxyRequest) (provider string, released bool, err error) {
	segs := strings.Split(strings.Trim(ev.Path, "/"), "/")
	if ev.Resource != "" {
		released = strings.HasSuffix(ev.Resource, "/release")
	} else {
		released = len(segs) >= 3 && segs[len(segs)-1] == "release" && segs[len(segs)-3] == "webhooks"
	}
	if p := ev.PathParameters["provider"]; p != "" {
		return p, released, nil
	}
	if released {
		segs = segs[:len(segs)-1]
	}
	if n := len(segs); n >= 2 && segs[n-2] == "webhooks" && segs[n-1] != "" {
		p, err := url.PathUnescape(segs[n-1])
		if err != nil {
			return "", false, &webhook.UnknownProvider{}
		}
		return p, released, nil
	}
	return "", false, httpjson.NotFound(CodeRouteNotFound, "",
		"no such route; the receiver has "+Route+" and "+ReleaseRoute)
}

// requestHeaders builds the request's headers from the event (multi-value
// headers when API Gateway filled them).
func requestHeaders(ev events.APIGatewayProxyRequest) http.Header {
	h := http.Header{}
	if len(ev.MultiValueHeaders) > 0 {
		for k, vs := range ev.MultiValueHeaders {
			for _, v := range vs {
				h.Add(k, v)
			}
		}
		return h
	}
	for k, v := range ev.Headers {
		h.Add(k, v)
	}
	return h
}

// requestQuery builds the request's query from the event. API Gateway
// delivers the parameters decoded.
func requestQuery(ev events.APIGatewayProxyRequest) url.Values {
	q := url.Values{}
	if len(ev.MultiValueQueryStringParameters) > 0 {
		for k, vs := range ev.MultiValueQueryStringParameters {
			q[k] = append(q[k], vs...)
		}
		return q
	}
	for k, v := range ev.QueryStringParameters {
		q.Set(k, v)
	}
	return q
}

// readBody returns the raw body, base64-decoded when API Gateway encoded it
// (binary media types), refusing more than webhook.MaxBodyBytes.
func readBody(ev events.APIGatewayProxyRequest) ([]byte, error) {
	tooLarge := &httpjson.Error{Status: http.StatusRequestEntityTooLarge, Code: CodeBodyTooLarge,
		Message: fmt.Sprintf("body must be at most %d bytes", webhook.MaxBodyBytes)}
	if !ev.IsBase64Encoded {
		if len(ev.Body) > webhook.MaxBodyBytes {
			return nil, tooLarge
		}
		return []byte(ev.Body), nil
	}
	if base64.StdEncoding.DecodedLen(len(ev.Body)) > webhook.MaxBodyBytes+2 {
		return nil, tooLarge
	}
	b, err := base64.StdEncoding.DecodeString(ev.Body)
	if err != nil {
		return nil, httpjson.BadRequest(CodeInvalidBody, "", "body is marked base64 but is not valid base64")
	}
	if len(b) > webhook.MaxBodyBytes {
		return nil, tooLarge
	}
	return b, nil
}
