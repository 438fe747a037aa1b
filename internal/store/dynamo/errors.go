package dynamo

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/smithy-go"
)

// StoreUnavailable means the requests table could not be read or written
// for a reason that may pass: throttling, a transaction conflict that did
// not settle, a server fault, a network error. Its type name is the ASL
// error name the state machines retry ("StoreUnavailable"), so a handler
// may return it as it is; Unavailable lets handlers recognise it without
// importing this package.
type StoreUnavailable struct {
	// Op is what the store was doing, e.g. "create request".
	Op  string
	Err error
}

func (e *StoreUnavailable) Error() string {
	return fmt.Sprintf("requests table unavailable: %s: %v", e.Op, e.Err)
}

// Unwrap exposes the SDK error for errors.Is/As.
func (e *StoreUnavailable) Unwrap() error { return e.Err }

// Unavailable marks the error as worth retrying; callers test for it with
// errors.As(err, &interface{ Unavailable() bool }).
func (e *StoreUnavailable) Unavailable() bool { return true }

// retryableCodes are the DynamoDB error codes of failures that pass by
// themselves.
var retryableCodes = map[string]bool{
	"ProvisionedThroughputExceededException": true,
	"RequestLimitExceeded":                   true,
	"ThrottlingException":                    true,
	"LimitExceededException":                 true,
	"InternalServerError":                    true,
	"ServiceUnavailable":                     true,
	"TransactionConflictException":           true,
	"TransactionInProgressException":         true,
}

// classify wraps an SDK error with what the store was doing, as a
// *StoreUnavailable when retrying may help, as a plain error otherwise
// (validation errors, a missing table, a cancelled context).
func classify(op string, err error) error {
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %w", op, err)
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		if retryableCodes[ae.ErrorCode()] || ae.ErrorFault() == smithy.FaultServer {
			return &StoreUnavailable{Op: op, Err: err}
		}
		return fmt.Errorf("%s: %w", op, err)
	}
	// No answer from DynamoDB at all: network errors, timeouts, exhausted
	// SDK retries.
	return &StoreUnavailable{Op: op, Err: err}
}
