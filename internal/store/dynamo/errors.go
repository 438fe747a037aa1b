package dynamo

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/smithy-go"

	"github.com/lethe-erasure/lethe/internal/erasure"
)

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

// Transient reports whether a DynamoDB call's error is one that passes by
// itself (throttling, a server fault, no answer at all: network errors,
// timeouts, exhausted SDK retries), so that the caller may try again. A
// cancelled context, a validation error or a missing table is not. Every
// DynamoDB adapter of Lethe classifies its errors here.
func Transient(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return retryableCodes[ae.ErrorCode()] || ae.ErrorFault() == smithy.FaultServer
	}
	return true
}

// classify wraps an SDK error with what the store was doing, as a
// *StoreUnavailable when it is Transient, as a plain error otherwise.
func classify(op string, err error) error {
	if Transient(err) {
		return &erasure.StoreUnavailable{Op: op, Err: err}
	}
	return fmt.Errorf("%s: %w", op, err)
}
