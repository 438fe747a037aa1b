package asl

import (
	"errors"
	"fmt"
)

// Error names predefined by the States Language (spec "Errors") and by AWS
// Step Functions. They are the names that Retry and Catch match in
// ErrorEquals; names beginning "States." are reserved to the interpreter.
const (
	ErrAll                    = "States.ALL"
	ErrDataLimitExceeded      = "States.DataLimitExceeded"
	ErrRuntime                = "States.Runtime"
	ErrTimeout                = "States.Timeout"
	ErrTaskFailed             = "States.TaskFailed"
	ErrPermissions            = "States.Permissions"
	ErrHeartbeatTimeout       = "States.HeartbeatTimeout"
	ErrBranchFailed           = "States.BranchFailed"
	ErrNoChoiceMatched        = "States.NoChoiceMatched"
	ErrResultPathMatchFailure = "States.ResultPathMatchFailure"
	ErrParameterPathFailure   = "States.ParameterPathFailure"
	ErrIntrinsicFailure       = "States.IntrinsicFailure"
	ErrItemReaderFailed       = "States.ItemReaderFailed"
	ErrResultWriterFailed     = "States.ResultWriterFailed"
	ErrExceedToleratedFailure = "States.ExceedToleratedFailureThreshold"
	ErrQueryEvaluationError   = "States.QueryEvaluationError"
	errLambdaResourceNotFound = "Lambda.ResourceNotFoundException"
)

// Failure is an ASL error: the name that Retry and Catch match and a
// human-readable cause. Integrations return a *Failure to fail a Task with a
// chosen name; any other error fails it with States.TaskFailed.
type Failure struct {
	Name  string `json:"Error"`
	Cause string `json:"Cause"`
}

func (f *Failure) Error() string {
	if f.Cause == "" {
		return f.Name
	}
	return f.Name + ": " + f.Cause
}

// fail builds a Failure with a formatted cause.
func fail(name, format string, args ...any) *Failure {
	return &Failure{Name: name, Cause: fmt.Sprintf(format, args...)}
}

// asFailure turns any error into a Failure: a *Failure anywhere in the chain
// keeps its name, anything else becomes States.TaskFailed.
func asFailure(err error) *Failure {
	if err == nil {
		return nil
	}
	var f *Failure
	if errors.As(err, &f) {
		return f
	}
	return &Failure{Name: ErrTaskFailed, Cause: err.Error()}
}

// errorOutput is the JSON object a Catch hands to its Next state (spec
// "Fallback states": the "error output" with Error and Cause fields).
func (f *Failure) errorOutput() any {
	return map[string]any{"Error": f.Name, "Cause": f.Cause}
}

// terminal reports whether no Retry or Catch may handle the error: AWS
// documents States.Runtime and States.DataLimitExceeded as always failing the
// execution ("States.ALL ... can't catch the States.DataLimitExceeded terminal
// error type and runtime error types").
func (f *Failure) terminal() bool {
	return f.Name == ErrRuntime || f.Name == ErrDataLimitExceeded
}

// matches reports whether an ErrorEquals list applies to the failure.
// States.ALL matches every non-terminal error; States.TaskFailed, used in a
// retrier or catcher, matches every non-terminal error except States.Timeout
// (developer guide, "Error names").
func matches(errorEquals []string, f *Failure) bool {
	if f.terminal() {
		return false
	}
	for _, name := range errorEquals {
		switch {
		case name == f.Name:
			return true
		case name == ErrAll:
			return true
		case name == ErrTaskFailed && f.Name != ErrTimeout:
			return true
		}
	}
	return false
}

// ValidationError lists everything wrong with a definition, each problem
// naming the state and the field.
type ValidationError struct {
	Problems []string
}

func (e *ValidationError) Error() string {
	if len(e.Problems) == 1 {
		return "invalid state machine definition: " + e.Problems[0]
	}
	s := fmt.Sprintf("invalid state machine definition (%d problems):", len(e.Problems))
	for _, p := range e.Problems {
		s += "\n  - " + p
	}
	return s
}

// jsonString renders a value as compact JSON, the way AWS shows inputs and
// outputs in its history.
func jsonString(v any) string {
	b, err := marshalJSON(v)
	if err != nil {
		return fmt.Sprintf("%q", fmt.Sprint(v))
	}
	return string(b)
}
