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
			return &erasure.StoreUnavailable{Op: op, Err: err}
		}
		return fmt.Errorf("%s: %w", op, err)
	}
	// No answer from DynamoDB at all: network errors, timeouts, exhausted
	// SDK retries.
	return &erasure.StoreUnavailable{Op: op, Err: err}
}
