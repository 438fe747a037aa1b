package edge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"

	"github.com/lethe-erasure/lethe/internal/httpjson"
)

// The operator listings: GET /tenants, GET /erasures and GET /receipts,
// each a page at a time. The stores order and page them
// (Directory.ListTenants, Globals.ListGlobals, Deliveries.ListReceipts);
// next is their cursor as they hand it out, opaque to callers.

// listQuery reads a listing's query string, which holds limit
// (1-MaxListLimit, DefaultListLimit when absent) and other at most: a
// parameter the route does not take is refused, so that a misspelt one
// does not pass for none. A malformed limit is refused naming it.
func listQuery(c *call, route, other string) (url.Values, int, error) {
	q, err := url.ParseQuery(c.ev.RawQueryString)
	if err != nil {
		return nil, 0, httpjson.BadRequest(CodeInvalidQueryParam, "", "the query string is malformed")
	}
	for k := range q {
		if k != "limit" && k != other {
			return nil, 0, httpjson.BadRequest(CodeInvalidQueryParam, "", route+" takes limit and "+other)
		}
	}
	limit := DefaultListLimit
	if vs := q["limit"]; len(vs) > 0 {
		n, err := strconv.Atoi(vs[0])
		if len(vs) > 1 || err != nil || n < 1 || n > MaxListLimit {
			return nil, 0, httpjson.BadRequest(CodeInvalidQueryParam, "limit", fmt.Sprintf("limit must be given once, 1-%d", MaxListLimit))
		}
		limit = n
	}
	return q, limit, nil
}

var errBadCursor = httpjson.BadRequest(CodeInvalidCursor, "next",
	"next must be given once, as a page of this listing handed it out; start without it")

// pageQuery reads the query of a paged listing: limit and next. An empty
// next is the first page, as no next is.
func pageQuery(c *call, route string) (limit int, cursor string, err error) {
	q, limit, err := listQuery(c, route, "next")
	if err != nil {
		return 0, "", err
	}
	if vs := q["next"]; len(vs) > 0 {
		if len(vs) > 1 || len(vs[0]) > MaxCursorBytes {
			return 0, "", errBadCursor
		}
		cursor = vs[0]
	}
	c.attrs = append(c.attrs, slog.Int("limit", limit), slog.Bool("continued", cursor != ""))
	return limit, cursor, nil
}

// pageErr maps a store's refusal of a cursor to the 400 naming next.
func pageErr(err error) error {
	if errors.Is(err, ErrInvalidCursor) {
		return errBadCursor
	}
	return err
}

// listPage runs one listing: the query's limit and cursor, the store's
// page, and each item's view.
func listPage[T, V any](ctx context.Context, c *call, route string, list func(context.Context, int, string) ([]T, string, error), view func(T) V) ([]V, string, error) {
	limit, cursor, err := pageQuery(c, route)
	if err != nil {
		return nil, "", err
	}
	items, next, err := list(ctx, limit, cursor)
	if err != nil {
		return nil, "", pageErr(err)
	}
	out := make([]V, len(items))
	for i, it := range items {
		out[i] = view(it)
	}
	c.attrs = append(c.attrs, slog.Int("listed", len(items)))
	return out, next, nil
}

// TenantPage answers GET /tenants: a page of the directory in tenant key
// order and the cursor of the next page, omitted on the last.
type TenantPage struct {
	Tenants []TenantView `json:"tenants"`
	Next    string       `json:"next,omitempty"`
}

// listTenants is GET /tenants[?limit=N][&next=<cursor>]: the directory,
// keys included: a tenant key is a shop domain, a help desk subdomain or a
// Lethe tenant id, no personal data.
func (a *API) listTenants(ctx context.Context, c *call) (reply, error) {
	ts, next, err := listPage(ctx, c, "GET /tenants", a.directory.ListTenants, newTenantView)
	if err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusOK, body: TenantPage{Tenants: ts, Next: next}}, nil
}

// GlobalView is a global erasure in an answer: ids and states, never the
// subject or the tenants (the record holds neither). GET
// /erasures/{globalId} reads the regions' states live and adds the overall
// status; GET /erasures lists the states last recorded, without an
// overall status, which would pass stale states off as current.
type GlobalView struct {
	GlobalID  string             `json:"globalId"`
	Status    string             `json:"status,omitempty"`
	CreatedAt string             `json:"createdAt"`
	UpdatedAt string             `json:"updatedAt"`
	Regions   []GlobalRegionView `json:"regions"`
}

// newGlobalView is g as recorded; a record whose states were never
// recorded was last updated when it was created.
func newGlobalView(g Global) GlobalView {
	updated := g.UpdatedAt
	if updated.IsZero() {
		updated = g.CreatedAt
	}
	v := GlobalView{GlobalID: g.ID, CreatedAt: formatTime(g.CreatedAt), UpdatedAt: formatTime(updated), Regions: make([]GlobalRegionView, len(g.Regions))}
	for i, r := range g.Regions {
		v.Regions[i] = GlobalRegionView(r)
	}
	return v
}

// GlobalPage answers GET /erasures: a page of global erasures, newest
// first, and the cursor of the next page, omitted on the last.
type GlobalPage struct {
	Erasures []GlobalView `json:"erasures"`
	Next     string       `json:"next,omitempty"`
}

// listErasures is GET /erasures[?limit=N][&next=<cursor>]: the global
// erasures, newest first, with the states last recorded (GET
// /erasures/{globalId} asks the regions). It calls no region: a page is one
// read of the edge's table, however many regions are down.
func (a *API) listErasures(ctx context.Context, c *call) (reply, error) {
	gs, next, err := listPage(ctx, c, "GET /erasures", a.globals.ListGlobals, newGlobalView)
	if err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusOK, body: GlobalPage{Erasures: gs, Next: next}}, nil
}

// ReceiptView is one residency receipt in GET /receipts: which delivery,
// the tenant key's hash, where it was received and forwarded, and how it
// ended. Never a body, a header or the tenant key, which the receipt does
// not hold; nor the claim token, an invocation's own business.
type ReceiptView struct {
	Provider    string   `json:"provider"`
	DeliveryID  string   `json:"deliveryId"`
	TenantHash  string   `json:"tenantHash"`
	ReceivedIn  string   `json:"receivedIn"`
	ForwardedTo []string `json:"forwardedTo"`
	State       string   `json:"state"`
	Outcome     string   `json:"outcome"`
	ReceivedAt  string   `json:"receivedAt"`
	UpdatedAt   string   `json:"updatedAt"`
	Attempts    int      `json:"attempts"`
}

// ReceiptPage answers GET /receipts: a page of receipts, newest first, and
// the cursor of the next page, omitted on the last.
type ReceiptPage struct {
	Receipts []ReceiptView `json:"receipts"`
	Next     string        `json:"next,omitempty"`
}

// listReceipts is GET /receipts[?limit=N][&next=<cursor>]: the residency
// receipts the edge still keeps (DefaultReceiptTTL), newest first, the
// hour alerts' throttle receipts left out by the store.
func (a *API) listReceipts(ctx context.Context, c *call) (reply, error) {
	rs, next, err := listPage(ctx, c, "GET /receipts", a.deliveries.ListReceipts, newReceiptView)
	if err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusOK, body: ReceiptPage{Receipts: rs, Next: next}}, nil
}

func newReceiptView(r Receipt) ReceiptView {
	to := r.ForwardedTo
	if to == nil {
		to = []string{}
	}
	return ReceiptView{Provider: r.Provider, DeliveryID: r.DeliveryID, TenantHash: r.TenantHash, ReceivedIn: r.ReceivedIn,
		ForwardedTo: to, State: string(r.State), Outcome: r.Outcome, ReceivedAt: formatTime(r.ReceivedAt), UpdatedAt: formatTime(r.UpdatedAt),
		Attempts: r.Attempts}
}
