package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lethe-erasure/lethe/internal/audit"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/httpjson"
)

// MaxSuppressionCheck bounds the subject ids of one suppression check.
const MaxSuppressionCheck = 1000

// SuppressionView answers POST /suppressions/check: of the ids asked about,
// those erased in this region, each with the requests that erased it.
type SuppressionView struct {
	Checked int                 `json:"checked"`
	Erased  []SuppressedSubject `json:"erased"`
}

// SuppressedSubject is one erased subject of a check, with its requests,
// oldest first.
type SuppressedSubject struct {
	SubjectID string           `json:"subjectId"`
	Requests  []erasure.Erased `json:"requests"`
}

// checkSuppressions is POST /suppressions/check: a backup restore or a
// pipeline asks which of the people it is about to bring back were erased
// here, so that it erases them again. Lethe holds no list of whom it erased,
// only their keyed hashes: the ids asked about are hashed and looked up,
// and are in the answer (no-store) and nowhere else.
func (h *Handler) checkSuppressions(ctx context.Context, ev events.APIGatewayProxyRequest, _ string) (reply, string, error) {
	body, err := jsonBody(ev)
	if err != nil {
		return reply{}, "", err
	}
	var ids *[]any
	if err := decodeFields(body, map[string]any{"subjectIds": &ids}, "subjectIds",
		`send {"subjectIds": ["...", ...]} (at most `+strconv.Itoa(MaxSuppressionCheck)+`)`); err != nil {
		return reply{}, "", err
	}
	if ids == nil {
		return reply{}, "", httpjson.BadRequest(CodeRequired, "subjectIds", "subjectIds is required: an array of subject ids")
	}
	if len(*ids) > MaxSuppressionCheck {
		return reply{}, "", httpjson.BadRequest(CodeTooMany, "subjectIds",
			fmt.Sprintf("subjectIds holds %d ids; one check takes at most %d", len(*ids), MaxSuppressionCheck))
	}
	subjects := make([]string, len(*ids))
	hashes := make([]string, len(*ids))
	for i, v := range *ids {
		field := fmt.Sprintf("subjectIds[%d]", i)
		s, ok := v.(string)
		if !ok {
			return reply{}, "", httpjson.BadRequest(CodeInvalidType, field, field+" must be a string")
		}
		if err := erasure.ValidateSubjectID(s); err != nil {
			return reply{}, "", httpjson.BadRequest(CodeInvalidSubjectID, field, field+" "+err.Error())
		}
		subjects[i], hashes[i] = s, h.subjects.Hash(s)
	}
	found, err := h.store.Suppressed(ctx, hashes)
	if err != nil {
		return reply{}, "", &storeError{op: "check suppressions", err: err}
	}
	view := SuppressionView{Checked: len(subjects), Erased: []SuppressedSubject{}}
	listed := map[string]bool{}
	for i, s := range subjects {
		if reqs := found[hashes[i]]; len(reqs) > 0 && !listed[s] {
			listed[s] = true
			view.Erased = append(view.Erased, SuppressedSubject{SubjectID: s, Requests: reqs})
		}
	}
	// The check is counted in the audit records before the answer goes
	// out: how many ids, how many were erased; never the ids.
	rec, err := audit.New("", h.now(), actor(ev), audit.ActionSuppressionCheck,
		map[string]string{"checked": strconv.Itoa(view.Checked), "erased": strconv.Itoa(len(view.Erased))})
	if err == nil {
		err = h.store.AppendAudit(ctx, rec)
	}
	if err != nil {
		return reply{}, "", &storeError{op: "record the suppression check", err: err}
	}
	return reply{status: http.StatusOK, body: view, noStore: true}, "", nil
}
