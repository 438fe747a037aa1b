package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/httpjson"
)

// MediaCSV is the officer's export of GET /erasures.
const MediaCSV = "text/csv"

// ExamineLimit bounds the requests one GET /erasures reads, however rare
// its filter's matches: a page may then hold fewer than limit, and next
// goes on from where it stopped.
const ExamineLimit = 1000

// NextHeader carries the cursor of a CSV page (a JSON page has next).
const NextHeader = "X-Lethe-Next"

// listFilter is GET /erasures's query: the filters and the cursor.
type listFilter struct {
	status   erasure.Status
	source   string
	atRisk   *bool
	from, to *time.Time
	after    string
	limit    int
	csv      bool
}

func (f listFilter) match(r erasure.Request, atRisk func(erasure.Request) bool) bool {
	switch {
	case f.status != "" && r.Status != f.status,
		f.source != "" && r.Source != f.source,
		f.from != nil && r.ReceivedAt.Before(*f.from),
		f.to != nil && !r.ReceivedAt.Before(*f.to),
		f.atRisk != nil && atRisk(r) != *f.atRisk:
		return false
	}
	return true
}

// cursor is next as the API hands it out: opaque to callers.
type cursor struct {
	After string `json:"after"`
}

func encodeCursor(after string) string {
	if after == "" {
		return ""
	}
	b, _ := json.Marshal(cursor{After: after})
	return base64.RawURLEncoding.EncodeToString(b)
}

func (h *Handler) decodeCursor(s string) (string, error) {
	bad := httpjson.BadRequest(CodeInvalidCursor, "cursor", "cursor is not one this API handed out in next; start without it")
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return "", bad
	}
	var c cursor
	if err := json.Unmarshal(raw, &c); err != nil {
		return "", bad
	}
	if region, err := erasure.ParseID(c.After); err != nil || region != h.region.Name {
		return "", bad
	}
	return c.After, nil
}

// parseListQuery reads GET /erasures's query; every refusal names the
// parameter. Other parameters (a cache-buster) are ignored, as before
// filters existed.
func (h *Handler) parseListQuery(ev events.APIGatewayProxyRequest) (listFilter, error) {
	var f listFilter
	var err error
	if f.limit, err = listLimit(ev); err != nil {
		return f, err
	}
	get := func(name string) (string, error) { return queryOnce(ev, name, CodeInvalidFilter) }
	status, err := get("status")
	if err != nil {
		return f, err
	}
	switch erasure.Status(status) {
	case "", erasure.StatusPending, erasure.StatusRunning, erasure.StatusCompleted, erasure.StatusFailed:
		f.status = erasure.Status(status)
	default:
		return f, httpjson.BadRequest(CodeInvalidFilter, "status", "status must be pending, running, completed or failed")
	}
	if f.source, err = get("source"); err != nil {
		return f, err
	}
	if f.source != "" && f.source != erasure.SourceAPI && !strings.HasPrefix(f.source, erasure.SourceWebhookPrefix) {
		return f, httpjson.BadRequest(CodeInvalidFilter, "source", "source must be api or webhook:<provider>")
	}
	atRisk, err := get("atRisk")
	if err != nil {
		return f, err
	}
	if atRisk != "" {
		v, perr := strconv.ParseBool(atRisk)
		if perr != nil {
			return f, httpjson.BadRequest(CodeInvalidFilter, "atRisk", "atRisk must be true or false")
		}
		f.atRisk = &v
	}
	for _, b := range []struct {
		name string
		dst  **time.Time
		end  bool
	}{{"from", &f.from, false}, {"to", &f.to, true}} {
		v, err := get(b.name)
		if err != nil {
			return f, err
		}
		if v == "" {
			continue
		}
		t, err := parseBound(v, b.end)
		if err != nil {
			return f, httpjson.BadRequest(CodeInvalidFilter, b.name, b.name+" must be an RFC 3339 time or a date (YYYY-MM-DD)")
		}
		*b.dst = &t
	}
	if f.from != nil && f.to != nil && !f.from.Before(*f.to) {
		return f, httpjson.BadRequest(CodeInvalidFilter, "from", "from must be before to")
	}
	if c, err := get("cursor"); err != nil {
		return f, err
	} else if c != "" {
		if f.after, err = h.decodeCursor(c); err != nil {
			return f, err
		}
	}
	for _, accept := range headerValues(ev, "Accept") {
		f.csv = f.csv || acceptsCSV(accept)
	}
	return f, nil
}

// parseBound reads a received-time bound: an RFC 3339 time, or a date,
// which as to means the end of that day (to is exclusive).
func parseBound(v string, end bool) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), nil
	}
	d, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return time.Time{}, err
	}
	if end {
		d = d.AddDate(0, 0, 1)
	}
	return d, nil
}

func acceptsCSV(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == MediaCSV {
			return true
		}
	}
	return false
}

// ListView answers GET /erasures: one page, newest first, and the cursor
// of the next ("" when there is none).
type ListView struct {
	Erasures []RequestView `json:"erasures"`
	Next     string        `json:"next,omitempty"`
}

// listErasures is GET /erasures: every request of the region, newest
// first, a page at a time (follow next), filtered by status, source,
// atRisk and received from/to; as CSV with Accept: text/csv (the cursor in
// the X-Lethe-Next header).
func (h *Handler) listErasures(ctx context.Context, ev events.APIGatewayProxyRequest, _ string) (reply, string, error) {
	f, err := h.parseListQuery(ev)
	if err != nil {
		return reply{}, "", err
	}
	now := h.now()
	atRisk := func(r erasure.Request) bool { return h.atRisk(r, now) }
	rs, next, err := h.store.Page(ctx, f.after, f.limit, ExamineLimit, func(r erasure.Request) bool { return f.match(r, atRisk) })
	if err != nil {
		return reply{}, "", &storeError{op: "list", err: err}
	}
	if f.csv {
		body, err := h.csvPage(rs)
		if err != nil {
			return reply{}, "", err
		}
		rep := reply{status: http.StatusOK, contentType: MediaCSV + "; charset=utf-8", raw: body}
		rep.headers = map[string]string{NextHeader: encodeCursor(next)}
		return rep, "", nil
	}
	out := ListView{Erasures: make([]RequestView, 0, len(rs)), Next: encodeCursor(next)}
	for _, r := range rs {
		v := newRequestView(r)
		v.AtRisk = atRisk(r)
		out.Erasures = append(out.Erasures, v)
	}
	return reply{status: http.StatusOK, body: out}, "", nil
}

// CSVHeader is the export's header: the request's facts, then one column
// per subsystem with its outcome.
func CSVHeader(subsystems []string) []string {
	return append([]string{"requestId", "status", "source", "receivedAt", "deadline", "extensionMonths", "closedAt"}, subsystems...)
}

// CSVRow is one request of the export, its subsystems' outcomes in the
// header's order ("" for one the request does not have).
func CSVRow(v RequestView, subsystems []string) []string {
	closed, months := "", 0
	if v.CompletedAt != nil {
		closed = *v.CompletedAt
	}
	for _, e := range v.Extensions {
		months += e.Months
	}
	row := []string{v.RequestID, string(v.Status), v.Source, v.ReceivedAt, v.Deadline, strconv.Itoa(months), closed}
	for _, name := range subsystems {
		outcome := ""
		for _, s := range v.Subsystems {
			if s.Name == name {
				outcome = string(s.Status)
			}
		}
		row = append(row, outcome)
	}
	return row
}

func (h *Handler) csvPage(rs []erasure.Request) (string, error) {
	names := make([]string, len(h.region.Subsystems))
	for i, s := range h.region.Subsystems {
		names[i] = s.Name
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.Write(CSVHeader(names)); err != nil {
		return "", err
	}
	for _, r := range rs {
		if err := w.Write(CSVRow(newRequestView(r), names)); err != nil {
			return "", err
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return "", fmt.Errorf("encode the CSV page: %w", err)
	}
	return buf.String(), nil
}
