package console

import (
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lethe-erasure/lethe/internal/api"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
)

// listParams are the API's filters of GET /erasures, passed on as given:
// the API judges them and names the one it refuses.
var listParams = []string{"status", "source", "atRisk", "from", "to", "limit"}

// DefaultPage is how many requests per region a page of the list asks for.
const DefaultPage = 50

// listForm is the list page's query as the filter form shows it.
type listForm struct {
	Region, Status, Source, AtRisk, From, To, Limit string
}

// requestRow is one request of the list.
type requestRow struct {
	api.RequestView
	Region string
	// DaysLeft to the deadline on Lethe's clock, for an open request.
	DaysLeft int
	Open     bool
	Overdue  bool
}

type listBody struct {
	Form    listForm
	Regions []string
	Rows    []requestRow
	Errors  []string
	// Next is the next page's URL ("" on the last page); CSV the export's.
	Next, CSV, Search string
}

// requests is the list page: every region's requests, newest first, with
// the API's filters and paging. The cursor of a page is each region's own
// cursor, so every request is shown once however the regions interleave.
func (c *Console) requests(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if s := strings.TrimSpace(q.Get("q")); s != "" {
		c.search(w, r, s)
		return
	}
	form := listForm{Region: q.Get("region"), Status: q.Get("status"), Source: q.Get("source"), AtRisk: q.Get("atRisk"),
		From: q.Get("from"), To: q.Get("to"), Limit: q.Get("limit")}
	body := listBody{Form: form}
	regions := c.o.Regions
	if form.Region != "" {
		reg, ok := c.region(form.Region)
		if !ok {
			c.fail(w, http.StatusBadRequest, c.noRegion())
			return
		}
		regions = []config.RegionEndpoint{reg}
	}
	for _, reg := range c.o.Regions {
		body.Regions = append(body.Regions, reg.Name)
	}
	cursors, err := decodeCursors(q.Get("next"))
	if err != nil {
		c.fail(w, http.StatusBadRequest, "The page link is damaged: start from the first page.")
		return
	}
	pages := c.listPages(r.Context(), regions, q, cursors)
	now := c.o.Now()
	next := map[string]string{}
	for i, p := range pages {
		if p.err != nil {
			body.Errors = append(body.Errors, fmt.Sprintf("region %s: %v", regions[i].Name, p.err))
			continue
		}
		for _, v := range p.view.Erasures {
			body.Rows = append(body.Rows, newRow(regions[i].Name, v, now))
		}
		if p.view.Next != "" {
			next[regions[i].Name] = p.view.Next
		}
	}
	slices.SortStableFunc(body.Rows, func(a, b requestRow) int { return strings.Compare(b.ReceivedAt, a.ReceivedAt) })
	status := http.StatusOK
	if len(body.Errors) > 0 && len(body.Errors) == len(pages) {
		status = pages[0].err.httpStatus()
	}
	if len(next) > 0 {
		nq := filterQuery(q)
		if form.Region != "" {
			nq.Set("region", form.Region)
		}
		nq.Set("next", encodeCursors(next))
		body.Next = "/?" + nq.Encode()
	}
	cq := filterQuery(q)
	cq.Del("limit")
	if form.Region != "" {
		cq.Set("region", form.Region)
	}
	body.CSV = "/requests.csv?" + cq.Encode()
	c.render(w, status, "requests", "Requests", "requests", false, body)
}

// noRegion refuses a region parameter the console does not know, naming
// the ones it does (not what was given: a mistyped URL may hold anything).
func (c *Console) noRegion() string {
	names := make([]string, len(c.o.Regions))
	for i, r := range c.o.Regions {
		names[i] = r.Name
	}
	return "The region parameter names no region of this console; its regions are " + strings.Join(names, ", ") + "."
}

// search goes to the request an id names. What was typed is not shown
// back: it may be a subject id pasted by mistake.
func (c *Console) search(w http.ResponseWriter, r *http.Request, s string) {
	region, err := erasure.ParseID(s)
	if err != nil {
		c.fail(w, http.StatusBadRequest, "That is not a request id: search takes a request id (er_<region>_...). The console never searches by subject.")
		return
	}
	if _, ok := c.region(region); !ok {
		c.fail(w, http.StatusNotFound, fmt.Sprintf("That request id names region %q, which this console does not know.", region))
		return
	}
	http.Redirect(w, r, "/requests/"+url.PathEscape(s), http.StatusSeeOther)
}

func newRow(region string, v api.RequestView, now time.Time) requestRow {
	row := requestRow{RequestView: v, Region: region, Open: v.Status.Open()}
	if d, err := time.Parse(time.RFC3339, v.Deadline); err == nil && row.Open {
		left := d.Sub(now)
		row.DaysLeft = int(math.Ceil(left.Hours() / 24))
		row.Overdue = left < 0
	}
	return row
}

// filterQuery is the API's filters of q, without empty ones.
func filterQuery(q url.Values) url.Values {
	out := url.Values{}
	for _, k := range listParams {
		if v := q.Get(k); v != "" {
			out.Set(k, v)
		}
	}
	return out
}

type listPage struct {
	view api.ListView
	err  *APIError
}

// listPages asks each region for its page at once.
func (c *Console) listPages(ctx context.Context, regions []config.RegionEndpoint, q url.Values, cursors map[string]string) []listPage {
	pages := make([]listPage, len(regions))
	var wg sync.WaitGroup
	for i, reg := range regions {
		aq := filterQuery(q)
		if aq.Get("limit") == "" {
			aq.Set("limit", fmt.Sprint(DefaultPage))
		}
		if len(cursors) > 0 {
			cur, more := cursors[reg.Name]
			if !more {
				continue // this region's requests were all shown
			}
			aq.Set("cursor", cur)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.api.getJSON(ctx, reg, "/erasures?"+aq.Encode(), &pages[i].view); err != nil {
				pages[i].err = asAPIError(err)
			}
		}()
	}
	wg.Wait()
	return pages
}

func asAPIError(err error) *APIError {
	if e, ok := err.(*APIError); ok {
		return e
	}
	return &APIError{Message: err.Error()}
}

// The list's cursor is a JSON object of each region's API cursor.
func encodeCursors(m map[string]string) string {
	b, _ := json.Marshal(m)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursors(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil || len(m) == 0 {
		return nil, fmt.Errorf("bad cursor")
	}
	return m, nil
}

// MaxCSVPages bounds the API pages one CSV download follows per region.
const MaxCSVPages = 200

// requestsCSV is the filtered list as a file: every page of every
// selected region, in the API's export columns (api.CSVHeader, CSVRow)
// after a region column, one column per subsystem of any region.
func (c *Console) requestsCSV(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	regions := c.o.Regions
	if name := q.Get("region"); name != "" {
		reg, ok := c.region(name)
		if !ok {
			c.fail(w, http.StatusBadRequest, c.noRegion())
			return
		}
		regions = []config.RegionEndpoint{reg}
	}
	var rows []requestRow
	var names []string
	for _, reg := range regions {
		aq := filterQuery(q)
		aq.Set("limit", fmt.Sprint(api.MaxListLimit))
		for range MaxCSVPages {
			var page api.ListView
			if err := c.api.getJSON(r.Context(), reg, "/erasures?"+aq.Encode(), &page); err != nil {
				c.fail(w, asAPIError(err).httpStatus(), fmt.Sprintf("region %s: %v", reg.Name, err))
				return
			}
			for _, v := range page.Erasures {
				rows = append(rows, requestRow{RequestView: v, Region: reg.Name})
				for _, s := range v.Subsystems {
					if !slices.Contains(names, s.Name) {
						names = append(names, s.Name)
					}
				}
			}
			if page.Next == "" {
				break
			}
			aq.Set("cursor", page.Next)
		}
	}
	var out strings.Builder
	cw := csv.NewWriter(&out)
	cw.Write(append([]string{"region"}, api.CSVHeader(names)...))
	for _, row := range rows {
		cw.Write(append([]string{row.Region}, api.CSVRow(row.RequestView, names)...))
	}
	cw.Flush()
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="lethe-requests.csv"`)
	io.WriteString(w, out.String())
}

// httpStatus is the console's answer to a failed API call: the API's own
// 4xx (the filter it refused), else 502.
func (e *APIError) httpStatus() int {
	if e.Status >= 400 && e.Status < 500 {
		return e.Status
	}
	return http.StatusBadGateway
}
