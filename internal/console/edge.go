package console

import (
	"net/http"
	"regexp"
	"strconv"
	"sync"

	"github.com/lethe-erasure/lethe/internal/edge"
)

// EdgeShown is how many entries of each edge list the page asks for.
const EdgeShown = 50

// edgeBody is the edge's page.
type edgeBody struct {
	Tenants    []edge.TenantView
	Held       []edge.HeldView
	Globals    []edge.GlobalView
	Receipts   []edge.ReceiptView
	Errors     []string
	TenantMore bool
}

// edge is the edge's page: its four listings, read at once.
func (c *Console) edge(w http.ResponseWriter, r *http.Request) {
	if c.o.Edge.APIURL == "" {
		c.fail(w, http.StatusNotFound, "This console knows no edge API.")
		return
	}
	var b edgeBody
	var tenants edge.TenantPage
	var held struct {
		Held []edge.HeldView `json:"held"`
	}
	var globals edge.GlobalPage
	var receipts edge.ReceiptPage
	limit := "?limit=" + strconv.Itoa(EdgeShown)
	lists := []struct {
		what, path string
		out        any
	}{
		{"tenants", "/tenants" + limit, &tenants},
		{"quarantine", "/quarantine" + limit, &held},
		{"global erasures", "/erasures" + limit, &globals},
		{"residency receipts", "/receipts" + limit, &receipts},
	}
	errs := make([]error, len(lists))
	var wg sync.WaitGroup
	for i, l := range lists {
		wg.Go(func() { errs[i] = c.api.getJSON(r.Context(), c.o.Edge, l.path, l.out) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			b.Errors = append(b.Errors, lists[i].what+": "+err.Error())
		}
	}
	b.Tenants, b.TenantMore, b.Held, b.Globals, b.Receipts = tenants.Tenants, tenants.Next != "", held.Held, globals.Erasures, receipts.Receipts
	c.render(w, http.StatusOK, "edge", "Edge", "edge", false, b)
}

// quarantineIDRE is the form of a quarantine id, checked before it goes
// into the API's path.
var quarantineIDRE = regexp.MustCompile(`^q_[0-9a-f]{32}$`)

// release is POST /edge/quarantine/{id}/release: confirmed, it asks the
// edge to forward the held delivery to its tenant's home region.
func (c *Console) release(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || c.o.Edge.APIURL == "" {
		c.fail(w, http.StatusBadRequest, "The form could not be read.")
		return
	}
	id := r.PathValue("id")
	if !quarantineIDRE.MatchString(id) {
		c.fail(w, http.StatusNotFound, "There is no such held delivery: a quarantine id is q_ and 32 hex digits.")
		return
	}
	a := action{Verb: "Release", path: "/quarantine/" + id + "/release",
		Lines: []string{"Forward the held delivery " + id + " to its tenant's home region, as if it arrived now (its receipt time is kept).",
			"Its tenant must be registered in the directory first."}}
	c.confirmOrCall(w, r, c.o.Edge, a, "/edge")
}
