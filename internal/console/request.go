package console

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/lethe-erasure/lethe/internal/api"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/proof"
)

// AuditShown is how many of a request's audit records its page shows.
const AuditShown = api.MaxListLimit

// requestBody is a request's page.
type requestBody struct {
	Row        requestRow
	Cert       *certView
	Audit      []api.AuditRecordView
	AuditErr   string
	Executions []Summary
	ExecErr    string
	// Retryable are the subsystems a retry would run again; Unsettled
	// those an attestation may settle.
	Retryable, Unsettled []string
}

// certView is the certificate's verification against the region's keys.
type certView struct {
	Err    string
	KeyID  string
	Claims proof.Claims
}

// lookup reads a request by the id in the path: its region is in the id.
func (c *Console) lookup(w http.ResponseWriter, r *http.Request) (config.RegionEndpoint, api.RequestView, bool) {
	id := r.PathValue("id")
	region, err := erasure.ParseID(id)
	reg, known := c.region(region)
	if err != nil || !known {
		c.fail(w, http.StatusNotFound, "There is no such request: a request id is er_<region>_<uuid>, of a region this console knows.")
		return reg, api.RequestView{}, false
	}
	var v api.RequestView
	if err := c.api.getJSON(r.Context(), reg, "/erasures/"+url.PathEscape(id), &v); err != nil {
		e := asAPIError(err)
		c.fail(w, e.httpStatus(), fmt.Sprintf("region %s: %v", reg.Name, e))
		return reg, v, false
	}
	return reg, v, true
}

func (c *Console) request(w http.ResponseWriter, r *http.Request) {
	reg, v, ok := c.lookup(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	b := requestBody{Row: newRow(reg.Name, v, c.o.Now())}
	for _, s := range v.Subsystems {
		if s.Status == erasure.SubsystemFailed || (v.Status == erasure.StatusFailed && !s.Status.Done()) {
			b.Retryable = append(b.Retryable, s.Name)
		}
		if !s.Status.Done() {
			b.Unsettled = append(b.Unsettled, s.Name)
		}
	}
	if v.Certificate {
		b.Cert = c.verify(r, reg, v.RequestID)
	}
	var audit api.AuditView
	if err := c.api.getJSON(ctx, reg, "/audit?"+url.Values{"requestId": {v.RequestID}, "limit": {strconv.Itoa(AuditShown)}}.Encode(), &audit); err != nil {
		b.AuditErr = err.Error()
	}
	b.Audit = audit.Records
	if c.o.Executions != nil {
		xs, err := c.o.Executions.OfRequest(ctx, reg.Name, v.RequestID, v.Run)
		if err != nil {
			b.ExecErr = err.Error()
		}
		b.Executions = xs
	}
	c.render(w, http.StatusOK, "request", v.RequestID, "requests", v.Status.Open(), b)
}

// verify fetches the certificate and the region's keys and checks one
// against the other, as `lethe certificate verify` does.
func (c *Console) verify(r *http.Request, reg config.RegionEndpoint, id string) *certView {
	jws, err := c.fetchCertificate(r, reg, id)
	if err != nil {
		return &certView{Err: err.Error()}
	}
	var set jose.JSONWebKeySet
	if err := c.api.getJSON(r.Context(), reg, "/keys", &set); err != nil {
		return &certView{Err: "the region's keys: " + err.Error()}
	}
	claims, kid, err := proof.Verify(string(jws), set)
	if err != nil {
		return &certView{Err: err.Error()}
	}
	return &certView{KeyID: kid, Claims: claims}
}

func (c *Console) fetchCertificate(r *http.Request, reg config.RegionEndpoint, id string) ([]byte, error) {
	a, err := c.api.send(r.Context(), reg, http.MethodGet, "/erasures/"+url.PathEscape(id)+"/certificate", nil, nil)
	if err != nil {
		return nil, err
	}
	if a.Err != nil {
		return nil, a.Err
	}
	return a.Body, nil
}

// certificate downloads the certificate as the API answers it.
func (c *Console) certificate(w http.ResponseWriter, r *http.Request) {
	reg, v, ok := c.lookup(w, r)
	if !ok {
		return
	}
	jws, err := c.fetchCertificate(r, reg, v.RequestID)
	if err != nil {
		e := asAPIError(err)
		c.fail(w, e.httpStatus(), e.Error())
		return
	}
	w.Header().Set("Content-Type", "application/jose")
	w.Header().Set("Content-Disposition", `attachment; filename="`+v.RequestID+`.jws"`)
	w.Write(jws)
}

// action is one thing the request page can ask the API to do.
type action struct {
	// Verb says what it does, for the confirmation and the answer.
	Verb string
	// method and path of the API route, and the JSON body.
	path string
	body any
	// Lines describe the action on the confirmation page.
	Lines []string
}

// confirmBody is the confirmation page: what will be asked, and the form
// that asks it.
type confirmBody struct {
	Verb, Back, Post string
	// Once is the confirmation's one-time token.
	Once   string
	Lines  []string
	Fields [][2]string
}

// answerBody is the API's answer to an action.
type answerBody struct {
	Verb, Back string
	Status     int
	Err        *APIError
	JSON       string
}

// requestAction is POST /requests/{id}/{retry|attest|extend}: the first
// post shows what will be asked and asks to confirm; the confirmed one
// calls the API and shows its answer. The API judges every field.
func (c *Console) requestAction(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		c.fail(w, http.StatusBadRequest, "The form could not be read.")
		return
	}
	id := r.PathValue("id")
	region, err := erasure.ParseID(id)
	reg, known := c.region(region)
	if err != nil || !known {
		c.fail(w, http.StatusNotFound, "There is no such request.")
		return
	}
	a, err := formAction(r.PathValue("action"), id, r.PostForm)
	if err != nil {
		c.fail(w, http.StatusBadRequest, err.Error())
		return
	}
	back := "/requests/" + url.PathEscape(id)
	c.confirmOrCall(w, r, reg, a, back)
}

// confirmOrCall shows the confirmation of a, or, confirmed, calls the API.
// A confirmation is sent once: its form carries a one-time token, so that a
// double click or a resent form does not extend a deadline twice.
func (c *Console) confirmOrCall(w http.ResponseWriter, r *http.Request, to config.RegionEndpoint, a action, back string) {
	once := r.PostForm.Get("confirm")
	if once == "" {
		var fields [][2]string
		for k, vs := range r.PostForm {
			if k == "csrf" {
				continue
			}
			for _, v := range vs {
				fields = append(fields, [2]string{k, v})
			}
		}
		slices.SortFunc(fields, func(a, b [2]string) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) })
		c.render(w, http.StatusOK, "confirm", "Confirm: "+a.Verb, "", false,
			confirmBody{Verb: a.Verb, Back: back, Post: r.URL.Path, Lines: a.Lines, Fields: fields, Once: c.confirmations.issue()})
		return
	}
	if !c.confirmations.spend(once) {
		c.render(w, http.StatusConflict, "answer", a.Verb, "", false, answerBody{Verb: a.Verb, Back: back, Err: &APIError{Status: http.StatusConflict,
			Message: "this confirmation was sent already (or the console restarted since it was shown): look at the page before asking again"}})
		return
	}
	var body []byte
	if a.body != nil {
		body, _ = json.Marshal(a.body)
	}
	ans, err := c.api.send(r.Context(), to, http.MethodPost, a.path, nil, body)
	out := answerBody{Verb: a.Verb, Back: back}
	if err != nil {
		out.Err = asAPIError(err)
		c.render(w, http.StatusBadGateway, "answer", a.Verb, "", false, out)
		return
	}
	out.Status, out.Err = ans.Status, ans.Err
	var pretty bytes.Buffer
	if json.Indent(&pretty, ans.Body, "", "  ") == nil {
		out.JSON = pretty.String()
	}
	status := http.StatusOK
	if ans.Err != nil {
		status = ans.Err.httpStatus()
	}
	c.render(w, status, "answer", a.Verb, "", false, out)
}

// formAction reads an action's form into the API's request. It refuses
// only what the form cannot express; the API judges the rest.
func formAction(name, id string, f url.Values) (action, error) {
	base := "/erasures/" + url.PathEscape(id)
	switch name {
	case "retry":
		subs := f["subsystem"]
		body := map[string]any{}
		line := "Run every failed subsystem of " + id + " again, in a new execution."
		if len(subs) > 0 {
			body["subsystems"] = subs
			line = "Run " + strings.Join(subs, ", ") + " of " + id + " again, in a new execution."
		}
		return action{Verb: "Retry", path: base + "/retry", body: body, Lines: []string{line, "Subsystems that succeeded are not called again."}}, nil
	case "attest":
		sub := f.Get("subsystem")
		if sub == "" {
			return action{}, errors.New("Choose the subsystem to attest.")
		}
		outcome, note := f.Get("outcome"), f.Get("note")
		what := map[string]string{"deleted": "its data of this request was erased by hand", "not_held": "it held no data of this request"}[outcome]
		if what == "" {
			what = "outcome " + outcome
		}
		return action{Verb: "Attest", path: base + "/subsystems/" + url.PathEscape(sub) + "/attestation",
			body:  map[string]string{"outcome": outcome, "note": note},
			Lines: []string{"Record, in your name, that " + sub + ": " + what + ".", "Note: " + note, "The subsystem is then settled; it is recorded in the audit records and on the certificate."}}, nil
	case "extend":
		months, err := strconv.Atoi(f.Get("months"))
		if err != nil {
			return action{}, errors.New("Choose by how many months to extend (1 or 2).")
		}
		reason := f.Get("reason")
		return action{Verb: "Extend", path: base + "/extension", body: map[string]any{"months": months, "reason": reason},
			Lines: []string{fmt.Sprintf("Extend the deadline of %s by %d month(s) (GDPR Art. 12(3)).", id, months), "Reason: " + reason,
				"A notice goes to the region's subject-notices topic so that the person is told."}}, nil
	}
	return action{}, fmt.Errorf("There is no action %q: the request page offers retry, attest and extend.", name)
}
