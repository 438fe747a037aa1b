package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lethe-erasure/lethe/internal/audit"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/httpjson"
)

// The operator routes: what an operator does when an erasure goes wrong.
// Each is IAM-authorised on AWS (the subject route on a resource of its
// own, so that it can be granted apart), acts through one conditional
// Change of the request, and appends an audit record in the same write
// (actor: the caller's IAM ARN; never the subject id).
//
// Retry: AWS's redrive is not used. The main execution's Map catches every
// branch, so a failed erasure's execution ends at its Fail state after a
// Map that succeeded, and a redrive would not run the subsystems again. A
// retry is a new execution of the Erasure machine named
// erasure.RunName(id, run) ("<id>-r<n>", its children "<id>-r<n>-<name>"),
// whose LoadSubsystems loads only the subsystems that are not settled (and
// of those the ones the retry names): subsystems that succeeded are not
// called again. Retry does not take the subject's open-request lock again:
// a new request for the subject filed meanwhile is not refused.

// Executions starts an execution of the region's Erasure machine; an
// execution that already exists under the name counts as started (the
// starter's adapters, internal/starter).
type Executions interface {
	Start(ctx context.Context, name, input string) error
}

// Notices publishes a notice to the region's subject-notices topic, which
// the product that holds the person's contact details relays.
type Notices interface {
	PublishNotice(ctx context.Context, message string) error
}

// WithExecutions lets POST /erasures/{id}/retry start executions.
func WithExecutions(e Executions) Option { return func(h *Handler) { h.executions = e } }

// WithNotices lets POST /erasures/{id}/extension tell the person.
func WithNotices(n Notices) Option { return func(h *Handler) { h.notices = n } }

// Limits of the operator routes' bodies.
const (
	// MaxNoteBytes bounds an attestation's note and an extension's reason.
	MaxNoteBytes = 1000
	// MaxExtensionMonths is GDPR Art. 12(3)'s "two further months".
	MaxExtensionMonths = 2
)

// Error codes of the operator routes.
const (
	CodeRequestRunning        = "request_running"
	CodeRequestCompleted      = "request_completed"
	CodeDeadlinePassed        = "deadline_passed"
	CodeTooManyRetries        = "too_many_retries"
	CodeUnknownSubsystem      = "unknown_subsystem"
	CodeSubsystemSettled      = "subsystem_settled"
	CodeInvalidOutcome        = "invalid_outcome"
	CodeInvalidNote           = "invalid_note"
	CodeInvalidMonths         = "invalid_months"
	CodeExtensionWindowClosed = "extension_window_closed"
	CodeExtensionLimit        = "extension_limit"
	CodeNoticeNotSent         = "notice_not_sent"
	CodeNotConfigured         = "not_configured"
)

// operatorRoute routes /erasures/{id}/... and /audit.
func operatorRoute(ev events.APIGatewayProxyRequest, segs []string) (route, error, bool) {
	method := ev.HTTPMethod
	one := func(name, allow string, serve func(h *Handler, ctx context.Context, ev events.APIGatewayProxyRequest, param string) (reply, string, error)) (route, error, bool) {
		if method != allow {
			return route{name: method + " " + name}, methodNotAllowed(allow), true
		}
		id, err := pathParam(ev, segs, 1)
		if err != nil {
			return route{name: method + " " + name}, httpjson.BadRequest(CodeInvalidRequestID, "requestId", "the request id in the path is not valid percent-encoding"), true
		}
		param := id
		if len(segs) == 5 {
			sub, err := pathParam(ev, segs, 3)
			if err != nil {
				return route{name: method + " " + name}, httpjson.BadRequest(CodeUnknownSubsystem, "name", "the subsystem in the path is not valid percent-encoding"), true
			}
			param = id + "/" + sub
		}
		return route{name: method + " " + name, param: param, serve: serve}, nil, true
	}
	switch {
	case len(segs) == 2 && segs[0] == "suppressions" && segs[1] == "check":
		if method != http.MethodPost {
			return route{name: method + " /suppressions/check"}, methodNotAllowed("POST"), true
		}
		return route{name: "POST /suppressions/check", serve: (*Handler).checkSuppressions}, nil, true
	case len(segs) == 1 && segs[0] == "audit":
		if method != http.MethodGet {
			return route{name: method + " /audit"}, methodNotAllowed("GET"), true
		}
		return route{name: "GET /audit", serve: (*Handler).listAudit}, nil, true
	case len(segs) == 3 && segs[0] == "erasures" && segs[1] != "" && segs[2] == "retry":
		return one("/erasures/{requestId}/retry", http.MethodPost, (*Handler).retry)
	case len(segs) == 1 && segs[0] == "keys":
		if method != http.MethodGet {
			return route{name: method + " /keys"}, methodNotAllowed("GET"), true
		}
		return route{name: "GET /keys", serve: (*Handler).getKeys}, nil, true
	case len(segs) == 3 && segs[0] == "erasures" && segs[1] != "" && segs[2] == "certificate":
		return one("/erasures/{requestId}/certificate", http.MethodGet, (*Handler).getCertificate)
	case len(segs) == 3 && segs[0] == "erasures" && segs[1] != "" && segs[2] == "subject":
		return one("/erasures/{requestId}/subject", http.MethodGet, (*Handler).readSubject)
	case len(segs) == 3 && segs[0] == "erasures" && segs[1] != "" && segs[2] == "extension":
		return one("/erasures/{requestId}/extension", http.MethodPost, (*Handler).extend)
	case len(segs) == 5 && segs[0] == "erasures" && segs[1] != "" && segs[2] == "subsystems" && segs[3] != "" && segs[4] == "attestation":
		return one("/erasures/{requestId}/subsystems/{name}/attestation", http.MethodPost, (*Handler).attest)
	}
	return route{}, nil, false
}

// actor is who calls: the IAM ARN API Gateway authenticated (the local
// runtime's gateway fills local:<operator>).
func actor(ev events.APIGatewayProxyRequest) string {
	if a := ev.RequestContext.Identity.UserArn; a != "" {
		return a
	}
	if c := ev.RequestContext.Identity.Caller; c != "" {
		return c
	}
	return "unknown"
}

// ownID checks that id is a request id of this region.
func (h *Handler) ownID(id string) error {
	region, err := erasure.ParseID(id)
	if err != nil {
		return httpjson.BadRequest(CodeInvalidRequestID, "requestId", "requestId must look like er_<region>_<uuidv7>")
	}
	if region != h.region.Name {
		return httpjson.NotFound(CodeWrongRegion, "requestId",
			fmt.Sprintf("this request belongs to region %s; ask that region's API (this is region %s)", region, h.region.Name))
	}
	return nil
}

// change runs one conditional change of a request, mapping the store's
// answers; fn's own refusals (httpjson errors) pass through.
func (h *Handler) change(ctx context.Context, id string, fn func(*erasure.Request) ([]audit.Record, error)) (erasure.Request, error) {
	r, err := h.store.Change(ctx, id, fn)
	var he *httpjson.Error
	switch {
	case err == nil, errors.As(err, &he), errors.Is(err, erasure.ErrNotFound):
		return r, err
	default:
		return r, &storeError{op: "change", err: err}
	}
}

// record makes the audit record of an action.
func record(id string, now time.Time, ev events.APIGatewayProxyRequest, action string, detail map[string]string) ([]audit.Record, error) {
	rec, err := audit.New(id, now, actor(ev), action, detail)
	if err != nil {
		return nil, err
	}
	return []audit.Record{rec}, nil
}

var errCompleted = httpjson.Conflict(CodeRequestCompleted, "requestId", "the request is completed: every subsystem is settled")

// optionalBody reads a body that may be empty (SigV4 clients send "{}").
func optionalBody(ev events.APIGatewayProxyRequest) ([]byte, error) {
	body, err := readBody(ev)
	if err != nil {
		return nil, err
	}
	if b := strings.Join(strings.Fields(string(body)), ""); b == "" || b == "{}" {
		return nil, nil
	}
	return body, checkContentType(ev)
}

// retry is POST /erasures/{id}/retry {"subsystems": [...]?}: the failed
// subsystems (or the named ones of them) run again in a new execution.
func (h *Handler) retry(ctx context.Context, ev events.APIGatewayProxyRequest, id string) (reply, string, error) {
	if err := h.ownID(id); err != nil {
		return reply{}, "", err
	}
	var in struct{ Subsystems []string }
	body, err := optionalBody(ev)
	if err != nil {
		return reply{}, "", err
	}
	if body != nil {
		if err := decodeFields(body, map[string]any{"subsystems": &in.Subsystems}, "subsystems", "send {} or {\"subsystems\": [...]}"); err != nil {
			return reply{}, "", err
		}
	}
	if h.executions == nil {
		return reply{}, "", &httpjson.Error{Status: http.StatusInternalServerError, Code: CodeNotConfigured, Message: "this API cannot start executions"}
	}
	now := h.now().UTC()
	r, err := h.change(ctx, id, func(r *erasure.Request) ([]audit.Record, error) {
		switch {
		case r.Status == erasure.StatusRunning && r.Run > 0:
			return nil, erasure.ErrUnchanged // a retry runs: answer it
		case r.Status.Open():
			return nil, httpjson.Conflict(CodeRequestRunning, "requestId", "the request is still running; only a failed request is retried")
		case r.Status == erasure.StatusCompleted:
			return nil, errCompleted
		case !now.Before(r.Deadline):
			return nil, httpjson.Conflict(CodeDeadlinePassed, "requestId", "the deadline "+formatTime(r.Deadline)+" has passed; settle the failed subsystems with an attestation")
		case r.Run >= erasure.MaxRuns:
			return nil, httpjson.Conflict(CodeTooManyRetries, "requestId", fmt.Sprintf("the request was retried %d times already", r.Run))
		}
		var failed []string
		for _, s := range r.Subsystems {
			if !s.Settled() {
				failed = append(failed, s.Name)
			}
		}
		targets := failed
		if in.Subsystems != nil {
			if len(in.Subsystems) == 0 {
				return nil, httpjson.BadRequest(CodeUnknownSubsystem, "subsystems", "subsystems must name at least one failed subsystem, or be left out")
			}
			for _, name := range in.Subsystems {
				if s, i := r.Subsystem(name); i < 0 {
					return nil, httpjson.NotFound(CodeUnknownSubsystem, "subsystems", fmt.Sprintf("the request has no subsystem %q", name))
				} else if s.Settled() {
					return nil, httpjson.Conflict(CodeSubsystemSettled, "subsystems", "subsystem "+name+" is settled already")
				}
			}
			targets = in.Subsystems
		}
		r.Run++
		r.Status, r.CompletedAt, r.RetryOnly = erasure.StatusRunning, nil, in.Subsystems
		for i := range r.Subsystems {
			if s := &r.Subsystems[i]; slices.Contains(targets, s.Name) {
				s.Status, s.Detail, s.FinishedAt = erasure.SubsystemPending, "", nil
				s.LastError, s.UnavailableSince, s.Streak, s.NextAttemptAt, s.Alerts = "", nil, 0, nil, nil
			}
		}
		return record(id, now, ev, audit.ActionRetry, map[string]string{"run": strconv.Itoa(r.Run), "subsystems": strings.Join(targets, ",")})
	})
	if err != nil {
		return reply{}, "", err
	}
	input, err := json.Marshal(erasure.ExecutionInput{RequestID: r.ID, Region: h.region.Name, ReceivedAt: r.ReceivedAt, Deadline: r.Deadline})
	if err != nil {
		return reply{}, "", err
	}
	if err := h.executions.Start(ctx, erasure.RunName(r.ID, r.Run), string(input)); err != nil {
		h.log.ErrorContext(ctx, "retry recorded, execution not started", "requestId", r.ID, "run", r.Run, "error", err.Error())
		return reply{}, "", httpjson.Unavailable(CodeUnavailable, "the retry is recorded but its execution could not be started; send the same request again", retryAfterSeconds)
	}
	return reply{status: http.StatusAccepted, body: newRequestView(r), requestID: r.ID}, "", nil
}

// checkNote checks an attestation's note or an extension's reason.
func checkNote(field string, v *string) (string, error) {
	if v == nil || strings.TrimSpace(*v) == "" {
		return "", httpjson.BadRequest(CodeRequired, field, field+" is required: say why")
	}
	if len(*v) > MaxNoteBytes || strings.IndexFunc(*v, func(r rune) bool { return unicode.IsControl(r) && r != '\n' }) >= 0 {
		return "", httpjson.BadRequest(CodeInvalidNote, field, fmt.Sprintf("%s must be at most %d bytes of text", field, MaxNoteBytes))
	}
	return strings.TrimSpace(*v), nil
}

// attest is POST /erasures/{id}/subsystems/{name}/attestation {"outcome":
// "deleted"|"not_held", "note"}: an operator settles a subsystem by hand.
// A failed request whose subsystems are then all settled closes completed;
// a running one goes on (the subsystem's loop ends at its next call).
func (h *Handler) attest(ctx context.Context, ev events.APIGatewayProxyRequest, param string) (reply, string, error) {
	id, name, _ := strings.Cut(param, "/")
	if err := h.ownID(id); err != nil {
		return reply{}, "", err
	}
	body, err := jsonBody(ev)
	if err != nil {
		return reply{}, "", err
	}
	var in struct{ Outcome, Note *string }
	if err := decodeFields(body, map[string]any{"outcome": &in.Outcome, "note": &in.Note}, "outcome, note",
		"send {\"outcome\": \"deleted\"|\"not_held\", \"note\": \"...\"}"); err != nil {
		return reply{}, "", err
	}
	var outcome erasure.SubsystemStatus
	switch {
	case in.Outcome == nil:
		return reply{}, "", httpjson.BadRequest(CodeRequired, "outcome", "outcome is required: deleted or not_held")
	case *in.Outcome == "deleted":
		outcome = erasure.SubsystemDeleted
	case *in.Outcome == "not_held":
		outcome = erasure.SubsystemNotFound
	default:
		return reply{}, "", httpjson.BadRequest(CodeInvalidOutcome, "outcome", "outcome must be deleted or not_held")
	}
	note, err := checkNote("note", in.Note)
	if err != nil {
		return reply{}, "", err
	}
	now := h.now().UTC()
	by := actor(ev)
	r, err := h.change(ctx, id, func(r *erasure.Request) ([]audit.Record, error) {
		if r.Status == erasure.StatusCompleted {
			return nil, errCompleted
		}
		sub, i := r.Subsystem(name)
		if i < 0 {
			return nil, httpjson.NotFound(CodeUnknownSubsystem, "name", fmt.Sprintf("the request has no subsystem %q", name))
		}
		if sub.Settled() {
			return nil, httpjson.Conflict(CodeSubsystemSettled, "name", "subsystem "+name+" is settled already ("+string(sub.Status)+")")
		}
		s := &r.Subsystems[i]
		s.Status, s.FinishedAt, s.NextAttemptAt = outcome, &now, nil
		s.Detail = "attested by " + by
		s.Attestation = &erasure.Attestation{By: by, At: now, Outcome: outcome, Note: note}
		if r.Status == erasure.StatusFailed && erasure.Outcome(r.Subsystems) == erasure.StatusCompleted {
			r.Status, r.CompletedAt = erasure.StatusCompleted, &now
		}
		return record(id, now, ev, audit.ActionAttestation, map[string]string{"subsystem": name, "outcome": string(outcome), "note": note})
	})
	if err != nil {
		return reply{}, "", err
	}
	if r.Status == erasure.StatusCompleted && r.Certificate == "" && h.certifier != nil {
		// The request completed outside its execution: have its
		// certificate issued. The attestation stands either way.
		if err := h.certifier.Certify(ctx, r.ID); err != nil {
			h.log.WarnContext(ctx, "certificate not requested", "requestId", r.ID, "error", err.Error())
		}
	}
	return reply{status: http.StatusOK, body: newRequestView(r), requestID: r.ID}, "", nil
}

// errForgotten answers a read of a subject Lethe no longer holds.
var errForgotten = &httpjson.Error{Status: http.StatusGone, Code: CodeSubjectForgotten, Field: "requestId",
	Message: "Lethe has forgotten this request's subject: it closed, and only a keyed hash of the subject remains"}

// SubjectView answers GET /erasures/{id}/subject.
type SubjectView struct {
	SubjectID string `json:"subjectId"`
}

// readSubject is GET /erasures/{id}/subject: the subject of an open or
// failed request, for an operator who must erase by hand. The read is
// recorded before the answer goes out.
func (h *Handler) readSubject(ctx context.Context, ev events.APIGatewayProxyRequest, id string) (reply, string, error) {
	if err := h.ownID(id); err != nil {
		return reply{}, "", err
	}
	now := h.now().UTC()
	r, err := h.change(ctx, id, func(r *erasure.Request) ([]audit.Record, error) {
		if r.SubjectID == "" {
			return nil, errForgotten
		}
		return record(id, now, ev, audit.ActionSubjectRead, nil)
	})
	if err != nil {
		return reply{}, "", err
	}
	return reply{status: http.StatusOK, body: SubjectView{SubjectID: r.SubjectID}, requestID: r.ID, noStore: true}, r.SubjectID, nil
}

// Notice is what the subject-notices topic carries about an extension:
// ids and dates only; the product that holds the person's contact details
// relays it.
type Notice struct {
	RequestID   string `json:"requestId"`
	NewDeadline string `json:"newDeadline"`
	Reason      string `json:"reason"`
}

// extend is POST /erasures/{id}/extension {"months": 1|2, "reason"}: GDPR
// Art. 12(3)'s extension, within one month of receipt and up to two months
// in total. The same extension sent again (same months and reason as the
// last one) changes nothing and publishes the notice again, so that a
// notice that could not be sent can be.
func (h *Handler) extend(ctx context.Context, ev events.APIGatewayProxyRequest, id string) (reply, string, error) {
	if err := h.ownID(id); err != nil {
		return reply{}, "", err
	}
	body, err := jsonBody(ev)
	if err != nil {
		return reply{}, "", err
	}
	var in struct {
		Months *int
		Reason *string
	}
	if err := decodeFields(body, map[string]any{"months": &in.Months, "reason": &in.Reason}, "months, reason",
		"send {\"months\": 1|2, \"reason\": \"...\"}"); err != nil {
		return reply{}, "", err
	}
	if in.Months == nil || *in.Months < 1 || *in.Months > MaxExtensionMonths {
		return reply{}, "", httpjson.BadRequest(CodeInvalidMonths, "months", "months must be 1 or 2")
	}
	reason, err := checkNote("reason", in.Reason)
	if err != nil {
		return reply{}, "", err
	}
	if h.notices == nil {
		return reply{}, "", &httpjson.Error{Status: http.StatusInternalServerError, Code: CodeNotConfigured, Message: "this API cannot publish notices"}
	}
	now := h.now().UTC()
	months := *in.Months
	r, err := h.change(ctx, id, func(r *erasure.Request) ([]audit.Record, error) {
		if r.Status == erasure.StatusCompleted {
			return nil, errCompleted
		}
		if n := len(r.Extensions); n > 0 && r.Extensions[n-1].Months == months && r.Extensions[n-1].Reason == reason {
			return nil, erasure.ErrUnchanged // the same extension again
		}
		if until := (config.Deadline{Months: 1}).After(r.ReceivedAt); now.After(until) {
			return nil, httpjson.Unprocessable(CodeExtensionWindowClosed, "months",
				"an extension is allowed only within one month of receipt (until "+formatTime(until)+"), GDPR Art. 12(3)")
		}
		if r.ExtendedMonths()+months > MaxExtensionMonths {
			return nil, httpjson.Unprocessable(CodeExtensionLimit, "months",
				fmt.Sprintf("the deadline may be extended by two months in total; it was extended by %d already", r.ExtendedMonths()))
		}
		old := r.Deadline
		r.Deadline = config.Deadline{Months: months}.After(old)
		r.Extensions = append(r.Extensions, erasure.Extension{By: actor(ev), At: now, Months: months, Reason: reason, OldDeadline: old, NewDeadline: r.Deadline})
		return record(id, now, ev, audit.ActionExtension, map[string]string{"months": strconv.Itoa(months), "reason": reason,
			"oldDeadline": formatTime(old), "newDeadline": formatTime(r.Deadline)})
	})
	if err != nil {
		return reply{}, "", err
	}
	notice, err := json.Marshal(Notice{RequestID: r.ID, NewDeadline: formatTime(r.Deadline), Reason: reason})
	if err != nil {
		return reply{}, "", err
	}
	if err := h.notices.PublishNotice(ctx, string(notice)); err != nil {
		h.log.ErrorContext(ctx, "extension recorded, notice not sent", "requestId", r.ID, "error", err.Error())
		return reply{}, "", httpjson.Unavailable(CodeNoticeNotSent, "the extension is recorded but the notice to the person could not be published; send the same request again", retryAfterSeconds)
	}
	return reply{status: http.StatusOK, body: newRequestView(r), requestID: r.ID}, "", nil
}

// AuditView answers GET /audit.
type AuditView struct {
	Records []AuditRecordView `json:"records"`
}

// AuditRecordView is one audit record, with its place in the region's
// hash chain.
type AuditRecordView struct {
	Seq       int64             `json:"seq"`
	ID        string            `json:"id"`
	RequestID string            `json:"requestId,omitempty"`
	At        string            `json:"at"`
	Actor     string            `json:"actor"`
	Action    string            `json:"action"`
	Detail    map[string]string `json:"detail,omitempty"`
	Prev      string            `json:"prev"`
	Hash      string            `json:"hash"`
}

// queryOnce is a query parameter given at most once ("" when absent).
func queryOnce(ev events.APIGatewayProxyRequest, name, code string) (string, error) {
	if vals := ev.MultiValueQueryStringParameters[name]; len(vals) > 1 {
		return "", httpjson.BadRequest(code, name, name+" must be given once")
	} else if len(vals) == 1 {
		return vals[0], nil
	}
	return ev.QueryStringParameters[name], nil
}

// listAudit is GET /audit?requestId=&limit=: one request's records oldest
// first, or the region's newest first; GET /audit?from=N lists the chain
// from entry N on, oldest first, for its verification.
func (h *Handler) listAudit(ctx context.Context, ev events.APIGatewayProxyRequest, _ string) (reply, string, error) {
	limit, err := listLimit(ev)
	if err != nil {
		return reply{}, "", err
	}
	id, err := queryOnce(ev, "requestId", CodeInvalidRequestID)
	if err != nil {
		return reply{}, "", err
	}
	if id != "" {
		if err := h.ownID(id); err != nil {
			return reply{}, "", err
		}
	}
	fromText, err := queryOnce(ev, "from", CodeInvalidFrom)
	if err != nil {
		return reply{}, "", err
	}
	var recs []audit.Record
	if fromText != "" {
		from, perr := strconv.ParseInt(fromText, 10, 64)
		if perr != nil || from < 1 || id != "" {
			return reply{}, "", httpjson.BadRequest(CodeInvalidFrom, "from", "from is the chain entry to list from: a whole number from 1, without requestId")
		}
		recs, err = h.store.AuditFrom(ctx, from, limit)
	} else {
		recs, err = h.store.Audit(ctx, id, limit)
	}
	if err != nil {
		return reply{}, "", &storeError{op: "audit", err: err}
	}
	out := AuditView{Records: make([]AuditRecordView, 0, len(recs))}
	for _, r := range recs {
		out.Records = append(out.Records, AuditRecordView{Seq: r.Seq, ID: r.ID, RequestID: r.RequestID, At: formatTime(r.At), Actor: r.Actor,
			Action: r.Action, Detail: r.Detail, Prev: r.Prev, Hash: r.Hash})
	}
	return reply{status: http.StatusOK, body: out, requestID: id}, "", nil
}
