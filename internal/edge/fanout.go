package edge

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/httpjson"
	"github.com/lethe-erasure/lethe/internal/metrics"
	"github.com/lethe-erasure/lethe/internal/webhook"
)

// Defaults of the fan-out.
const (
	// DefaultLease is how long a claimed delivery is left to the invocation
	// that claimed it: longer than the function may run (25 s) and than
	// the forwarder's budget, so a live invocation never loses its claim.
	DefaultLease = 60 * time.Second
	// DefaultReceiptTTL keeps residency receipts (and so de-duplication)
	// 35 days: past a provider's retry window (Shopify: 48 h) and past the
	// one-month erasure deadline, so a DPO can show where each delivery
	// of the month went.
	DefaultReceiptTTL = 35 * 24 * time.Hour
)

// forwarder is what the fan-out needs of the Forwarder.
type forwarder interface {
	Forward(ctx context.Context, r config.RegionEndpoint, w webhookPost) error
}

var _ forwarder = (*Forwarder)(nil)

// FanoutDeps are the fan-out's adapters, built once per container.
type FanoutDeps struct {
	Directory  Directory
	Deliveries Deliveries
	Quarantine Quarantine
	Secrets    Secrets
	Alerts     Alerter
	Forwarder  *Forwarder
}

// Fanout serves the edge's public routes: POST /webhooks/{provider} and the
// region redirect /t/{tenant}/{proxy+}. It is safe for concurrent use.
type Fanout struct {
	view       config.EdgeView
	multicast  map[string]bool
	tolerance  time.Duration
	quarantine time.Duration

	directory  Directory
	deliveries Deliveries
	held       Quarantine
	secrets    Secrets
	alerts     Alerter
	forward    forwarder

	options
	receiptTTL time.Duration
	newToken   func() string
	routes     []routeDef
}

// options are the defaults tests and the local runtime change, on both
// edge handlers.
type options struct {
	now func() time.Time
	// received is the clock of receipt times kept for a held delivery
	// (Lethe's clock under lethe local; default now).
	received   func() time.Time
	log        *slog.Logger
	receivedIn string
	lease      time.Duration
	// metrics counts what the handlers refuse (default: EMF lines in the
	// log).
	metrics metrics.Sink
}

// Option changes an edge handler's defaults.
type Option func(*options)

// WithClock sets the clock of signature checks, claims, receipts and
// records.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithReceiptClock sets the clock of a held delivery's receipt time, which
// its release carries to the region as the request's receivedAt: Lethe's
// clock under lethe local, where signatures are still checked on the wall
// clock.
func WithReceiptClock(now func() time.Time) Option { return func(o *options) { o.received = now } }

// WithLogger sets the structured logger (JSON to stdout by default).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithMetrics sets where the edge counts what it refuses.
func WithMetrics(s metrics.Sink) Option { return func(o *options) { o.metrics = s } }

// WithReceivedIn names the AWS region the fan-out's receipts record as
// received-in (the function's AWS_REGION; "local" on a laptop).
func WithReceivedIn(awsRegion string) Option { return func(o *options) { o.receivedIn = awsRegion } }

// WithLease sets how long a fan-out's claim keeps other invocations off a
// delivery.
func WithLease(d time.Duration) Option { return func(o *options) { o.lease = d } }

func newOptions(view config.EdgeView, opts []Option) options {
	o := options{now: time.Now, log: slog.New(slog.NewJSONHandler(os.Stdout, nil)), receivedIn: view.Edge.AWSRegion, lease: DefaultLease}
	for _, f := range opts {
		f(&o)
	}
	if o.received == nil {
		o.received = o.now
	}
	if o.metrics == nil {
		o.metrics = metrics.EMF{Log: o.log, Now: o.now}
	}
	return o
}

// multicastSet is the edge's multicast topics, "<provider>/<topic>".
func multicastSet(view config.EdgeView) map[string]bool {
	m := map[string]bool{}
	for _, t := range view.Edge.MulticastTopics {
		m[t] = true
	}
	return m
}

// NewFanout builds the fan-out over the edge's view of the configuration.
func NewFanout(view config.EdgeView, deps FanoutDeps, opts ...Option) *Fanout {
	f := &Fanout{
		view:       view,
		multicast:  multicastSet(view),
		options:    newOptions(view, opts),
		tolerance:  time.Duration(view.Edge.SignatureToleranceSeconds) * time.Second,
		quarantine: time.Duration(view.Edge.QuarantineHours) * time.Hour,
		directory:  deps.Directory,
		deliveries: deps.Deliveries,
		held:       deps.Quarantine,
		secrets:    deps.Secrets,
		alerts:     deps.Alerts,
		forward:    deps.Forwarder,
		receiptTTL: DefaultReceiptTTL,
		newToken:   uuid.NewString,
	}
	if f.quarantine <= 0 {
		f.quarantine = config.DefaultQuarantineHours * time.Hour
	}
	f.routes = []routeDef{
		{method: http.MethodPost, template: "/webhooks/{provider}", serve: f.webhook},
		{method: anyMethod, template: "/t/{tenant}", serve: f.redirect},
		{method: anyMethod, template: "/t/{tenant}/{proxy+}", serve: f.redirect},
	}
	return f
}

var errNoFanoutRoute = httpjson.NotFound(CodeRouteNotFound, "",
	"no such route; the edge has POST /webhooks/{provider} and /t/{tenant}/{path}")

// Handle answers one HTTP API (payload 2.0) event. It never returns an
// error: every failure is an HTTP answer.
func (f *Fanout) Handle(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return serveEvent(ctx, f.log, "edge webhook", f.routes, errNoFanoutRoute, ev)
}

// serveEvent routes, serves, encodes and logs one event: the part both
// edge handlers share.
func serveEvent(ctx context.Context, log *slog.Logger, msg string, routes []routeDef, noRoute *httpjson.Error, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	start := time.Now()
	r, c, err := match(routes, requestMethod(ev), requestPath(ev), noRoute)
	var rep reply
	if c == nil {
		c = &call{template: "unmatched"}
	}
	c.ev = ev
	if err == nil {
		rep, err = r.serve(ctx, c)
	}
	resp, code, err := respond(rep, err)
	if requestMethod(ev) == http.MethodHead {
		resp.Body = ""
	}
	attrs := append([]slog.Attr{
		slog.String("awsRequestId", ev.RequestContext.RequestID),
		slog.String("route", requestMethod(ev)+" "+c.template),
		slog.Int("status", resp.StatusCode),
		slog.Int64("durationMs", time.Since(start).Milliseconds()),
	}, c.attrs...)
	level := slog.LevelInfo
	if code != "" {
		attrs = append(attrs, slog.String("code", code))
		if resp.StatusCode >= 500 {
			level = slog.LevelError
			attrs = append(attrs, slog.String("error", err.Error()))
		}
	}
	log.LogAttrs(ctx, level, msg, attrs...)
	return resp, nil
}

// webhookAnswer is the body of a webhook's 2xx answer.
type webhookAnswer struct {
	Status     string `json:"status"`
	DeliveryID string `json:"deliveryId"`
}

// readBody returns the raw body, base64-decoded when API Gateway encoded
// it (it does for every body that is not text), refusing more than max
// bytes before decoding.
func readBody(ev events.APIGatewayV2HTTPRequest, max int) ([]byte, error) {
	tooLarge := &httpjson.Error{Status: http.StatusRequestEntityTooLarge, Code: CodeBodyTooLarge,
		Message: fmt.Sprintf("body must be at most %d bytes", max)}
	if !ev.IsBase64Encoded {
		if len(ev.Body) > max {
			return nil, tooLarge
		}
		return []byte(ev.Body), nil
	}
	if base64.StdEncoding.DecodedLen(len(ev.Body)) > max+2 {
		return nil, tooLarge
	}
	b, err := base64.StdEncoding.DecodeString(ev.Body)
	if err != nil {
		return nil, httpjson.BadRequest(CodeInvalidBody, "", "body is marked base64 but is not valid base64")
	}
	if len(b) > max {
		return nil, tooLarge
	}
	return b, nil
}

// webhook is POST /webhooks/{provider}.
func (f *Fanout) webhook(ctx context.Context, c *call) (reply, error) {
	name := c.params["provider"]
	p, err := webhook.Lookup(name)
	if err != nil {
		return reply{}, httpjson.NotFound(CodeUnknownProvider, "provider", err.Error())
	}
	c.attrs = append(c.attrs, slog.String("provider", name))
	body, err := readBody(c.ev, webhook.MaxBodyBytes)
	if err != nil {
		return reply{}, err
	}
	header := headerOf(c.ev)
	query, err := url.ParseQuery(c.ev.RawQueryString)
	if err != nil {
		return reply{}, httpjson.BadRequest(CodeInvalidQueryParam, "", "the query string is malformed")
	}
	d, err := p.Inspect(header, query, body)
	if err != nil {
		var inv *webhook.InvalidDelivery
		if errors.As(err, &inv) {
			return reply{}, httpjson.BadRequest(CodeInvalidWebhook, inv.Field, err.Error())
		}
		return reply{}, httpjson.BadRequest(CodeInvalidWebhook, "", "the request is not a "+name+" webhook")
	}
	tenantHash := Hash(d.Tenant)
	c.attrs = append(c.attrs, slog.String("deliveryId", d.ID), slog.String("tenantHash", tenantHash), slog.String("topic", d.Topic))
	now := f.now()

	// Verify first: nothing is read from the directory or written before
	// the signature passed, when there is a secret to check it with.
	secret, err := f.secrets.WebhookSecret(ctx, name, d.Tenant)
	verified := false
	switch {
	case err == nil:
		if err := p.Verify(header, body, secret, now, f.tolerance); err != nil {
			var se *webhook.SignatureError
			field := ""
			if errors.As(err, &se) {
				field = se.Header
			}
			return reply{}, &httpjson.Error{Status: http.StatusUnauthorized, Code: CodeInvalidSignature, Field: field, Message: err.Error()}
		}
		verified = true
	case errors.Is(err, ErrNoSecret):
	default:
		return reply{}, fmt.Errorf("read the edge's webhook secret: %w", &StoreUnavailable{Op: "secrets", Err: err})
	}

	tenant, err := f.directory.Tenant(ctx, d.Tenant)
	known := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) {
		return reply{}, err
	}
	if known && !verified {
		if f.firstThisHour(ctx, name, d.Tenant, AlertSecretMissing, now) {
			f.alert(ctx, c, Alert{Kind: AlertSecretMissing, Provider: name, DeliveryID: d.ID, TenantHash: tenantHash, Region: tenant.Region})
		}
		return reply{}, &SecretMissing{Provider: name, TenantHash: tenantHash}
	}
	if !verified {
		// Nobody can tell this delivery from a forgery: it is not stored,
		// forwarded or alerted on one by one (anyone could fill the
		// quarantine and the ops inbox with it). It is counted, and
		// operators hear of it once an hour per tenant. A tenant not yet
		// registered in a region has its deliveries held only once its
		// secret is at the edge.
		metrics.Record(ctx, f.metrics, metrics.UnverifiedWebhooks, metrics.Dims{Source: erasure.WebhookSource(name)}, 1)
		if f.firstThisHour(ctx, name, d.Tenant, AlertUnverified, now) {
			f.alert(ctx, c, Alert{Kind: AlertUnverified, Provider: name, DeliveryID: d.ID, TenantHash: tenantHash})
		}
		return reply{}, &httpjson.Error{Status: http.StatusUnauthorized, Code: CodeSignatureUnverifiable, Field: "tenant",
			Message: "the edge holds no webhook secret for this tenant, so it cannot verify the delivery; nothing was kept"}
	}

	delivery := inbound{provider: p, d: d, body: body, header: forwardHeader(p, header), rawQuery: forwardQuery(p, query),
		tenantHash: tenantHash, verified: verified}
	if !known {
		// A multicast topic (no personal data, by configuration) of a
		// tenant the directory does not know yet goes to every region, as
		// the original broadcast design did, but only when the edge could
		// verify it: an unverified body could be a genuine delivery
		// replayed under a multicast topic's name (Shopify signs the body,
		// not the topic header). Everything else waits in quarantine.
		if verified && f.multicast[d.TopicKey()] {
			targets, err := everyRegion(f.view)
			if err != nil {
				f.alert(ctx, c, Alert{Kind: AlertRegionNotDeployed, Provider: name, DeliveryID: d.ID, TenantHash: tenantHash})
				return reply{}, err
			}
			return f.deliver(ctx, c, delivery, targets, now)
		}
		return f.hold(ctx, c, delivery, now)
	}
	// A known tenant's delivery goes to its home region only, whatever its
	// topic: the other regions would only drop it.
	targets, err := homeRegion(f.view, tenant)
	if err != nil {
		f.alert(ctx, c, Alert{Kind: AlertRegionNotDeployed, Provider: name, DeliveryID: d.ID, TenantHash: tenantHash, Region: tenant.Region})
		return reply{}, err
	}
	return f.deliver(ctx, c, delivery, targets, now)
}

// firstThisHour reports whether this is the first alert of kind for the
// tenant in the current hour (UTC). The hour's receipt in the deliveries
// table is claimed once and settled, so that every other invocation of
// the hour finds it taken; a table that cannot be read alerts (a second
// mail rather than none).
func (f *Fanout) firstThisHour(ctx context.Context, provider, tenant, kind string, now time.Time) bool {
	hour := now.UTC().Truncate(time.Hour)
	r := Receipt{
		Key:        DeliveryKey(provider, tenant, "alert:"+kind+":"+hour.Format(time.RFC3339)),
		Provider:   provider,
		DeliveryID: "alert:" + kind,
		TenantHash: Hash(tenant),
		ReceivedIn: f.receivedIn,
		State:      StateClaimed,
		ReceivedAt: now,
		UpdatedAt:  now,
		Claim:      f.newToken(),
		LeaseUntil: hour.Add(time.Hour),
		ExpiresAt:  hour.Add(2 * time.Hour),
	}
	_, claimed, err := f.deliveries.Claim(ctx, r, now)
	if err != nil {
		f.log.LogAttrs(ctx, slog.LevelWarn, "alert throttle unavailable; alerting", slog.String("kind", kind), slog.String("error", err.Error()))
		return true
	}
	if !claimed {
		return false
	}
	r.State, r.Outcome = StateForwarded, OutcomeAlerted
	if err := f.deliveries.Settle(ctx, r); err != nil {
		f.log.LogAttrs(ctx, slog.LevelWarn, "alert throttle not settled", slog.String("kind", kind), slog.String("error", err.Error()))
	}
	return true
}

// inbound is a delivery on its way through the fan-out.
type inbound struct {
	provider   webhook.Provider
	d          webhook.Delivery
	body       []byte
	header     http.Header
	rawQuery   string
	tenantHash string
	verified   bool
}

func (in inbound) post() webhookPost {
	return webhookPost{provider: in.d.Provider, body: in.body, header: in.header, rawQuery: in.rawQuery}
}

// forwardHeader keeps the headers the provider's receiver reads, unchanged,
// and the body's Content-Type.
func forwardHeader(p webhook.Provider, h http.Header) http.Header {
	out := http.Header{}
	for _, name := range append([]string{"Content-Type"}, p.ForwardHeaders()...) {
		if vs := h.Values(name); len(vs) > 0 {
			out[http.CanonicalHeaderKey(name)] = append([]string(nil), vs...)
		}
	}
	return out
}

// forwardQuery keeps the query parameters the provider's receiver reads.
func forwardQuery(p webhook.Provider, q url.Values) string {
	out := url.Values{}
	for _, name := range p.ForwardQuery() {
		if vs, ok := q[name]; ok {
			out[name] = vs
		}
	}
	return out.Encode()
}

// claim takes the delivery, or answers for the invocation that has it.
func (f *Fanout) claim(ctx context.Context, c *call, in inbound, now time.Time) (Receipt, *reply, error) {
	key := DeliveryKey(in.d.Provider, in.d.Tenant, in.d.ID)
	r := Receipt{
		Key:        key,
		Provider:   in.d.Provider,
		DeliveryID: in.d.ID,
		TenantHash: in.tenantHash,
		ReceivedIn: f.receivedIn,
		State:      StateClaimed,
		ReceivedAt: now,
		UpdatedAt:  now,
		Claim:      f.newToken(),
		LeaseUntil: now.Add(f.lease),
		ExpiresAt:  now.Add(f.receiptTTL),
	}
	cur, claimed, err := f.deliveries.Claim(ctx, r, now)
	if err != nil {
		return Receipt{}, nil, err
	}
	if claimed {
		return r, nil, nil
	}
	c.attrs = append(c.attrs, slog.String("duplicateOf", string(cur.State)))
	switch cur.State {
	case StateForwarded:
		return Receipt{}, &reply{status: http.StatusOK, body: webhookAnswer{"duplicate", in.d.ID}}, nil
	case StateQuarantined:
		return Receipt{}, &reply{status: http.StatusAccepted, body: webhookAnswer{"duplicate", in.d.ID}}, nil
	case StateRejected:
		return Receipt{}, nil, httpjson.Unprocessable(CodeRegionRejected, "",
			"the home region refused this delivery before; it is not forwarded again")
	}
	inFlight := httpjson.Conflict(CodeDeliveryInFlight, "",
		"this delivery is being forwarded by another request; retry later")
	inFlight.RetryAfter = retryAfterSeconds
	return Receipt{}, nil, inFlight
}

// deliver forwards a known tenant's delivery to its targets and answers
// 200 once every target accepted.
func (f *Fanout) deliver(ctx context.Context, c *call, in inbound, targets []config.RegionEndpoint, now time.Time) (reply, error) {
	r, dup, err := f.claim(ctx, c, in, now)
	if err != nil || dup != nil {
		return deref(dup), err
	}
	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = t.Name
	}
	c.attrs = append(c.attrs, slog.Any("regions", names))

	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() { errs[i] = f.forward.Forward(ctx, t, in.post()) })
	}
	wg.Wait()

	var accepted []string
	for i, err := range errs {
		if err == nil {
			accepted = append(accepted, names[i])
		}
	}
	failure := firstFailure(errs)
	r.ForwardedTo = accepted
	r.UpdatedAt = f.now()
	if failure == nil {
		r.State, r.Outcome = StateForwarded, OutcomeForwarded
		if err := f.deliveries.Settle(ctx, r); err != nil {
			// Every region has it: the provider is answered 200, and a
			// retry (there will be none) would be filed once by the
			// region's idempotency key anyway.
			f.log.LogAttrs(ctx, slog.LevelError, "receipt not settled after forwarding",
				slog.String("deliveryId", in.d.ID), slog.String("error", err.Error()))
		}
		return reply{status: http.StatusOK, body: webhookAnswer{"forwarded", in.d.ID}}, nil
	}

	alert := Alert{Provider: in.d.Provider, DeliveryID: in.d.ID, TenantHash: in.tenantHash, Region: regionOf(failure)}
	var mr *Misrouted
	var rr *RegionRejected
	switch {
	case errors.As(failure, &mr):
		r.Outcome, alert.Kind = OutcomeMisrouted, AlertMisrouted
	case errors.As(failure, &rr):
		r.Outcome, alert.Kind, alert.Status = OutcomeRegionRejected, AlertRegionRejected, rr.Status
	default:
		r.Outcome, alert.Kind = OutcomeRegionUnavailable, AlertUndeliverable
	}
	r.State = StateReleased
	if refused := refusal(rr); refused != nil {
		// The region refused the delivery itself (a 4xx): the provider
		// is answered a 4xx, which it does not retry for days, and a
		// retry that comes anyway is answered from the receipt.
		r.State, failure = StateRejected, refused
	}
	if err := f.deliveries.Settle(ctx, r); err != nil {
		f.log.LogAttrs(ctx, slog.LevelError, "claim not released", slog.String("deliveryId", in.d.ID), slog.String("error", err.Error()))
	}
	f.alert(ctx, c, alert)
	return reply{}, failure
}

// refusal is the provider's answer when its delivery's home region refused
// the delivery itself (400, 413, 415, 422: the body names another tenant,
// is not JSON, ...): the same status and the region's error code. It is
// nil for any other refusal, such as a 401 or 403 of the region's own
// signature check or authorisation, which operators fix and after which
// the provider's retry must go through.
func refusal(rr *RegionRejected) *httpjson.Error {
	if rr == nil {
		return nil
	}
	switch rr.Status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity:
	default:
		return nil
	}
	code := rr.Code
	if code == "" {
		code = CodeRegionRejected
	}
	return &httpjson.Error{Status: rr.Status, Code: code,
		Message: fmt.Sprintf("region %s refused this delivery with HTTP %d; it is not forwarded again; operators were alerted", rr.Region, rr.Status)}
}

func deref(r *reply) reply {
	if r == nil {
		return reply{}
	}
	return *r
}

func isUnavailable(err error) bool {
	var ru *RegionUnavailable
	return errors.As(err, &ru)
}

func regionOf(err error) string {
	var (
		ru *RegionUnavailable
		mr *Misrouted
		rr *RegionRejected
		nd *RegionNotDeployed
	)
	switch {
	case errors.As(err, &ru):
		return ru.Region
	case errors.As(err, &mr):
		return mr.Region
	case errors.As(err, &rr):
		return rr.Region
	case errors.As(err, &nd):
		return nd.Region
	}
	return ""
}

// hold quarantines an unknown tenant's delivery and answers 202.
func (f *Fanout) hold(ctx context.Context, c *call, in inbound, now time.Time) (reply, error) {
	r, dup, err := f.claim(ctx, c, in, now)
	if err != nil || dup != nil {
		return deref(dup), err
	}
	id := QuarantineID(r.Key)
	c.attrs = append(c.attrs, slog.String("quarantineId", id), slog.Bool("verified", in.verified))
	h := Held{
		ID:          id,
		DeliveryKey: r.Key,
		Provider:    in.d.Provider,
		Tenant:      in.d.Tenant,
		TenantHash:  in.tenantHash,
		DeliveryID:  in.d.ID,
		Topic:       in.d.Topic,
		Verified:    in.verified,
		Body:        in.body,
		Header:      in.header,
		RawQuery:    in.rawQuery,
		ReceivedAt:  f.received(),
		ExpiresAt:   now.Add(f.quarantine),
	}
	if err := f.held.Hold(ctx, h); err != nil {
		r.State, r.Outcome, r.UpdatedAt = StateReleased, OutcomeNotHeld, f.now()
		if serr := f.deliveries.Settle(ctx, r); serr != nil {
			f.log.LogAttrs(ctx, slog.LevelError, "claim not released", slog.String("deliveryId", in.d.ID), slog.String("error", serr.Error()))
		}
		return reply{}, err
	}
	r.State, r.Outcome, r.ForwardedTo, r.UpdatedAt = StateQuarantined, OutcomeQuarantined, []string{ForwardedToQuarantine}, f.now()
	if err := f.deliveries.Settle(ctx, r); err != nil {
		f.log.LogAttrs(ctx, slog.LevelError, "receipt not settled after quarantine", slog.String("deliveryId", in.d.ID), slog.String("error", err.Error()))
	}
	f.alert(ctx, c, Alert{Kind: AlertQuarantined, Provider: in.d.Provider, DeliveryID: in.d.ID, TenantHash: in.tenantHash,
		QuarantineID: id, Verified: &in.verified})
	return reply{status: http.StatusAccepted, body: webhookAnswer{"quarantined", in.d.ID}}, nil
}

// alert publishes an ops alert; a failed publish is logged, never the
// provider's problem.
func (f *Fanout) alert(ctx context.Context, c *call, a Alert) {
	a.ReceivedIn = f.receivedIn
	if err := f.alerts.Alert(ctx, a); err != nil {
		f.log.LogAttrs(ctx, slog.LevelError, "ops alert not published", slog.String("kind", a.Kind),
			slog.String("deliveryId", a.DeliveryID), slog.String("error", err.Error()))
		return
	}
	c.attrs = append(c.attrs, slog.String("alert", a.Kind))
}

// redirect is /t/{tenant} and /t/{tenant}/{proxy+}: 302 (GET, HEAD) or 307
// (any other method, which must be repeated as is) to the same path under
// the tenant's home region's API.
func (f *Fanout) redirect(ctx context.Context, c *call) (reply, error) {
	key := c.params["tenant"]
	if !webhook.ValidTenant(key) {
		return reply{}, httpjson.BadRequest(CodeInvalidTenant, "tenant",
			"a tenant key is 1-128 lower-case letters, digits, '.', '-' or '_', starting and ending with a letter or digit")
	}
	c.attrs = append(c.attrs, slog.String("tenantHash", Hash(key)))
	path, err := redirectPath(c.rest)
	if err != nil {
		return reply{}, err
	}
	query := c.ev.RawQueryString
	for i := 0; i < len(query); i++ {
		// Characters RFC 3986 allows in a query only percent-encoded: a
		// backslash, for one, some clients read as a path separator.
		if b := query[i]; b <= ' ' || b >= 0x7f || strings.IndexByte("#\"<>\\^`{|}", b) >= 0 {
			return reply{}, httpjson.BadRequest(CodeInvalidQueryParam, "", "the query string must be percent-encoded")
		}
	}
	t, err := f.directory.Tenant(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return reply{}, httpjson.NotFound(CodeUnknownTenant, "tenant", "no region has registered this tenant")
	}
	if err != nil {
		return reply{}, err
	}
	r, ok := f.view.Region(t.Region)
	if !ok || r.APIURL == "" {
		return reply{}, &RegionNotDeployed{Region: t.Region}
	}
	loc := regionURL(r.APIURL, path)
	if query != "" {
		loc += "?" + query
	}
	status := http.StatusTemporaryRedirect
	if m := requestMethod(c.ev); m == http.MethodGet || m == http.MethodHead {
		status = http.StatusFound
	}
	c.attrs = append(c.attrs, slog.String("region", r.Name))
	return reply{status: status, header: map[string]string{"Location": loc}, body: map[string]string{"location": loc}}, nil
}

// redirectPath re-encodes the {proxy+} tail segment by segment, so that
// what goes into Location is a clean path: no dot segments (which would
// climb out of the region's stage), no control characters, encoded
// slashes kept encoded.
func redirectPath(rest string) (string, error) {
	if rest == "" {
		return "/", nil
	}
	var b strings.Builder
	for _, seg := range strings.Split(rest, "/") {
		dec, err := url.PathUnescape(seg)
		if err != nil {
			return "", httpjson.BadRequest(CodeInvalidPath, "path", "the path is not valid percent-encoding")
		}
		if dec == "." || dec == ".." {
			return "", httpjson.BadRequest(CodeInvalidPath, "path", "the path must not hold . or .. segments")
		}
		b.WriteByte('/')
		b.WriteString(url.PathEscape(dec))
	}
	return b.String(), nil
}
