// Package connector holds what Lethe's built-in connectors share: the
// interface a connector implements and the errors it returns. A built-in
// connector erases a subject in a store that Lethe reaches directly
// (DynamoDB, S3, Cognito, Stripe), declared per subsystem in configuration
// instead of a base URL. Each store's connector lives in a package of its
// own under internal/connector/; the sync-delete handler reads the subject
// from the requests table and calls Erase, so the subject id never enters
// Step Functions, and reports the outcome like the HTTP contract's.
package connector

import (
	"context"
	"fmt"
)

// Outcome is what one Erase call achieved.
type Outcome string

// Outcomes of Erase.
const (
	// Deleted means the store held data of the subject and now holds none.
	Deleted Outcome = "deleted"
	// NotFound means the store held nothing of the subject.
	NotFound Outcome = "not_found"
	// More means the call deleted what it could within its budget and more
	// remains: the caller calls Erase again (a later invocation), which
	// continues where this one stopped.
	More Outcome = "more"
)

// Eraser erases one subject's data in one configured store. Erase must be
// idempotent: calling it again after a crash, a timeout or More continues
// the work and never fails because something is already gone.
type Eraser interface {
	Erase(ctx context.Context, subject string) (Outcome, error)
}

// Error is a connector's failure, typed like the HTTP contract's answers:
// Retryable for throttling, 5xx and broken connections (Lethe persists with
// the subsystem's retry policy), not Retryable for what a person must fix
// (access denied, a missing table or pool, a bad key). Detail says what
// went wrong for the subsystem's admins; it never holds the subject id, a
// key built from it, or a credential.
type Error struct {
	Retryable bool
	// Code is the store's error code, e.g. "ThrottlingException",
	// "AccessDenied" or an HTTP status as text.
	Code   string
	Detail string
}

func (e *Error) Error() string {
	kind := "permanent"
	if e.Retryable {
		kind = "retryable"
	}
	return fmt.Sprintf("%s (%s, %s)", e.Detail, e.Code, kind)
}

// ConfigError is a connector configuration's problem: Key names it in
// configuration's terms (e.g. regions[0].subsystems[2].connector.s3.prefix).
type ConfigError struct {
	Key     string
	Message string
}

func (e *ConfigError) Error() string { return e.Key + ": " + e.Message }

// Invalid returns a Validate's refusal of key under prefix.
func Invalid(prefix, key, message string) error {
	return &ConfigError{Key: prefix + "." + key, Message: message}
}
