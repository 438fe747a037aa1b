package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lethe-erasure/lethe/internal/audit"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/httpjson"
	"github.com/lethe-erasure/lethe/internal/subsystem"
)

// TaskSender completes the task of a machine waiting for a callback.
type TaskSender = subsystem.TaskSender

// WithTasks lets POST /callbacks complete the waiting machines' tasks.
func WithTasks(t TaskSender) Option { return func(h *Handler) { h.tasks = t } }

// CallbackView answers a callback.
type CallbackView struct {
	// Status is recorded, or already_recorded for a repeated callback.
	Status string `json:"status"`
}

var errCallbackGone = &httpjson.Error{Status: http.StatusGone, Code: CodeCallbackGone, Field: "Authorization",
	Message: "this callback token's erasure is settled already (or its request is gone): nothing more to report"}

// callback is POST /callbacks, without IAM: an async subsystem that takes
// callbacks reports its erasure done (or failed) with the bearer token
// Lethe gave it at submission. A wrong token is 401; a settled erasure
// 410, unless the callback repeats the one recorded (200, nothing
// changes). The machine waiting for it goes on at once.
func (h *Handler) callback(ctx context.Context, ev events.APIGatewayProxyRequest, _ string) (reply, string, error) {
	token, err := bearer(ev)
	if err != nil {
		return reply{}, "", err
	}
	body, err := jsonBody(ev)
	if err != nil {
		return reply{}, "", err
	}
	var in struct{ Status, Detail *string }
	if err := decodeFields(body, map[string]any{"status": &in.Status, "detail": &in.Detail}, "status, detail",
		`send {"status": "deleted"|"failed", "detail": "..."}`); err != nil {
		return reply{}, "", err
	}
	switch {
	case in.Status == nil:
		return reply{}, "", httpjson.BadRequest(CodeRequired, "status", "status is required: deleted or failed")
	case *in.Status != subsystem.AsyncDeleted && *in.Status != subsystem.AsyncFailed:
		return reply{}, "", httpjson.BadRequest(CodeInvalidCallbackStatus, "status", "status must be deleted or failed")
	}
	detail := ""
	if in.Detail != nil {
		detail = *in.Detail
	}
	if len(detail) > subsystem.MaxDetailBytes || !utf8.ValidString(detail) {
		return reply{}, "", httpjson.BadRequest(CodeInvalidBody, "detail", "detail must be at most 1024 bytes of text")
	}
	requestID, name, err := h.store.CallbackTarget(ctx, subsystem.HashCallbackToken(token))
	if errors.Is(err, erasure.ErrNotFound) {
		return reply{}, "", &httpjson.Error{Status: http.StatusUnauthorized, Code: CodeInvalidCallbackToken, Field: "Authorization",
			Message: "the bearer token is not a callback token Lethe gave out"}
	}
	if err != nil {
		return reply{}, "", &storeError{op: "read a callback token", err: err}
	}
	now := h.now().UTC()
	var taskToken string
	var recorded erasure.CallbackResult
	var result erasure.SubsystemResult
	repeated := false
	_, err = h.store.Change(ctx, requestID, func(r *erasure.Request) ([]audit.Record, error) {
		sub, i := r.Subsystem(name)
		if i < 0 {
			return nil, errCallbackGone
		}
		clean := subsystem.CleanDetail(detail, r.SubjectID)
		if cb := sub.Callback; cb != nil {
			// The same outcome again (its detail, scrubbed of a subject
			// Lethe may have forgotten since, is not compared): a retry.
			if cb.Status == *in.Status {
				repeated = true
				return nil, erasure.ErrUnchanged
			}
			return nil, errCallbackGone
		}
		if sub.Settled() || sub.Status == erasure.SubsystemFailed || !r.Status.Open() {
			return nil, errCallbackGone
		}
		recorded = erasure.CallbackResult{Status: *in.Status, Detail: clean, At: now}
		r.Subsystems[i].Callback = &recorded
		taskToken, result = sub.TaskToken, sub
		return nil, nil
	})
	switch {
	case errors.Is(err, erasure.ErrNotFound):
		return reply{}, "", errCallbackGone
	case err != nil:
		var he *httpjson.Error
		if errors.As(err, &he) {
			return reply{}, "", err
		}
		return reply{}, "", &storeError{op: "record a callback", err: err}
	case repeated:
		return reply{status: http.StatusOK, body: CallbackView{Status: "already_recorded"}, requestID: requestID}, "", nil
	}
	if taskToken != "" && h.tasks != nil {
		// A wait that ended meanwhile (a status check runs) rejects the
		// token: the callback is recorded, and the next wait finds it.
		if err := subsystem.CompleteWait(ctx, h.tasks, taskToken, result, recorded); err != nil {
			h.log.WarnContext(ctx, "callback recorded, its wait not completed now", "requestId", requestID, "subsystem", name, "error", err.Error())
		}
	}
	return reply{status: http.StatusOK, body: CallbackView{Status: "recorded"}, requestID: requestID}, "", nil
}

// bearer reads the callback token of Authorization: Bearer <token>.
func bearer(ev events.APIGatewayProxyRequest) (string, error) {
	vals := headerValues(ev, "Authorization")
	missing := &httpjson.Error{Status: http.StatusUnauthorized, Code: CodeInvalidCallbackToken, Field: "Authorization",
		Message: "send the callback token Lethe gave at submission: Authorization: Bearer <callbackToken>"}
	if len(vals) != 1 {
		return "", missing
	}
	scheme, token, ok := strings.Cut(vals[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" || len(token) > 128 {
		return "", missing
	}
	return token, nil
}
