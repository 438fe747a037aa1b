package edge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/httpjson"
	"github.com/lethe-erasure/lethe/internal/strictjson"
	"github.com/lethe-erasure/lethe/internal/webhook"
)

// Limits of the edge API.
const (
	// MaxAPIBodyBytes bounds an operator request's body.
	MaxAPIBodyBytes = 16 << 10
	// MaxTenantsPerErasure bounds the tenants of one global erasure.
	MaxTenantsPerErasure = 100
	// DefaultListLimit and MaxListLimit bound a page of the operator
	// listings: GET /tenants, /erasures, /receipts and /quarantine.
	DefaultListLimit = 50
	MaxListLimit     = 200
	// DefaultQuarantineList and MaxQuarantineList bound GET /quarantine.
	DefaultQuarantineList = DefaultListLimit
	MaxQuarantineList     = MaxListLimit
	// MaxCursorBytes bounds a listing's next parameter: the stores' cursors
	// are a few hundred bytes at most.
	MaxCursorBytes = 1024
	// MaxIdempotencyKeyBytes bounds an Idempotency-Key; with the global id
	// and the region appended it stays within the regional API's 255.
	MaxIdempotencyKeyBytes = 200
	// GlobalIdempotencyTTL is how long an Idempotency-Key of POST /erasures
	// keeps returning its global erasure: an operator's retry window (the
	// regional filings it made keep their own keys longer).
	GlobalIdempotencyTTL = 24 * time.Hour
)

// globalIDRE matches global erasure ids: eg_<uuidv7>.
var globalIDRE = regexp.MustCompile(`^eg_[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// NewGlobalID returns a new global erasure id: "eg_" + a UUIDv7, so ids
// sort by time and never look like a regional request id (er_<region>_...).
func NewGlobalID() (string, error) {
	u, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("new global id: %w", err)
	}
	return "eg_" + u.String(), nil
}

// APIDeps are the edge API's adapters, built once per container.
type APIDeps struct {
	Directory  Directory
	Deliveries Deliveries
	Quarantine Quarantine
	Globals    Globals
	Regions    Regions
	Forwarder  *Forwarder
}

// API serves the edge's operator routes (IAM-authorised): the tenant
// directory, the quarantine and global erasures.
type API struct {
	view       config.EdgeView
	multicast  map[string]bool
	directory  Directory
	deliveries Deliveries
	quarantine Quarantine
	globals    Globals
	regions    Regions
	forward    forwarder
	options
	newID  func() (string, error)
	routes []routeDef
}

// NewAPI builds the edge API over the edge's view of the configuration.
func NewAPI(view config.EdgeView, deps APIDeps, opts ...Option) *API {
	a := &API{
		view:       view,
		multicast:  multicastSet(view),
		options:    newOptions(view, opts),
		directory:  deps.Directory,
		deliveries: deps.Deliveries,
		quarantine: deps.Quarantine,
		globals:    deps.Globals,
		regions:    deps.Regions,
		forward:    deps.Forwarder,
		newID:      NewGlobalID,
	}
	a.routes = []routeDef{
		{method: http.MethodGet, template: "/tenants", serve: a.listTenants},
		{method: http.MethodGet, template: "/tenants/{tenant}", serve: a.getTenant},
		{method: http.MethodPut, template: "/tenants/{tenant}", serve: a.putTenant},
		{method: http.MethodGet, template: "/quarantine", serve: a.listQuarantine},
		{method: http.MethodPost, template: "/quarantine/{id}/release", serve: a.release},
		{method: http.MethodGet, template: "/erasures", serve: a.listErasures},
		{method: http.MethodPost, template: "/erasures", serve: a.postErasure},
		{method: http.MethodGet, template: "/erasures/{globalId}", serve: a.getErasure},
		{method: http.MethodGet, template: "/receipts", serve: a.listReceipts},
	}
	return a
}

var errNoAPIRoute = httpjson.NotFound(CodeRouteNotFound, "",
	"no such route; the edge API has GET /tenants, GET|PUT /tenants/{tenant}, GET /quarantine, POST /quarantine/{id}/release, "+
		"GET|POST /erasures, GET /erasures/{globalId} and GET /receipts")

// Handle answers one HTTP API (payload 2.0) event. It never returns an
// error. The caller's IAM principal is logged (who registered, moved or
// released what); the subject id of POST /erasures never is.
func (a *API) Handle(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	log := a.log
	if az := ev.RequestContext.Authorizer; az != nil && az.IAM != nil && az.IAM.UserARN != "" {
		log = log.With(slog.String("caller", az.IAM.UserARN))
	}
	return serveEvent(ctx, log, "edge api request", a.routes, errNoAPIRoute, ev)
}

// timeFormat is RFC 3339 in UTC with milliseconds, as the regional API.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeFormat)
}

// TenantView is a directory entry in an answer: GET and PUT
// /tenants/{tenant}, and each of GET /tenants. Exported, as the other
// answers' views, for the Go clients of the API, which decode answers into
// them rather than keeping a copy of the wire format.
type TenantView struct {
	Tenant       string `json:"tenant"`
	Region       string `json:"region"`
	RegisteredAt string `json:"registeredAt"`
	UpdatedAt    string `json:"updatedAt"`
}

func newTenantView(t Tenant) TenantView {
	return TenantView{Tenant: t.Key, Region: t.Region, RegisteredAt: formatTime(t.RegisteredAt), UpdatedAt: formatTime(t.UpdatedAt)}
}

func tenantParam(c *call) (string, error) {
	key := c.params["tenant"]
	if err := webhook.ValidateTenant("tenant", key); err != nil {
		return "", httpjson.BadRequest(CodeInvalidTenant, "tenant", err.Error())
	}
	c.attrs = append(c.attrs, slog.String("tenant", key))
	return key, nil
}

// getTenant is GET /tenants/{tenant}.
func (a *API) getTenant(ctx context.Context, c *call) (reply, error) {
	key, err := tenantParam(c)
	if err != nil {
		return reply{}, err
	}
	t, err := a.directory.Tenant(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return reply{}, httpjson.NotFound(CodeUnknownTenant, "tenant", "no region has registered this tenant")
	}
	if err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusOK, body: newTenantView(t)}, nil
}

// putTenant is PUT /tenants/{tenant} {"region": "eu", "move"?: true}.
func (a *API) putTenant(ctx context.Context, c *call) (reply, error) {
	key, err := tenantParam(c)
	if err != nil {
		return reply{}, err
	}
	fields, err := jsonBody(c.ev, "region", "move")
	if err != nil {
		return reply{}, err
	}
	region, err := stringField(fields, "region", true)
	if err != nil {
		return reply{}, err
	}
	if _, ok := a.view.Region(region); !ok {
		return reply{}, httpjson.BadRequest(CodeUnknownRegion, "region", "region must be one of "+strings.Join(a.regionNames(), ", "))
	}
	move := false
	if raw, ok := fields["move"]; ok && string(raw) != "null" {
		if json.Unmarshal(raw, &move) != nil {
			return reply{}, httpjson.BadRequest(CodeInvalidType, "move", "move must be true or false")
		}
	}
	c.attrs = append(c.attrs, slog.String("region", region), slog.Bool("move", move))
	t, created, changed, err := a.directory.PutTenant(ctx, key, region, move, a.now())
	if err != nil {
		return reply{}, err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	c.attrs = append(c.attrs, slog.Bool("changed", changed))
	return reply{status: status, body: newTenantView(t)}, nil
}

func (a *API) regionNames() []string {
	names := make([]string, len(a.view.Regions))
	for i, r := range a.view.Regions {
		names[i] = r.Name
	}
	return names
}

// HeldView is one held delivery in GET /quarantine: no body, no headers,
// no tenant key. Exported for the operator CLI, which decodes the answer
// into it rather than keeping a copy of the wire format.
type HeldView struct {
	ID         string `json:"id"`
	Provider   string `json:"provider"`
	DeliveryID string `json:"deliveryId"`
	Topic      string `json:"topic"`
	TenantHash string `json:"tenantKeySha256"`
	Verified   bool   `json:"signatureVerified"`
	ReceivedAt string `json:"receivedAt"`
	ExpiresAt  string `json:"expiresAt"`
}

// listQuarantine is GET /quarantine[?limit=N][&tenant=<key>]: held
// deliveries newest first. tenant filters by the key's hash, so an
// operator about to register a tenant can see what it will release.
func (a *API) listQuarantine(ctx context.Context, c *call) (reply, error) {
	q, limit, err := listQuery(c, "GET /quarantine", "tenant")
	if err != nil {
		return reply{}, err
	}
	wantHash := ""
	if vs := q["tenant"]; len(vs) > 0 {
		if len(vs) > 1 || !webhook.ValidTenant(vs[0]) {
			return reply{}, httpjson.BadRequest(CodeInvalidTenant, "tenant", "tenant must be given once, a tenant key")
		}
		wantHash = Hash(vs[0])
	}
	held, err := a.quarantine.List(ctx, MaxQuarantineList)
	if err != nil {
		return reply{}, err
	}
	out := struct {
		Held []HeldView `json:"held"`
	}{Held: []HeldView{}}
	for _, h := range held {
		if wantHash != "" && h.TenantHash != wantHash {
			continue
		}
		if len(out.Held) == limit {
			break
		}
		out.Held = append(out.Held, HeldView{ID: h.ID, Provider: h.Provider, DeliveryID: h.DeliveryID, Topic: h.Topic,
			TenantHash: h.TenantHash, Verified: h.Verified, ReceivedAt: formatTime(h.ReceivedAt), ExpiresAt: formatTime(h.ExpiresAt)})
	}
	return reply{status: http.StatusOK, body: out}, nil
}

// release is POST /quarantine/{id}/release: a held delivery whose tenant is
// registered now goes to its region(s) like a fresh delivery and leaves the
// quarantine once they accepted.
func (a *API) release(ctx context.Context, c *call) (reply, error) {
	id := c.params["id"]
	if !quarantineIDRE.MatchString(id) {
		return reply{}, httpjson.BadRequest(CodeInvalidID, "id", "a quarantine id is q_ and 32 hex digits")
	}
	c.attrs = append(c.attrs, slog.String("quarantineId", id))
	if strings.TrimSpace(c.ev.Body) != "" {
		return reply{}, httpjson.BadRequest(CodeInvalidBody, "", "release takes no body")
	}
	h, err := a.quarantine.Held(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return reply{}, httpjson.NotFound(CodeNotFound, "id", "no held delivery has this id (released, or expired)")
	}
	if err != nil {
		return reply{}, err
	}
	c.attrs = append(c.attrs, slog.String("provider", h.Provider), slog.String("deliveryId", h.DeliveryID), slog.String("tenantHash", h.TenantHash))
	t, err := a.directory.Tenant(ctx, h.Tenant)
	if errors.Is(err, ErrNotFound) {
		return reply{}, httpjson.Conflict(CodeQuarantineNotKnown, "id", "the delivery's tenant is still not registered; PUT /tenants/{tenant} first")
	}
	if err != nil {
		return reply{}, err
	}
	targets, err := homeRegion(a.view, t)
	if err != nil {
		return reply{}, err
	}
	header := h.Header.Clone()
	if header == nil {
		header = http.Header{}
	}
	header.Set(webhook.ReceivedAtHeader, h.ReceivedAt.UTC().Format(time.RFC3339Nano))
	post := webhookPost{provider: h.Provider, body: h.Body, header: header, rawQuery: h.RawQuery}
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, r := range targets {
		wg.Go(func() { errs[i] = a.forward.Forward(ctx, r, post) })
	}
	wg.Wait()
	names := make([]string, len(targets))
	for i, r := range targets {
		names[i] = r.Name
	}
	c.attrs = append(c.attrs, slog.Any("regions", names))
	if err := firstFailure(errs); err != nil {
		return reply{}, err // still held; the release can be retried
	}
	now := a.now()
	if err := a.deliveries.Released(ctx, h.DeliveryKey, names, now); err != nil {
		return reply{}, err
	}
	if err := a.quarantine.Drop(ctx, id); err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusOK, body: map[string]any{"id": id, "status": "released", "regions": names}}, nil
}

// homeRegion is where a known tenant's delivery goes, whatever its topic:
// its home region only (the others would only drop it).
func homeRegion(view config.EdgeView, t Tenant) ([]config.RegionEndpoint, error) {
	r, ok := view.Region(t.Region)
	if !ok || r.APIURL == "" {
		return nil, &RegionNotDeployed{Region: t.Region}
	}
	return []config.RegionEndpoint{r}, nil
}

// everyRegion is every deployed region: where a verified multicast delivery
// of a tenant not in the directory goes.
func everyRegion(view config.EdgeView) ([]config.RegionEndpoint, error) {
	var all []config.RegionEndpoint
	for _, r := range view.Regions {
		if r.APIURL != "" {
			all = append(all, r)
		}
	}
	if len(all) == 0 {
		return nil, &RegionNotDeployed{Region: "any"}
	}
	return all, nil
}

// firstFailure returns the most telling error: a refusal before an outage.
func firstFailure(errs []error) error {
	var failure error
	for _, err := range errs {
		if err != nil && (failure == nil || isUnavailable(failure)) {
			failure = err
		}
	}
	return failure
}

// GlobalRegionView is one region of a global erasure in an answer.
type GlobalRegionView struct {
	Region    string `json:"region"`
	RequestID string `json:"requestId"`
	Status    string `json:"status,omitempty"`
}

// postErasure is POST /erasures {"subjectId", "tenantIds": [...]}: one
// regional erasure in each home region of the tenants, filed with
// Idempotency-Key "<globalId>:<region>".
func (a *API) postErasure(ctx context.Context, c *call) (reply, error) {
	key, err := idempotencyKey(c.ev)
	if err != nil {
		return reply{}, err
	}
	fields, err := jsonBody(c.ev, "subjectId", "tenantIds")
	if err != nil {
		return reply{}, err
	}
	subject, err := stringField(fields, "subjectId", true)
	if err != nil {
		return reply{}, err
	}
	if err := erasure.ValidateSubjectID(subject); err != nil {
		return reply{}, httpjson.BadRequest(CodeInvalidSubjectID, "subjectId", "subjectId "+err.Error())
	}
	tenants, err := tenantList(fields)
	if err != nil {
		return reply{}, err
	}

	// Resolve every tenant before anything is filed: one unknown tenant
	// files nothing anywhere.
	byRegion := map[string][]string{}
	for i, key := range tenants {
		t, err := a.directory.Tenant(ctx, key)
		if errors.Is(err, ErrNotFound) {
			return reply{}, httpjson.Unprocessable(CodeUnknownTenant, fmt.Sprintf("tenantIds[%d]", i), "no region has registered this tenant")
		}
		if err != nil {
			return reply{}, err
		}
		byRegion[t.Region] = append(byRegion[t.Region], key)
	}
	var targets []config.RegionEndpoint
	for _, r := range a.view.Regions {
		if _, ok := byRegion[r.Name]; !ok {
			continue
		}
		if r.APIURL == "" {
			return reply{}, &RegionNotDeployed{Region: r.Name}
		}
		targets = append(targets, r)
	}
	if len(targets) != len(byRegion) {
		for name := range byRegion {
			if _, ok := a.view.Region(name); !ok {
				return reply{}, &RegionNotDeployed{Region: name}
			}
		}
	}

	id, err := a.newID()
	if err != nil {
		return reply{}, err
	}
	if key != "" {
		plan := Hash(strings.Join(tenants, "\n"))
		bound, boundPlan, _, err := a.globals.ClaimIdempotencyKey(ctx, Hash(key), id, plan, a.now().Add(GlobalIdempotencyTTL))
		if err != nil {
			return reply{}, err
		}
		if boundPlan != plan {
			return reply{}, errKeyReused
		}
		id = bound
	}
	c.attrs = append(c.attrs, slog.String("globalId", id))

	ids := make([]string, len(targets))
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, r := range targets {
		f := Filing{SubjectID: subject, IdempotencyKey: id + ":" + r.Name}
		if ts := byRegion[r.Name]; len(ts) == 1 {
			f.TenantID = ts[0]
		}
		wg.Go(func() { ids[i], errs[i] = a.regions.File(ctx, r, f) })
	}
	wg.Wait()
	for _, err := range errs {
		if errors.Is(err, erasure.ErrIdempotencyKeyReused) {
			return reply{}, errKeyReused
		}
	}
	if err := firstFailure(errs); err != nil {
		// What was filed stays filed: a retry (with the same
		// Idempotency-Key, or without: a region returns the subject's
		// open request) finds it again.
		return reply{}, err
	}
	g := Global{ID: id, CreatedAt: a.now()}
	views := make([]GlobalRegionView, len(targets))
	for i, r := range targets {
		g.Regions = append(g.Regions, GlobalRegion{Region: r.Name, RequestID: ids[i]})
		views[i] = GlobalRegionView{Region: r.Name, RequestID: ids[i]}
	}
	c.attrs = append(c.attrs, slog.Any("regions", views))
	if err := a.globals.CreateGlobal(ctx, g); err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusAccepted, header: map[string]string{"Location": "/erasures/" + id},
		body: map[string]any{"globalId": id, "regions": views, "statusUrl": "/erasures/" + id}}, nil
}

var errKeyReused = httpjson.Unprocessable(CodeIdempotencyReused, "Idempotency-Key",
	"this Idempotency-Key was already used for another erasure; use a new key for a new request")

// tenantList reads tenantIds: 1-MaxTenantsPerErasure tenant keys, no
// duplicates; returned sorted.
func tenantList(fields map[string]json.RawMessage) ([]string, error) {
	raw, ok := fields["tenantIds"]
	if !ok || string(raw) == "null" {
		return nil, httpjson.BadRequest(CodeRequired, "tenantIds", "tenantIds is required: the tenants the subject is known under")
	}
	var list []json.RawMessage
	if raw[0] != '[' || json.Unmarshal(raw, &list) != nil {
		return nil, httpjson.BadRequest(CodeInvalidType, "tenantIds", "tenantIds must be an array of tenant keys")
	}
	if len(list) == 0 || len(list) > MaxTenantsPerErasure {
		return nil, httpjson.BadRequest(CodeTooManyTenants, "tenantIds", fmt.Sprintf("tenantIds must hold 1-%d tenant keys", MaxTenantsPerErasure))
	}
	seen := map[string]bool{}
	out := make([]string, 0, len(list))
	for i, r := range list {
		field := fmt.Sprintf("tenantIds[%d]", i)
		var s string
		if r[0] != '"' || json.Unmarshal(r, &s) != nil {
			return nil, httpjson.BadRequest(CodeInvalidType, field, field+" must be a string")
		}
		if !webhook.ValidTenant(s) {
			return nil, httpjson.BadRequest(CodeInvalidTenant, field,
				field+": a tenant key is 1-128 lower-case letters, digits, '.', '-' or '_', starting and ending with a letter or digit")
		}
		if seen[s] {
			return nil, httpjson.BadRequest(CodeDuplicateTenant, field, field+" repeats an earlier tenant")
		}
		seen[s] = true
		out = append(out, s)
	}
	sort.Strings(out)
	return out, nil
}

// getErasure is GET /erasures/{globalId}: each region's status, and the
// overall one: completed only when every region completed, failed when any
// failed, running otherwise.
func (a *API) getErasure(ctx context.Context, c *call) (reply, error) {
	id := c.params["globalId"]
	if !globalIDRE.MatchString(id) {
		return reply{}, httpjson.BadRequest(CodeInvalidID, "globalId", "a global erasure id is eg_ and a UUIDv7")
	}
	c.attrs = append(c.attrs, slog.String("globalId", id))
	g, err := a.globals.Global(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return reply{}, httpjson.NotFound(CodeNotFound, "globalId", "no global erasure has this id")
	}
	if err != nil {
		return reply{}, err
	}
	states := make([]string, len(g.Regions))
	var wg sync.WaitGroup
	for i, gr := range g.Regions {
		wg.Go(func() {
			r, ok := a.view.Region(gr.Region)
			if !ok {
				states[i] = StatusUnavailable
				return
			}
			s, err := a.regions.Status(ctx, r, gr.RequestID)
			switch {
			case err == nil:
				states[i] = s
			case errors.Is(err, ErrNotFound):
				states[i] = StatusUnknown
			default:
				a.log.LogAttrs(ctx, slog.LevelWarn, "regional status unavailable", slog.String("globalId", id),
					slog.String("region", gr.Region), slog.String("error", err.Error()))
				states[i] = StatusUnavailable
			}
		})
	}
	wg.Wait()
	changed := false
	for i, gr := range g.Regions {
		if states[i] != StatusUnavailable && states[i] != gr.Status {
			g.Regions[i].Status, changed = states[i], true
		}
	}
	if changed {
		now := a.now()
		if err := a.globals.RecordStates(ctx, id, g.Regions, now); err != nil {
			a.log.LogAttrs(ctx, slog.LevelWarn, "regional states not recorded", slog.String("globalId", id), slog.String("error", err.Error()))
		} else {
			g.UpdatedAt = now
		}
	}
	v := newGlobalView(g)
	v.Status = Aggregate(states)
	for i := range v.Regions {
		v.Regions[i].Status = states[i] // unavailable too, which is not recorded
	}
	return reply{status: http.StatusOK, body: v}, nil
}

// Regional states the edge adds to the regions' own (pending, running,
// completed, failed).
const (
	// StatusUnavailable: the region did not answer.
	StatusUnavailable = "unavailable"
	// StatusUnknown: the region does not know the request (404).
	StatusUnknown = "unknown"
)

// Aggregate is the overall state of a global erasure: failed if any region
// failed, completed only if every region completed, running otherwise.
func Aggregate(states []string) string {
	all := len(states) > 0
	for _, s := range states {
		if s == string(erasure.StatusFailed) {
			return string(erasure.StatusFailed)
		}
		if s != string(erasure.StatusCompleted) {
			all = false
		}
	}
	if all {
		return string(erasure.StatusCompleted)
	}
	return string(erasure.StatusRunning)
}

// idempotencyKey returns the Idempotency-Key header, "" when absent: 1-200
// printable ASCII characters.
func idempotencyKey(ev events.APIGatewayV2HTTPRequest) (string, error) {
	vals := headerOf(ev).Values("Idempotency-Key")
	if len(vals) == 0 {
		return "", nil
	}
	k := vals[0]
	bad := httpjson.BadRequest(CodeInvalidIdempotency, "Idempotency-Key",
		fmt.Sprintf("Idempotency-Key must be given once, 1-%d printable ASCII characters", MaxIdempotencyKeyBytes))
	if len(vals) > 1 || len(k) < 1 || len(k) > MaxIdempotencyKeyBytes || strings.Contains(k, ",") {
		return "", bad
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return "", bad
		}
	}
	return k, nil
}

// fieldNameRE decides whether an unknown field's name may be echoed: a
// JSON key could itself be someone's e-mail address.
var fieldNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// jsonBody reads the body as one JSON object whose keys are among allowed,
// each at most once and matched exactly (encoding/json would match them
// without regard to case and keep the last of duplicates), and checks the
// Content-Type.
func jsonBody(ev events.APIGatewayV2HTTPRequest, allowed ...string) (map[string]json.RawMessage, error) {
	ct := headerOf(ev).Values("Content-Type")
	mt, params, err := mime.ParseMediaType(strings.Join(ct, ","))
	if len(ct) != 1 || err != nil || mt != "application/json" {
		return nil, &httpjson.Error{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedMedia, Field: "Content-Type",
			Message: "Content-Type must be application/json"}
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return nil, &httpjson.Error{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedMedia, Field: "Content-Type",
			Message: "Content-Type charset must be utf-8"}
	}
	body, err := readBody(ev, MaxAPIBodyBytes)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(body) {
		return nil, httpjson.BadRequest(CodeInvalidJSON, "", "body must be UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil {
		return nil, httpjson.BadRequest(CodeInvalidJSON, "", "body is not valid JSON")
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, httpjson.BadRequest(CodeInvalidJSON, "", "body must be a JSON object")
	}
	out := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, httpjson.BadRequest(CodeInvalidJSON, "", "body is not valid JSON")
		}
		k, _ := tok.(string)
		known := false
		for _, a := range allowed {
			known = known || a == k
		}
		if !known {
			list := strings.Join(allowed, ", ")
			if fieldNameRE.MatchString(k) {
				return nil, httpjson.BadRequest(CodeUnknownField, k, "unknown field "+k+"; allowed: "+list)
			}
			return nil, httpjson.BadRequest(CodeUnknownField, "", "body has an unknown field; allowed: "+list)
		}
		if _, dup := out[k]; dup {
			return nil, httpjson.BadRequest(CodeDuplicateField, k, k+" is given twice")
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, httpjson.BadRequest(CodeInvalidJSON, "", "body is not valid JSON")
		}
		if path, lone := strictjson.LoneSurrogate(raw); lone {
			field := strictjson.Join(k, path)
			return nil, httpjson.BadRequest(CodeInvalidJSON, field, field+" holds an unpaired UTF-16 surrogate escape, which is no character")
		}
		out[k] = raw
	}
	if _, err := dec.Token(); err != nil {
		return nil, httpjson.BadRequest(CodeInvalidJSON, "", "body is not valid JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, httpjson.BadRequest(CodeInvalidJSON, "", "body must hold exactly one JSON object")
	}
	return out, nil
}

// stringField reads a string field; null counts as absent.
func stringField(fields map[string]json.RawMessage, name string, required bool) (string, error) {
	raw, ok := fields[name]
	if !ok || string(raw) == "null" {
		if required {
			return "", httpjson.BadRequest(CodeRequired, name, name+" is required")
		}
		return "", nil
	}
	var s string
	if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", httpjson.BadRequest(CodeInvalidType, name, name+" must be a string")
	}
	return s, nil
}
