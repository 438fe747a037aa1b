package subsystem

import (
	"context"
	"fmt"
	"net/http"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
)

// SyncDelete is the DeleteUserData task of the SyncDeletion machine: one
// DELETE {base}/subjects/{subjectId}. 200/204 mean deleted and 404 means the
// subsystem held nothing (not_found, which counts as done); everything else
// is one of the typed errors the machine retries or catches.
func (c *Connector) SyncDelete(ctx context.Context, in erasure.DeleteInput) (erasure.SyncDeleteOutput, error) {
	t, err := c.target(in.RequestID, in.Subsystem, config.ModeSync)
	if err != nil {
		return erasure.SyncDeleteOutput{}, c.fail(ctx, in.RequestID, in.Subsystem.Name, opDelete, err)
	}
	call := Call{Subsystem: t.Name, Op: opDelete, Attempt: in.Attempt + 1}
	subject, err := c.subject(ctx, in.RequestID)
	if err != nil {
		return erasure.SyncDeleteOutput{}, c.fail(ctx, in.RequestID, t.Name, opDelete, err)
	}
	a, err := c.do(ctx, t, call, http.MethodDelete, "/subjects/"+escapeSegment(subject), nil, subject)
	if err == nil {
		err = classify(call, a)
	}
	if err != nil {
		return erasure.SyncDeleteOutput{}, c.fail(ctx, in.RequestID, t.Name, opDelete, err)
	}
	out := erasure.SyncDeleteOutput{Attempts: call.Attempt}
	switch a.status {
	case http.StatusOK, http.StatusNoContent:
		out.Status, out.Detail = erasure.SubsystemDeleted, fmt.Sprintf("deleted (%d)", a.status)
	case http.StatusNotFound:
		out.Status, out.Detail = erasure.SubsystemNotFound, "nothing held (404)"
	default:
		return erasure.SyncDeleteOutput{}, c.fail(ctx, in.RequestID, t.Name, opDelete, &SubsystemProtocolError{
			Call: call, StatusCode: a.status, Reason: "a sync subsystem answers 200, 204 or 404 once the data is gone"})
	}
	c.log.InfoContext(ctx, "erasure done", "requestId", in.RequestID, "subsystem", t.Name, "op", opDelete,
		"status", out.Status, "attempts", out.Attempts)
	return out, nil
}

// fail logs a failed task and hands its error back, unwrapped, for Lambda
// to report under the error's type name.
func (c *Connector) fail(ctx context.Context, requestID, subsystem, op string, err error) error {
	c.log.WarnContext(ctx, "erasure task failed", "requestId", requestID, "subsystem", subsystem, "op", op,
		"errorType", errorName(err), "error", err.Error())
	return err
}

func errorName(err error) string {
	switch err.(type) {
	case *SubsystemUnavailable:
		return "SubsystemUnavailable"
	case *SubsystemRejected:
		return "SubsystemRejected"
	case *SubsystemProtocolError:
		return "SubsystemProtocolError"
	case *TokenUnavailable:
		return "TokenUnavailable"
	case *erasure.StoreUnavailable:
		return "StoreUnavailable"
	case *RequestNotFound:
		return "RequestNotFound"
	case *InvalidInput:
		return "InvalidInput"
	}
	return fmt.Sprintf("%T", err)
}
