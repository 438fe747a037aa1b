package subsystem

import (
	"context"
	"fmt"
	"net/http"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/progress"
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
	call := Call{Subsystem: t.Name, Op: opDelete}
	subject, err := c.subject(ctx, in.RequestID)
	if err != nil {
		return erasure.SyncDeleteOutput{}, c.fail(ctx, in.RequestID, t.Name, opDelete, err)
	}
	a, err := c.do(ctx, t, call, http.MethodDelete, "/subjects/"+escapeSegment(subject), nil, subject)
	if err == nil {
		err = classify(call, a)
	}
	step := progress.Step{Called: true, Answer: progress.Done}
	if err == nil {
		switch a.status {
		case http.StatusOK, http.StatusNoContent:
			step.Status, step.Detail = erasure.SubsystemDeleted, fmt.Sprintf("deleted (%d)", a.status)
		case http.StatusNotFound:
			step.Status, step.Detail = erasure.SubsystemNotFound, "nothing held (404)"
		default:
			err = &SubsystemProtocolError{Call: call, StatusCode: a.status, Reason: "a sync subsystem answers 200, 204 or 404 once the data is gone"}
		}
	}
	return c.answerSync(ctx, in, t, call, err, step)
}

// answerSync records a sync call's answer (err, or step when err is nil)
// and turns the decision into the task's output.
func (c *Connector) answerSync(ctx context.Context, in erasure.DeleteInput, t erasure.Target, call Call, err error, step progress.Step) (erasure.SyncDeleteOutput, error) {
	d, step, err := c.track(ctx, in.RequestID, t, call, err, step, in.Now)
	if err != nil {
		return erasure.SyncDeleteOutput{}, err
	}
	out := erasure.SyncDeleteOutput{Status: step.Status, Attempts: d.Attempts, Detail: step.Detail}
	if step.Answer == progress.Accepted {
		out.Status = erasure.CallMore
	}
	if status, detail, persist, ok := instead(d, step); ok {
		out.Status, out.Detail, out.Persist = erasure.SubsystemStatus(status), detail, persist
	}
	c.log.InfoContext(ctx, "erasure call answered", "requestId", in.RequestID, "execution", d.Execution, "subsystem", t.Name, "op", call.Op,
		"status", out.Status, "attempts", out.Attempts, "waitSeconds", out.WaitSeconds, "giveUp", out.GiveUp)
	return out, nil
}

// instead is what a call answers in place of the subsystem's own answer:
// attested when an operator settled the subsystem meanwhile (the loop ends),
// unavailable with the back-off and the give-up decision when the
// subsystem did not answer (the loop waits and calls again); ok is false
// when the subsystem's answer stands.
func instead(d progress.Decision, step progress.Step) (status, detail string, persist erasure.Persist, ok bool) {
	switch {
	case d.Attested != "":
		return erasure.CallAttested, "attested by an operator", erasure.Persist{}, true
	case step.Answer == progress.Unavailable:
		return erasure.CallUnavailable, step.Error, erasure.Persist{WaitSeconds: d.WaitSeconds, GiveUp: d.GiveUp}, true
	}
	return "", "", erasure.Persist{}, false
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
	case *ConnectorRefused:
		return "ConnectorRefused"
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
