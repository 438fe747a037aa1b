package subsystem

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/lethe-erasure/lethe/internal/audit"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
)

// CallbackStore records callback tokens by hash and the task token of a
// machine waiting for a callback; the requests table is one.
type CallbackStore interface {
	PutCallback(ctx context.Context, hash, requestID, subsystem string, expires time.Time) error
	Change(ctx context.Context, id string, fn func(*erasure.Request) ([]audit.Record, error)) (erasure.Request, error)
}

// TaskSender completes a waiting task: Step Functions' SendTaskSuccess and
// SendTaskFailure on AWS, the engine's under lethe local.
type TaskSender interface {
	SendTaskSuccess(ctx context.Context, taskToken string, output []byte) error
	SendTaskFailure(ctx context.Context, taskToken, errorName, cause string) error
}

// ErrReportedFailure is the error AwaitCallback fails with when the
// subsystem called back that its erasure failed: the machine's Catch
// records it and mails the admins.
const ErrReportedFailure = "SubsystemReportedFailure"

// CompleteWait ends AwaitCallback with the subsystem's callback: deleted
// ends the AsyncDeletion machine with the subsystem's result (what
// UserDeletedSuccessfully ends it with after a status check), failed fails
// the task with ErrReportedFailure.
func CompleteWait(ctx context.Context, tasks TaskSender, taskToken string, sub erasure.SubsystemResult, cb erasure.CallbackResult) error {
	if cb.Status != AsyncDeleted {
		return tasks.SendTaskFailure(ctx, taskToken, ErrReportedFailure, "the subsystem called back that the erasure failed: "+cb.Detail)
	}
	at := cb.At.UTC()
	out, err := json.Marshal(erasure.SubsystemResult{Name: sub.Name, Mode: sub.Mode, Status: erasure.SubsystemDeleted,
		Attempts: sub.Attempts, FinishedAt: &at, Detail: "called back: " + cb.Detail})
	if err != nil {
		return err
	}
	return tasks.SendTaskSuccess(ctx, taskToken, out)
}

// WithCallbacks lets the connector offer callbacks to the subsystems that
// take them: url is the region's POST /callbacks.
func WithCallbacks(store CallbackStore, tasks TaskSender, url string) Option {
	return func(c *Connector) { c.callbacks, c.tasks, c.callbackURL = store, tasks, url }
}

// CallbackTokenLifetime is how long a callback token answers: longer than
// any request runs (a deadline extended to the limit).
const CallbackTokenLifetime = config.LongestDeadline + 30*24*time.Hour

// HashCallbackToken is how a callback token is kept: hex SHA-256.
func HashCallbackToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// newCallbackToken draws a token (256 random bits, base64url) for the
// request's subsystem and records its hash.
func (c *Connector) newCallbackToken(ctx context.Context, requestID, subsystem string, now time.Time) (string, error) {
	if c.callbacks == nil || c.callbackURL == "" {
		return "", &InvalidInput{Field: "subsystem.callback", Reason: "of " + subsystem + " is set, but this connector has no callback route to offer"}
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	if err := c.callbacks.PutCallback(ctx, HashCallbackToken(token), requestID, subsystem, now.Add(CallbackTokenLifetime)); err != nil {
		return "", &erasure.StoreUnavailable{Op: "record the callback token of " + requestID, Err: err}
	}
	return token, nil
}

// await arms AwaitCallback: it keeps the task token with the request's
// subsystem; if the subsystem called back before (between two waits), it
// completes the task with that callback at once.
func (c *Connector) await(ctx context.Context, in erasure.CheckInput, t erasure.Target) error {
	if c.callbacks == nil || c.tasks == nil {
		return &InvalidInput{Field: "taskToken", Reason: "set, but this connector does not take callbacks"}
	}
	var early *erasure.CallbackResult
	var result erasure.SubsystemResult
	_, err := c.callbacks.Change(ctx, in.RequestID, func(r *erasure.Request) ([]audit.Record, error) {
		sub, i := r.Subsystem(t.Name)
		if i < 0 {
			return nil, &InvalidInput{Field: "subsystem.name", Reason: t.Name + " is not a subsystem of the request"}
		}
		if sub.Callback != nil {
			cb := *sub.Callback
			early, result = &cb, sub
		}
		if sub.TaskToken == in.TaskToken {
			return nil, erasure.ErrUnchanged
		}
		r.Subsystems[i].TaskToken = in.TaskToken
		return nil, nil
	})
	switch {
	case errors.Is(err, erasure.ErrNotFound):
		return &RequestNotFound{RequestID: in.RequestID}
	case err != nil:
		var ii *InvalidInput
		if errors.As(err, &ii) {
			return ii
		}
		return &erasure.StoreUnavailable{Op: "keep the task token of " + in.RequestID, Err: err}
	}
	c.log.InfoContext(ctx, "waiting for a callback", "requestId", in.RequestID, "subsystem", t.Name, "calledBack", early != nil)
	if early != nil {
		if err := CompleteWait(ctx, c.tasks, in.TaskToken, result, *early); err != nil {
			return &erasure.StoreUnavailable{Op: "complete the wait of " + in.RequestID + " with its callback", Err: err}
		}
	}
	return nil
}
