package demo

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/httpjson"
	"github.com/lethe-erasure/lethe/internal/pause"
)

// MaxBodyBytes bounds a submit's body; the contract's is a few dozen bytes.
const MaxBodyBytes = 64 << 10

// MaxRequestIDBytes bounds the request id a submit may carry.
const MaxRequestIDBytes = 256

// Subsystem returns the HTTP handler of one demo subsystem, serving the
// contract of DESIGN.md at "/" in s.Mode: sync answers DELETE
// /subjects/{subjectId}; async answers POST /erasures and GET
// /erasures/{ticket}. d sets its knobs (as SetFaults would) and, on the
// first sight of the subsystem in the state file, the extra subjects it is
// seeded with besides config.DemoSubjects. Any bearer token, or none, is
// accepted: the local runtime configures token kind none.
func (f *Farm) Subsystem(region string, s config.Subsystem, d config.DemoSubsystem) http.Handler {
	f.SetFaults(region, s.Name, d)
	k := key(region, s.Name)
	// A failure here is retried by the first call that writes.
	_ = f.seed(k)
	return &handler{farm: f, region: region, name: s.Name, key: k, async: s.Mode == config.ModeAsync}
}

type handler struct {
	farm         *Farm
	region, name string
	key          string
	async        bool
}

// answer is what one call produced, before it is written.
type answer struct {
	status int
	body   any
	err    error
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	call := Call{Region: h.region, Subsystem: h.name, Method: r.Method, Path: redactPath(r.URL.Path)}
	d := h.farm.knobsOf(h.key)
	if pause.For(r.Context(), time.Duration(d.LatencyMillis)*time.Millisecond) != nil {
		h.farm.notify(call) // Status 0: the caller went away, nothing was done
		return
	}
	var a answer
	switch {
	case d.Outage:
		a.err = httpjson.Unavailable("outage", "this demo subsystem is set to be down (outage)", 1)
	case d.Reject:
		a.err = &httpjson.Error{Status: http.StatusForbidden, Code: "rejected", Message: "this demo subsystem refuses every call (reject), as one whose token was revoked"}
	case d.ErrorRate > 0 && h.farm.random() < d.ErrorRate:
		a.err = httpjson.Unavailable("injected_error", "this demo subsystem failed this call on purpose (error rate)", 1)
	default:
		a = h.route(r, d, &call)
	}
	call.Status = write(w, httpjson.Respond(a.status, a.body, a.err, classify))
	h.farm.notify(call)
}

// route dispatches on the escaped path, so that a subject id holding "/"
// (sent as %2F) stays one segment.
func (h *handler) route(r *http.Request, d config.DemoSubsystem, call *Call) answer {
	seg := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	switch {
	case !h.async && len(seg) == 2 && seg[0] == "subjects":
		if r.Method != http.MethodDelete {
			return fail(httpjson.MethodNotAllowed("method_not_allowed", "a sync subsystem's subjects are only deleted", http.MethodDelete))
		}
		return h.delete(seg[1], d, call)
	case h.async && len(seg) == 1 && seg[0] == "erasures":
		if r.Method != http.MethodPost {
			return fail(httpjson.MethodNotAllowed("method_not_allowed", "erasures are submitted with POST", http.MethodPost))
		}
		return h.submit(r, d, call)
	case h.async && len(seg) == 2 && seg[0] == "erasures":
		if r.Method != http.MethodGet {
			return fail(httpjson.MethodNotAllowed("method_not_allowed", "an erasure's status is read with GET", http.MethodGet))
		}
		return h.check(seg[1], d, call)
	}
	mode := "a sync subsystem serves DELETE /subjects/{subjectId}"
	if h.async {
		mode = "an async subsystem serves POST /erasures and GET /erasures/{ticket}"
	}
	return fail(httpjson.NotFound("no_route", "", "no such route: "+mode))
}

func fail(err error) answer { return answer{err: err} }

// delete is the sync contract: 204 once the subject is gone, 404 if it was
// not held.
func (h *handler) delete(escaped string, d config.DemoSubsystem, call *Call) answer {
	subject, err := url.PathUnescape(escaped)
	if err != nil {
		return fail(httpjson.BadRequest("invalid_subject_id", "subjectId", "the path segment is not validly escaped"))
	}
	if err := erasure.ValidateSubjectID(subject); err != nil {
		return fail(httpjson.BadRequest("invalid_subject_id", "subjectId", "subjectId "+err.Error()))
	}
	call.SubjectHash = subjectHash(subject)
	held := false
	err = h.farm.db.Batch(func(tx *bolt.Tx) error {
		s, err := seeded(tx, h.key, d)
		if err != nil {
			return err
		}
		held = s.subjects.Get([]byte(call.SubjectHash)) != nil
		if !held {
			return nil
		}
		return s.subjects.Delete([]byte(call.SubjectHash))
	})
	switch {
	case err != nil:
		return fail(err)
	case !held:
		return fail(httpjson.NotFound("not_held", "subjectId", "this subsystem holds nothing for the subject"))
	}
	return answer{status: http.StatusNoContent}
}

// submitBody is the contract's POST /erasures body. Pointers tell a missing
// field from an empty one; unknown fields are ignored, as a subsystem that
// wants to stay compatible with newer callers would.
type submitBody struct {
	RequestID     *string `json:"requestId"`
	SubjectID     *string `json:"subjectId"`
	CallbackURL   *string `json:"callbackUrl"`
	CallbackToken *string `json:"callbackToken"`
}

// TicketBody is the answer to a submit.
type TicketBody struct {
	Ticket string `json:"ticket"`
}

// StatusBody is the answer to a status check.
type StatusBody struct {
	Status string `json:"status"`
	Detail string `json:"detail"`
}

// submit is the async contract's POST /erasures: 202 with a ticket,
// idempotent on requestId.
func (h *handler) submit(r *http.Request, d config.DemoSubsystem, call *Call) answer {
	in, err := decodeSubmit(r)
	if err != nil {
		return fail(err)
	}
	call.RequestID, call.SubjectHash = *in.RequestID, subjectHash(*in.SubjectID)
	now := h.farm.clock.Now()
	var ticket string
	var conflict bool
	err = h.farm.db.Batch(func(tx *bolt.Tx) error {
		s, err := seeded(tx, h.key, d)
		if err != nil {
			return err
		}
		var cb offeredCallback
		if in.CallbackURL != nil {
			cb = offeredCallback{URL: *in.CallbackURL, Token: *in.CallbackToken}
		}
		ticket, conflict, err = s.submit(*in.RequestID, *in.SubjectID, cb, now)
		return err
	})
	switch {
	case err != nil:
		return fail(err)
	case conflict:
		return fail(httpjson.Conflict("request_id_reused", "requestId", "this request id was submitted for another subject"))
	}
	return answer{status: http.StatusAccepted, body: TicketBody{ticket}}
}

func decodeSubmit(r *http.Request) (submitBody, error) {
	var in submitBody
	data, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	switch {
	case err != nil:
		return in, httpjson.BadRequest("unreadable_body", "", "the body could not be read")
	case len(data) > MaxBodyBytes:
		return in, &httpjson.Error{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large", Message: "the body is larger than 64 KiB"}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	err = dec.Decode(&in)
	if err == nil && dec.More() {
		err = errors.New("trailing data")
	}
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return in, httpjson.BadRequest("invalid_field", typeErr.Field, typeErr.Field+" must be a string")
	case err != nil:
		return in, httpjson.BadRequest("invalid_json", "", "the body is not one JSON object {\"requestId\", \"subjectId\"}")
	case in.RequestID == nil || *in.RequestID == "":
		return in, httpjson.BadRequest("missing_field", "requestId", "requestId is required")
	case len(*in.RequestID) > MaxRequestIDBytes || !printable(*in.RequestID):
		return in, httpjson.BadRequest("invalid_field", "requestId", "requestId must be at most 256 bytes of printable text")
	case in.SubjectID == nil || *in.SubjectID == "":
		return in, httpjson.BadRequest("missing_field", "subjectId", "subjectId is required")
	}
	if err := erasure.ValidateSubjectID(*in.SubjectID); err != nil {
		return in, httpjson.BadRequest("invalid_field", "subjectId", "subjectId "+err.Error())
	}
	if (in.CallbackURL == nil) != (in.CallbackToken == nil) {
		return in, httpjson.BadRequest("invalid_field", "callbackUrl", "callbackUrl and callbackToken come together")
	}
	if in.CallbackURL != nil {
		u, err := url.Parse(*in.CallbackURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || *in.CallbackToken == "" {
			return in, httpjson.BadRequest("invalid_field", "callbackUrl", "callbackUrl must be an absolute http(s) URL, with a callbackToken")
		}
	}
	return in, nil
}

func printable(s string) bool {
	return utf8.ValidString(s) && strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) < 0
}

// check is the async contract's GET /erasures/{ticket}: pending until the
// erasure is due on the farm's clock, then deleted (the subject removed,
// or "nothing held" if it was not).
func (h *handler) check(escaped string, d config.DemoSubsystem, call *Call) answer {
	ticket, err := url.PathUnescape(escaped)
	if err != nil || ticket == "" {
		return fail(httpjson.BadRequest("invalid_ticket", "ticket", "the ticket is missing or not validly escaped"))
	}
	now := h.farm.clock.Now()
	var rec *ticketRecord
	read := func(tx *bolt.Tx) error {
		s := open(tx, h.key)
		if s == nil {
			return nil
		}
		var err error
		rec, err = s.ticket(ticket)
		return err
	}
	err = h.farm.db.View(read)
	if err == nil && rec != nil && rec.Status == statusPending && isDue(rec.SubmittedAt, now, d) {
		err = h.farm.db.Batch(func(tx *bolt.Tx) error {
			s := open(tx, h.key)
			if err := s.settle(now, d); err != nil {
				return err
			}
			return read(tx)
		})
	}
	switch {
	case err != nil:
		return fail(err)
	case rec == nil:
		return fail(httpjson.NotFound("unknown_ticket", "ticket", "no erasure has this ticket"))
	}
	call.RequestID, call.SubjectHash = rec.RequestID, rec.SubjectHash
	out := StatusBody{Status: rec.Status, Detail: rec.Detail}
	if rec.Status == statusPending {
		out.Detail = detailPending
		if d.NeverFinish {
			out.Detail = detailNeverFinish
		}
	}
	return answer{status: http.StatusOK, body: out}
}

// classify is the one mapping of errors to answers: the handler's own
// answers as made, anything else (the state file failed, or is closed) a
// 503 the connector retries. The error's text is not sent.
func classify(err error) *httpjson.Error {
	var e *httpjson.Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, bolt.ErrDatabaseNotOpen) {
		return httpjson.Unavailable("closed", "this demo subsystem has been shut down", 1)
	}
	return httpjson.Unavailable("store_unavailable", "this demo subsystem could not read or write its state", 1)
}

func write(w http.ResponseWriter, a httpjson.Answer) int {
	for k, v := range a.Headers {
		w.Header().Set(k, v)
	}
	if a.Body == "" {
		w.Header().Del("Content-Type")
	}
	w.WriteHeader(a.Status)
	if a.Body != "" {
		io.WriteString(w, a.Body)
	}
	return a.Status
}

// redactPath is the path an observer sees: a subject id, or any path of
// no route (which might hold one, e.g. a base URL with a wrong prefix),
// is hidden; a ticket is kept.
func redactPath(p string) string {
	seg := strings.Split(strings.TrimPrefix(p, "/"), "/")
	switch {
	case seg[0] == "erasures" && len(seg) <= 2:
		return p
	case seg[0] == "subjects" && len(seg) == 2:
		return "/subjects/{subjectId}"
	}
	return "{unknown route}"
}
