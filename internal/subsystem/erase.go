package subsystem

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/connector"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/progress"
)

// EraserSource hands out the built-in connector of a configured subsystem
// (internal/connector/builtin). Its errors are TokenUnavailable (a key
// that could not be read) or a permanent problem of the configuration.
type EraserSource interface {
	Eraser(ctx context.Context, s config.Subsystem) (connector.Eraser, error)
}

// WithErasers gives the connector the built-in connectors: the Erase
// handler (the connector function) needs it.
func WithErasers(src EraserSource) Option { return func(c *Connector) { c.erasers = src } }

// EraseBudget bounds one Erase call when its context has no deadline (the
// local runtime): a connector that has more to do stops with
// connector.More, as it does before a Lambda's time runs out. Tests shorten
// it to see a store erased over several calls.
var EraseBudget = time.Minute

// ConnectorRefused means a built-in connector's store refused the erasure
// for good (access denied, no such table, bucket or pool, a key that does
// not fit): a person must fix the store or Lethe's configuration, so the
// subsystem's admins are mailed.
type ConnectorRefused struct {
	Call
	// Code is the store's error code, e.g. AccessDeniedException.
	Code   string
	Detail string
}

func (e *ConnectorRefused) Error() string {
	return fmt.Sprintf("%s: %s (%s, %s)", e.Subsystem, e.Detail, e.Code, e.Call)
}

// Erase is the EraseInStore task of the SyncDeletion machine: a built-in
// connector erases the subject in a store Lethe reaches itself. Like a
// sync delete it answers deleted or not_found, or unavailable with the
// back-off while the store throttles or fails on its side; it answers more
// when its time ran out with work left, and the machine calls it again.
func (c *Connector) Erase(ctx context.Context, in erasure.DeleteInput) (erasure.SyncDeleteOutput, error) {
	s, err := c.connectorTarget(in.RequestID, in.Subsystem)
	if err != nil {
		return erasure.SyncDeleteOutput{}, c.fail(ctx, in.RequestID, in.Subsystem.Name, opErase, err)
	}
	t := in.Subsystem
	call := Call{Subsystem: t.Name, Op: opErase}
	subject, err := c.subject(ctx, in.RequestID)
	if err != nil {
		return erasure.SyncDeleteOutput{}, c.fail(ctx, in.RequestID, t.Name, opErase, err)
	}
	step := progress.Step{Called: true, Answer: progress.Done}
	eraser, err := c.erasers.Eraser(ctx, s)
	if err == nil {
		if _, bounded := ctx.Deadline(); !bounded {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, EraseBudget)
			defer cancel()
		}
		var outcome connector.Outcome
		outcome, err = eraser.Erase(ctx, subject)
		kind := s.Connector.Kind()
		switch {
		case err != nil:
			err = connectorError(call, err)
		case outcome == connector.Deleted:
			step.Status, step.Detail = erasure.SubsystemDeleted, "deleted by the "+kind+" connector"
		case outcome == connector.NotFound:
			step.Status, step.Detail = erasure.SubsystemNotFound, "nothing held (the "+kind+" connector found nothing)"
		case outcome == connector.More:
			step.Answer, step.Detail = progress.Accepted, "erasing: the "+kind+" connector goes on where it stopped"
		default:
			err = &ConnectorRefused{Call: call, Code: "UnknownOutcome", Detail: "the connector answered " + string(outcome)}
		}
	}
	return c.answerSync(ctx, in, t, call, err, step)
}

// connectorError types a connector's failure as the machines read it.
func connectorError(call Call, err error) error {
	var ce *connector.Error
	var tu *TokenUnavailable
	switch {
	case errors.As(err, &tu):
		return err
	case !errors.As(err, &ce):
		return &ConnectorRefused{Call: call, Code: "Unexpected", Detail: "the connector failed unexpectedly"}
	case ce.Retryable:
		return &SubsystemUnavailable{Call: call, Reason: ce.Detail + " (" + ce.Code + ")"}
	}
	return &ConnectorRefused{Call: call, Code: ce.Code, Detail: ce.Detail}
}

// connectorTarget checks a task's subsystem against the region's
// configuration: a sync subsystem declared there with a connector of the
// same store. What the connector erases comes from that configuration
// alone, never from the payload.
func (c *Connector) connectorTarget(requestID string, t erasure.Target) (config.Subsystem, error) {
	if _, err := erasure.ParseID(requestID); err != nil {
		return config.Subsystem{}, &InvalidInput{Field: "requestId", Reason: "is not a request id (er_<region>_<uuidv7>)"}
	}
	if c.region == nil || c.erasers == nil {
		return config.Subsystem{}, &InvalidInput{Field: "subsystem", Reason: "cannot be erased here: this function has no built-in connectors"}
	}
	s, ok := c.region.Subsystem(t.Name)
	switch {
	case !ok:
		return s, &InvalidInput{Field: "subsystem.name", Reason: fmt.Sprintf("%q is not a subsystem of region %s", t.Name, c.region.Name)}
	case s.Connector == nil:
		return s, &InvalidInput{Field: "subsystem.connector", Reason: "of " + t.Name + ": the region's configuration declares no connector for it"}
	case s.Connector.Kind() != t.Connector:
		return s, &InvalidInput{Field: "subsystem.connector", Reason: "of " + t.Name + " differs from the region's configuration"}
	case t.Mode != config.ModeSync:
		return s, &InvalidInput{Field: "subsystem.mode", Reason: "of " + t.Name + " must be sync"}
	}
	return s, nil
}
