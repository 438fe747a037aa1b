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
	// Callback says the subsystem calls back: the async machine waits for
	// the callback, checking at the poll policy's sparse intervals.
	Callback bool `json:"callback"`
	// Connector is the store of a built-in connector (config.Connector*),
	// absent for a subsystem reached by HTTP: the SyncDeletion machine sends
	// the former to the connector function. What the connector erases is
	// read from the region's configuration, never from the task's input.
	Connector string `json:"connector,omitempty"`
}

// LoadSubsystemsInput is the input of the LoadSubsystems task.
type LoadSubsystemsInput struct {
	RequestID string `json:"requestId"`
	// Execution is $$.Execution.Name: RunName(RequestID, run), which says
	// which run this is.
	Execution string `json:"execution"`
}

// LoadSubsystemsOutput lists the subsystems the Map state iterates over.
type LoadSubsystemsOutput struct {
	Subsystems []Target `json:"subsystems"`
}

// CallUnavailable is the status a task answers when the subsystem was
// unavailable (429, 5xx, a timeout, a refused connection): the machine
// waits WaitSeconds and calls again, until GiveUp.
const CallUnavailable = "unavailable"

// CallSubmitted is the status of an async submission the subsystem took.
const CallSubmitted = "submitted"

// CallAttested is the status a task answers when an operator attested the
// subsystem's erasure while Lethe was still at it: the loop ends there.
const CallAttested = "attested"

// CallMore is the status a built-in connector answers when it deleted what
// its time allowed and more remains: the machine calls it again at once.
const CallMore = "more"

// DeleteInput is the input of a sync delete or an async submit
// (DeleteUserData). Now is $$.State.EnteredTime, the machine's clock.
type DeleteInput struct {
	RequestID string    `json:"requestId"`
	Subsystem Target    `json:"subsystem"`
	Now       time.Time `json:"now"`
}

// Persist is what a task answers about persisting through an outage: how
// long to wait before the next call, and whether Lethe gave up (the
// request's deadline minus the subsystem's giveUpBefore was reached).
type Persist struct {
	WaitSeconds int  `json:"waitSeconds"`
	GiveUp      bool `json:"giveUp"`
}

// SyncDeleteOutput is a sync subsystem's answer.
type SyncDeleteOutput struct {
	// Status is deleted, not_found or unavailable.
	Status SubsystemStatus `json:"status"`
	// Attempts counts the calls made to the subsystem for the request.
	Attempts int    `json:"attempts"`
	Detail   string `json:"detail"`
	Persist
}

// SubmitOutput is an async subsystem's acceptance of an erasure, or its
// unavailability.
type SubmitOutput struct {
	// Status is submitted or unavailable.
	Status   string `json:"status"`
	Ticket   string `json:"ticket"`
	Attempts int    `json:"attempts"`
	Detail   string `json:"detail"`
	Persist
}

// CheckInput is the input of an async status check (CheckUserDeleted).
type CheckInput struct {
	RequestID string `json:"requestId"`
	Subsystem Target `json:"subsystem"`
	Ticket    string `json:"ticket"`
	PollCount int    `json:"pollCount"`
	// Now is $$.State.EnteredTime: the state machine's clock, so that the
	// local runtime's accelerated clock and AWS's agree with the files.
	Now time.Time `json:"now"`
	// TaskToken, set by AwaitCallback ($$.Task.Token), makes the call the
	// arming of a wait for the subsystem's callback instead of a check:
	// the token is stored with the request, never sent to the subsystem.
	TaskToken string `json:"taskToken,omitempty"`
}

// CheckOutput is the status of an async erasure and when to look again.
type CheckOutput struct {
	Ticket    string `json:"ticket"`
	Attempts  int    `json:"attempts"`
	PollCount int    `json:"pollCount"`
	// Status is pending, deleted, failed or unavailable.
	Status string `json:"status"`
	Detail string `json:"detail"`
	// PastDeadline is set once the request's current deadline has passed
	// while still pending.
	PastDeadline bool `json:"pastDeadline"`
	// Deadline is the request's current deadline.
	Deadline time.Time `json:"deadline"`
	// WaitSeconds is the poll back-off while pending, the retry back-off
	// while unavailable; never past the deadline or the give-up point.
	Persist
}

// ReportFailureInput is the input of the RecordFailure task: a subsystem's
// erasure ended in the error a Catch passed on.
type ReportFailureInput struct {
	RequestID string     `json:"requestId"`
	Subsystem Target     `json:"subsystem"`
	Error     *TaskError `json:"error"`
	Now       time.Time  `json:"now"`
}

// Mail is a plain-text mail the state machine publishes to SNS.
type Mail struct {
	Subject string `json:"subject"`
	Message string `json:"message"`
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

// RecordOutcomeOutput is the request's final report, and the ops mail
// NotifyFailure publishes when it failed.
type RecordOutcomeOutput struct {
	RequestID  string            `json:"requestId"`
	Status     Status            `json:"status"`
	Deadline   time.Time         `json:"deadline"`
	Subsystems []SubsystemResult `json:"subsystems"`
	Mail       *Mail             `json:"mail"`
}
