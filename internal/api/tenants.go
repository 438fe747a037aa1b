package api

import (
	"context"
	"github.com/lethe-erasure/lethe/internal/audit"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lethe-erasure/lethe/internal/httpjson"
	"github.com/lethe-erasure/lethe/internal/webhook"
)

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
		return route{name: name}, httpjson.BadRequest(CodeInvalidTenantID, "tenant", "the tenant in the path is not valid percent-encoding")
	}
	if err := webhook.ValidateTenant("tenant", key); err != nil {
		return route{name: name}, httpjson.BadRequest(CodeInvalidTenantID, "tenant", "tenant "+err.Error())
	}
	return route{name: name, param: key, serve: serve}, nil
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
		return reply{}, "", httpjson.BadRequest(CodeInvalidBody, "", "PUT /tenants/{tenant} takes no body; the tenant is the path")
	}
	at, created, err := h.store.RegisterTenant(ctx, key)
	if err != nil {
		return reply{}, "", &storeError{op: "register tenant", err: err}
	}
	if created {
		// The registration is recorded in the audit records. It stands if
		// the record cannot be written (the log says so): refusing now
		// would not undo it, and a retry finds it registered.
		rec, err := audit.New("", h.now(), actor(ev), audit.ActionTenantRegistered, map[string]string{"tenant": key})
		if err == nil {
			err = h.store.AppendAudit(ctx, rec)
		}
		if err != nil {
			h.log.ErrorContext(ctx, "tenant registration not recorded in the audit records", "error", err.Error())
		}
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
	at, ok, err := h.store.TenantRegistration(ctx, key)
	if err != nil {
		return reply{}, "", &storeError{op: "get tenant", err: err}
	}
	if !ok {
		return reply{}, "", httpjson.NotFound(CodeNotFound, "tenant",
			"region "+h.region.Name+" has not registered this tenant")
	}
	return reply{status: http.StatusOK, body: tenantView{Tenant: key, Region: h.region.Name, RegisteredAt: formatTime(at)}}, "", nil
}
