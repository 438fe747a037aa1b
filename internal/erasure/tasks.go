package erasure

import (
	"time"

	"github.com/lethe-erasure/lethe/internal/config"
)

// The payloads below are the contract between statemachines/*.asl.json and
// the task functions. Field names are the JSON paths the files use; a test
// runs the files against the handlers so the two cannot drift.

// Target is one subsystem as the state machines carry it: everything a
// connector needs to call it, and the topic that mails its admins. It holds
// configuration only, no personal data.
type Target struct {
	Name           string             `json:"name"`
	Mode           config.Mode        `json:"mode"`
	BaseURL        string             `json:"baseUrl"`
	TimeoutSeconds int                `json:"timeoutSeconds"`
	Token          config.TokenSource `json:"token"`
	Poll           *config.PollPolicy `json:"poll,omitempty"`
	TopicArn       string             `json:"topicArn"`
}

// LoadSubsystemsInput is the input of the LoadSubsystems task.
type LoadSubsystemsInput struct {
	RequestID string `json:"requestId"`
}

// LoadSubsystemsOutput lists the subsystems the Map state iterates over.
type LoadSubsystemsOutput struct {
	Subsystems []Target `json:"subsystems"`
}

// DeleteInput is the input of a sync delete or an async submit
// (DeleteUserData). Attempt is $$.State.RetryCount: 0 on the first call.
type DeleteInput struct {
	RequestID string `json:"requestId"`
	Subsystem Target `json:"subsystem"`
	Attempt   int    `json:"attempt"`
}

// SyncDeleteOutput is a sync subsystem's answer.
type SyncDeleteOutput struct {
	// Status is deleted or not_found.
	Status   SubsystemStatus `json:"status"`
	Attempts int             `json:"attempts"`
	Detail   string          `json:"detail"`
}

// SubmitOutput is an async subsystem's acceptance of an erasure.
type SubmitOutput struct {
	Ticket   string `json:"ticket"`
	Attempts int    `json:"attempts"`
}

// CheckInput is the input of an async status check (CheckUserDeleted).
type CheckInput struct {
	RequestID string    `json:"requestId"`
	Deadline  time.Time `json:"deadline"`
	Subsystem Target    `json:"subsystem"`
	Ticket    string    `json:"ticket"`
	Attempts  int       `json:"attempts"`
	PollCount int       `json:"pollCount"`
	// Now is $$.State.EnteredTime: the state machine's clock, so that the
	// local runtime's accelerated clock and AWS's agree with the files.
	Now time.Time `json:"now"`
}

// CheckOutput is the status of an async erasure and when to look again.
type CheckOutput struct {
	Ticket    string `json:"ticket"`
	Attempts  int    `json:"attempts"`
	PollCount int    `json:"pollCount"`
	// Status is pending, deleted or failed.
	Status string `json:"status"`
	Detail string `json:"detail"`
	// NextPollSeconds is the back-off wait before the next check, never
	// past the deadline.
	NextPollSeconds int `json:"nextPollSeconds"`
	// PastDeadline is set once the deadline has passed while still pending.
	PastDeadline bool `json:"pastDeadline"`
}

// RecordOutcomeInput is what the Map state produced: one entry per
// subsystem, either a child execution's SubsystemResult or a caught failure
// ({"name","mode","status":"failed","error":{"Error","Cause"}}).
type RecordOutcomeInput struct {
	RequestID   string      `json:"requestId"`
	Results     []MapResult `json:"results"`
	CompletedAt time.Time   `json:"completedAt"`
}

// MapResult is one entry of the Map state's output.
type MapResult struct {
	SubsystemResult
	Error *TaskError `json:"error,omitempty"`
}

// TaskError is the error object Step Functions passes to a Catch.
type TaskError struct {
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}

// RecordOutcomeOutput is the request's final report.
type RecordOutcomeOutput struct {
	RequestID  string            `json:"requestId"`
	Status     Status            `json:"status"`
	Deadline   time.Time         `json:"deadline"`
	Subsystems []SubsystemResult `json:"subsystems"`
}
