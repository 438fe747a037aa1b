package api

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lethe-erasure/lethe/internal/webhook"
)

// tenantStore is what PUT and GET /tenants/{tenant} need of the requests
// table: the region's tenant ownership (internal/store/dynamo's
// RegisterTenant and TenantRegistration). It is asked of the request store
// by type assertion rather than added to requestStore, so that a store
// without tenants (an older embedded store) still serves every other
// route and answers these two with 501.
type tenantStore interface {
	// RegisterTenant records that the region owns the tenant; registering
	// again changes nothing and returns the first time, created=false.
	RegisterTenant(ctx context.Context, tenant string) (registeredAt time.Time, created bool, err error)
	// TenantRegistration returns when the tenant was registered; ok is
	// false when the region does not own it.
	TenantRegistration(ctx context.Context, tenant string) (registeredAt time.Time, ok bool, err error)
}

// CodeNotImplemented answers the tenant routes when the region's store
// keeps no tenants.
const CodeNotImplemented = "not_implemented"

// tenantView answers PUT and GET /tenants/{tenant}. A tenant key holds no
// personal data (a shop domain, a help desk subdomain).
type tenantView struct {
	Tenant       string `json:"tenant"`
	Region       string `json:"region"`
	RegisteredAt string `json:"registeredAt"`
}

// tenantRoute matches /tenants/{tenant}: PUT registers, GET reads.
func tenantRoute(ev events.APIGatewayProxyRequest, segs []string) (route, error) {
	name := ev.HTTPMethod + " /tenants/{tenant}"
	var serve func(h *Handler, ctx context.Context, ev events.APIGatewayProxyRequest, param string) (reply, string, error)
	switch ev.HTTPMethod {
	case http.MethodPut:
		serve = (*Handler).putTenant
	case http.MethodGet:
		serve = (*Handler).getTenant
	default:
		return route{name: name}, methodNotAllowed("GET, PUT")
	}
	key, err := pathParam(ev, segs, 1)
	if err != nil {
		return route{name: name}, badRequest(CodeInvalidTenantID, "tenant", "the tenant in the path is not valid percent-encoding")
	}
	if err := webhook.ValidateTenant("tenant", key); err != nil {
		return route{name: name}, badRequest(CodeInvalidTenantID, "tenant", "tenant "+err.Error())
	}
	return route{name: name, param: key, serve: serve}, nil
}

func (h *Handler) tenants() (tenantStore, error) {
	ts, ok := h.store.(tenantStore)
	if !ok {
		return nil, &inputError{status: http.StatusNotImplemented, code: CodeNotImplemented,
			message: "this region's store keeps no tenant registrations"}
	}
	return ts, nil
}

// putTenant is PUT /tenants/{tenant}: 201 when registered now, 200 when it
// already was. It takes no body (or an empty JSON object, which SigV4
// clients send by habit).
func (h *Handler) putTenant(ctx context.Context, ev events.APIGatewayProxyRequest, key string) (reply, string, error) {
	body, err := readBody(ev)
	if err != nil {
		return reply{}, "", err
	}
	if b := strings.Join(strings.Fields(string(body)), ""); b != "" && b != "{}" {
		return reply{}, "", badRequest(CodeInvalidBody, "", "PUT /tenants/{tenant} takes no body; the tenant is the path")
	}
	ts, err := h.tenants()
	if err != nil {
		return reply{}, "", err
	}
	at, created, err := ts.RegisterTenant(ctx, key)
	if err != nil {
		return reply{}, "", &storeError{op: "register tenant", err: err}
	}
	status := http.StatusOK
	loc := ""
	if created {
		status = http.StatusCreated
		loc = "/tenants/" + url.PathEscape(key)
	}
	return reply{status: status, body: tenantView{Tenant: key, Region: h.region.Name, RegisteredAt: formatTime(at)}, location: loc}, "", nil
}

// getTenant is GET /tenants/{tenant}: 200 when this region owns the
// tenant, 404 otherwise.
func (h *Handler) getTenant(ctx context.Context, _ events.APIGatewayProxyRequest, key string) (reply, string, error) {
	ts, err := h.tenants()
	if err != nil {
		return reply{}, "", err
	}
	at, ok, err := ts.TenantRegistration(ctx, key)
	if err != nil {
		return reply{}, "", &storeError{op: "get tenant", err: err}
	}
	if !ok {
		return reply{}, "", &inputError{status: http.StatusNotFound, code: CodeNotFound, field: "tenant",
			message: "region " + h.region.Name + " has not registered this tenant"}
	}
	return reply{status: http.StatusOK, body: tenantView{Tenant: key, Region: h.region.Name, RegisteredAt: formatTime(at)}}, "", nil
}
