package outcome

import "fmt"

// The errors of the RecordOutcome task. Each Go type name is the ASL error
// name Step Functions sees (aws-lambda-go reports the type name as the
// function error's type).

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
