package subsystem

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/eventstest"
	"github.com/lethe-erasure/lethe/internal/progress"
)

// aslTask is the part of a Task state this test reads.
type aslTask struct {
	Retry []struct {
		ErrorEquals []string `json:"ErrorEquals"`
	} `json:"Retry"`
	Catch []struct {
		ErrorEquals []string `json:"ErrorEquals"`
		Next        string   `json:"Next"`
	} `json:"Catch"`
}

func loadTask(t *testing.T, file, state string) aslTask {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "statemachines", file))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		States map[string]json.RawMessage `json:"States"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var task aslTask
	if err := json.Unmarshal(m.States[state], &task); err != nil {
		t.Fatalf("%s %s: %v", file, state, err)
	}
	return task
}

// retriedBy returns the index of the first Retry entry that matches name
// (States.ALL matches every name but States.Runtime), or -1.
func (a aslTask) retriedBy(name string) int {
	for i, r := range a.Retry {
		if slices.Contains(r.ErrorEquals, name) || slices.Contains(r.ErrorEquals, "States.ALL") {
			return i
		}
	}
	return -1
}

func (a aslTask) caughtBy(name string) string {
	for _, c := range a.Catch {
		if slices.Contains(c.ErrorEquals, name) || slices.Contains(c.ErrorEquals, "States.ALL") {
			return c.Next
		}
	}
	return ""
}

// errorCase makes a handler fail with one typed error.
type errorCase struct {
	name      string
	retryable bool
	setup     func(t *testing.T, e *env) string // returns the subsystem base URL
	requestID string
}

func errorCases() []errorCase {
	server := func(status int, body string) func(*testing.T, *env) string {
		return func(t *testing.T, _ *env) string { return newServer(t, answerWith(status, body)).URL }
	}
	return []errorCase{
		{name: "SubsystemUnavailable", retryable: true, setup: server(503, "")},
		{name: "TokenUnavailable", retryable: true, setup: func(t *testing.T, e *env) string {
			e.tokens.err = errors.New("ThrottlingException")
			return server(204, "")(t, e)
		}},
		{name: "StoreUnavailable", retryable: true, setup: func(t *testing.T, e *env) string {
			// The table is down for the subject's lookup and for the
			// progress a check records.
			e.subjects.err = errors.New("RequestLimitExceeded")
			e.progress.err = &erasure.StoreUnavailable{Op: "record progress", Err: e.subjects.err}
			return server(200, `{"status":"pending","detail":"queued"}`)(t, e)
		}},
		{name: "SubsystemRejected", setup: server(403, "")},
		{name: "SubsystemProtocolError", setup: server(307, "")},
		{name: "RequestNotFound", requestID: "er_eu_01935f3c-7b2a-7c3d-8e4f-000000000000", setup: server(200, `{"status":"pending","detail":"queued"}`)},
		{name: "InvalidInput", requestID: "not-a-request-id", setup: server(204, "")},
	}
}

// TestASLErrorNames runs each handler through aws-lambda-go, exactly as
// Lambda (and the local runtime) does, makes it fail with each typed error,
// and checks that the errorType Lambda reports is the name the state machine
// files retry (retryable errors) or leave to the Catch (the others).
func TestASLErrorNames(t *testing.T) {
	tasks := []struct {
		file, state string
		mode        config.Mode
		handler     func(*Connector) any
		payload     func(id string, tg erasure.Target) any
	}{
		{"sync-deletion.asl.json", "DeleteUserData", config.ModeSync,
			func(c *Connector) any { return c.SyncDelete },
			func(id string, tg erasure.Target) any { return erasure.DeleteInput{RequestID: id, Subsystem: tg} }},
		{"async-deletion.asl.json", "DeleteUserData", config.ModeAsync,
			func(c *Connector) any { return c.Submit },
			func(id string, tg erasure.Target) any { return erasure.DeleteInput{RequestID: id, Subsystem: tg} }},
		{"async-deletion.asl.json", "CheckUserDeleted", config.ModeAsync,
			func(c *Connector) any { return c.Check },
			func(id string, tg erasure.Target) any {
				return erasure.CheckInput{RequestID: id, Subsystem: tg, Ticket: "t-1", Now: checkNow}
			}},
	}
	for _, task := range tasks {
		asl := loadTask(t, task.file, task.state)
		for _, ec := range errorCases() {
			// The files retry no outage: the handler records it and answers
			// status unavailable with the back-off, and the machine's own
			// loop calls again until the give-up point. The subject is read
			// during a check only to scrub a detail; failing that, the detail
			// is withheld.
			outage := ec.name == "SubsystemUnavailable" || ec.name == "TokenUnavailable"
			absorbed := outage || (task.state == "CheckUserDeleted" && ec.name == "RequestNotFound")
			t.Run(task.file+"/"+task.state+"/"+ec.name, func(t *testing.T) {
				e := newEnv()
				tg := target(ec.setup(t, e), task.mode)
				id := testRequestID
				if ec.requestID != "" {
					id = ec.requestID
				}
				payload, err := json.Marshal(task.payload(id, tg))
				if err != nil {
					t.Fatal(err)
				}
				fn := task.handler(e.c)

				// The local runtime's path: the error comes back as returned,
				// unwrapped, so its type is what Lambda names.
				out, invokeErr := lambda.NewHandler(fn).Invoke(context.Background(), payload)
				if absorbed {
					var got struct {
						Status      string `json:"status"`
						WaitSeconds int    `json:"waitSeconds"`
					}
					want := AsyncPending
					if outage {
						want = erasure.CallUnavailable
					}
					if invokeErr != nil || json.Unmarshal(out, &got) != nil || got.Status != want || got.WaitSeconds < 1 {
						t.Fatalf("Invoke = %s, %v; want status %s with a wait", out, invokeErr, want)
					}
					if outage && e.progress.last().Answer != progress.Unavailable {
						t.Errorf("recorded %+v; want an unavailable step", e.progress.last())
					}
					if retry := asl.retriedBy(ec.name); retry >= 0 {
						t.Errorf("%s %s retries %s, which its handler never returns", task.file, task.state, ec.name)
					}
					return
				}
				if eventstest.ErrorName(invokeErr) != ec.name {
					t.Fatalf("Invoke returned %T (%v), want *%s", invokeErr, invokeErr, ec.name)
				}

				// Lambda's path: aws-lambda-go turns the error into the
				// errorType/errorMessage document Step Functions matches on.
				var resp messages.InvokeResponse
				req := &messages.InvokeRequest{Payload: payload, RequestId: "r-1",
					Deadline: messages.InvokeRequest_Timestamp{Seconds: time.Now().Add(time.Minute).Unix()}}
				if err := lambda.NewFunction(lambda.NewHandler(fn)).Invoke(req, &resp); err != nil {
					t.Fatal(err)
				}
				if resp.Error == nil {
					t.Fatalf("no error reported; payload %s", resp.Payload)
				}
				doc, _ := json.Marshal(resp.Error)
				var reported struct {
					Type    string `json:"errorType"`
					Message string `json:"errorMessage"`
				}
				if err := json.Unmarshal(doc, &reported); err != nil {
					t.Fatal(err)
				}
				if reported.Type != ec.name {
					t.Errorf("errorType %q, want %q (%s)", reported.Type, ec.name, doc)
				}
				assertNoSubject(t, "errorMessage", reported.Message)

				retry := asl.retriedBy(reported.Type)
				switch {
				case ec.retryable && retry < 0:
					t.Errorf("%s is retryable but no Retry of %s %s names it", reported.Type, task.file, task.state)
				case ec.retryable && !slices.Contains(asl.Retry[retry].ErrorEquals, reported.Type):
					t.Errorf("%s is retried only through States.ALL", reported.Type)
				case !ec.retryable && retry >= 0:
					t.Errorf("%s is permanent but Retry %d of %s %s retries it", reported.Type, retry, task.file, task.state)
				}
				if next := asl.caughtBy(reported.Type); next != "RecordFailure" {
					t.Errorf("%s is caught to %q, want RecordFailure", reported.Type, next)
				}
			})
		}
	}
}

// TestErrorTypesAreCovered keeps errorCases in step with the error types of
// the package: a new typed error needs a row, hence a decision about retry.
func TestErrorTypesAreCovered(t *testing.T) {
	types := []error{&SubsystemUnavailable{}, &SubsystemRejected{}, &SubsystemProtocolError{}, &TokenUnavailable{},
		&erasure.StoreUnavailable{}, &RequestNotFound{}, &InvalidInput{}}
	var names []string
	for _, c := range errorCases() {
		names = append(names, c.name)
	}
	for _, e := range types {
		name := reflect.TypeOf(e).Elem().Name()
		if !slices.Contains(names, name) {
			t.Errorf("%s has no row in errorCases", name)
		}
		if errorName(e) != name {
			t.Errorf("errorName(%T) = %q", e, errorName(e))
		}
	}
}
