package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/httpjson"
)

// getErasure is GET /erasures/{requestId}. An id of another region is a 404
// with code wrong_region and the store is not asked: each region's API only
// knows its own requests, and the id itself says where to ask.
func (h *Handler) getErasure(ctx context.Context, _ events.APIGatewayProxyRequest, id string) (reply, string, error) {
	// ownID's answers never quote the id: a mistyped path may hold a
	// subject id.
	if err := h.ownID(id); err != nil {
		return reply{}, "", err
	}
	r, err := h.store.Get(ctx, id)
	if err != nil {
		if errors.Is(err, erasure.ErrNotFound) {
			return reply{}, "", err
		}
		return reply{}, "", &storeError{op: "get", err: err}
	}
	v := newRequestView(r)
	v.AtRisk = h.atRisk(r, h.now())
	return reply{status: http.StatusOK, body: v, requestID: r.ID}, "", nil
}

// atRisk says r is open and its deadline is near at now.
func (h *Handler) atRisk(r erasure.Request, now time.Time) bool {
	return r.Status.Open() && h.deadline.AtRisk(r.Deadline, now)
}

// listLimit reads ?limit=: decimal digits only, 1..MaxListLimit, once.
func listLimit(ev events.APIGatewayProxyRequest) (int, error) {
	vals, ok := ev.MultiValueQueryStringParameters["limit"]
	if !ok {
		if v, ok := ev.QueryStringParameters["limit"]; ok {
			vals = []string{v}
		}
	}
	if len(vals) == 0 {
		return DefaultListLimit, nil
	}
	bad := httpjson.BadRequest(CodeInvalidLimit, "limit", fmt.Sprintf("limit must be a whole number from 1 to %d, given once", MaxListLimit))
	if len(vals) > 1 || len(vals[0]) == 0 || len(vals[0]) > 3 {
		return 0, bad
	}
	n := 0
	for _, c := range vals[0] {
		if c < '0' || c > '9' {
			return 0, bad
		}
		n = n*10 + int(c-'0')
	}
	if n < 1 || n > MaxListLimit {
		return 0, bad
	}
	return n, nil
}
