package outcome

import "fmt"

// The errors of the RecordOutcome task. Each Go type name is the ASL error
// name Step Functions sees (aws-lambda-go reports the type name as the
// function error's type).

// StoreUnavailable means the requests table could not be read or written:
// statemachines/erasure.asl.json retries RecordOutcome on it. (The same
// type name, copied per task package, is what every task returns for this;
// see the report of issue 2 for moving it into internal/erasure.)
type StoreUnavailable struct {
	RequestID string
	Err       error
}

func (e *StoreUnavailable) Error() string {
	return fmt.Sprintf("record the outcome of %s: requests table unavailable: %v", e.RequestID, e.Err)
}

// Unwrap exposes the store's error.
func (e *StoreUnavailable) Unwrap() error { return e.Err }

// RequestNotFound means the requests table holds no such request: there is
// nothing to record the outcome on, and retrying will not change that.
type RequestNotFound struct {
	RequestID string
}

func (e *RequestNotFound) Error() string {
	return fmt.Sprintf("record outcome: no request %s in the requests table", e.RequestID)
}

// InvalidInput means the task's input is not what erasure.asl.json sends.
type InvalidInput struct {
	Field  string
	Reason string
}

func (e *InvalidInput) Error() string {
	return fmt.Sprintf("record outcome: %s %s", e.Field, e.Reason)
}
