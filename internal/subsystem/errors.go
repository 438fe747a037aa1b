package subsystem

import (
	"fmt"
	"strconv"
)

// The errors below are what the connector handlers return to Lambda. Their
// Go type names are the error names Step Functions sees (aws-lambda-go
// reports the type name of the returned error as errorType), and the state
// machine files retry or catch them by those names:
//
//	retried:  StoreUnavailable
//	caught (States.ALL, then the subsystem's admins are mailed):
//	          SubsystemRejected, SubsystemProtocolError, ConnectorRefused,
//	          RequestNotFound, InvalidInput
//
// SubsystemUnavailable and TokenUnavailable are not returned: they are
// recorded as progress and answered as status "unavailable" with the
// back-off to wait, and the machine's own loop persists until the give-up
// point before the deadline (an ASL Retry cannot read the deadline, nor a
// back-off configured per subsystem).
//
// The handlers return them unwrapped, because aws-lambda-go names the
// outermost type. Their messages end up in execution history (the Catch's
// Cause) and in logs, so they never contain the subject id, a URL that holds
// it, a token, or any text the subsystem answered.

// Call names one HTTP call to a subsystem, so that an operator reading an
// error knows which subsystem, which operation and which try it was.
type Call struct {
	Subsystem string
	// Op is delete, submit or check.
	Op string
	// Attempt counts from 1: the state machine's retry count + 1, or for a
	// check, the poll number.
	Attempt int
}

// String renders the call for error messages: "delete", "delete, attempt
// 3", "check 4".
func (c Call) String() string {
	if c.Attempt == 0 {
		return c.Op
	}
	if c.Op == opCheck {
		return "check " + strconv.Itoa(c.Attempt)
	}
	return c.Op + ", attempt " + strconv.Itoa(c.Attempt)
}

const (
	opDelete = "delete"
	opSubmit = "submit"
	opCheck  = "check"
	opAwait  = "await"
	opErase  = "erase"
)

// SubsystemUnavailable means the subsystem could not do it now (429, 408,
// 5xx, a timeout, a refused or broken connection): the state machine retries
// with back-off.
type SubsystemUnavailable struct {
	Call
	// StatusCode is the HTTP status, or 0 when no answer came.
	StatusCode int
	// Reason says what went wrong when no answer came.
	Reason string
}

func (e *SubsystemUnavailable) Error() string {
	if e.Op == opErase { // a built-in connector's store: Reason says what it answered
		return fmt.Sprintf("%s: %s (%s)", e.Subsystem, e.Reason, e.Call)
	}
	if e.StatusCode != 0 {
		return fmt.Sprintf("%s answered %d (%s)", e.Subsystem, e.StatusCode, e.Call)
	}
	return fmt.Sprintf("%s did not answer: %s (%s)", e.Subsystem, e.Reason, e.Call)
}

// SubsystemRejected means the subsystem refused the call with a 4xx other
// than 404 (on delete), 408 and 429: retrying will not help; a person must
// fix the subsystem or its token, so the admins are mailed.
type SubsystemRejected struct {
	Call
	StatusCode int
}

func (e *SubsystemRejected) Error() string {
	return fmt.Sprintf("%s answered %d (%s)", e.Subsystem, e.StatusCode, e.Call)
}

// SubsystemProtocolError means the subsystem answered outside the contract
// of DESIGN.md (a redirect, 202 without a ticket, an unknown status, a body
// that is not JSON or too large): permanent until its owners fix it.
type SubsystemProtocolError struct {
	Call
	StatusCode int
	Reason     string
}

func (e *SubsystemProtocolError) Error() string {
	return fmt.Sprintf("%s answered %d outside the contract: %s (%s)", e.Subsystem, e.StatusCode, e.Reason, e.Call)
}

// TokenUnavailable means the subsystem's bearer token could not be read (the
// secret is missing, empty or unreadable, or the store is throttling): the
// state machine retries, and if it never appears the admins are mailed.
type TokenUnavailable struct {
	Subsystem string
	// Source is where the token should be, e.g. "secretsmanager lethe/eu/projects/token".
	Source string
	Err    error
}

func (e *TokenUnavailable) Error() string {
	return fmt.Sprintf("token of %s unavailable from %s: %v", e.Subsystem, e.Source, e.Err)
}

func (e *TokenUnavailable) Unwrap() error { return e.Err }

// RequestNotFound means the requests table holds no such request (or no
// subject for it): nothing can be erased, and retrying will not change that.
type RequestNotFound struct {
	RequestID string
}

func (e *RequestNotFound) Error() string {
	return fmt.Sprintf("request %s not found in the requests table", e.RequestID)
}

// InvalidInput means the task payload is not what the state machine files
// build (a missing field, a subsystem of the wrong mode, a base URL or token
// source the region's configuration does not name): a deployment bug, never
// retried.
type InvalidInput struct {
	Field  string
	Reason string
}

func (e *InvalidInput) Error() string {
	return fmt.Sprintf("invalid task input: %s %s", e.Field, e.Reason)
}
