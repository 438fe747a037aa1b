package starter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/google/go-cmp/cmp"

	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/eventstest"
	"github.com/lethe-erasure/lethe/internal/store/dynamo"
)

// fakeExecutions records started executions; names in fail fail to start.
type fakeExecutions struct {
	mu      sync.Mutex
	started []string
	inputs  map[string]string
	fail    map[string]bool
}

func (f *fakeExecutions) Start(_ context.Context, name, input string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail[name] {
		return errors.New("states: throttled")
	}
	if f.inputs == nil {
		f.inputs = map[string]string{}
	}
	f.started = append(f.started, name)
	f.inputs[name] = input
	return nil
}

// fakeRequests records MarkRunning calls; ids in fail fail.
type fakeRequests struct {
	running []string
	fail    map[string]bool
}

func (f *fakeRequests) MarkRunning(_ context.Context, id string) error {
	if f.fail[id] {
		return errors.New("requests table unavailable")
	}
	f.running = append(f.running, id)
	return nil
}

func newHandler(exec *fakeExecutions, reqs *fakeRequests) (*Handler, *bytes.Buffer) {
	var logs bytes.Buffer
	return New(exec, reqs, "eu", slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))), &logs
}

func insert(t *testing.T, seq string, req erasure.Request) events.DynamoDBEventRecord {
	t.Helper()
	image, err := dynamo.NewImage(req)
	if err != nil {
		t.Fatal(err)
	}
	return events.DynamoDBEventRecord{
		EventID:   "ev-" + seq,
		EventName: "INSERT",
		Change: events.DynamoDBStreamRecord{
			Keys:           map[string]events.DynamoDBAttributeValue{"pk": events.NewStringAttribute(req.ID)},
			NewImage:       image,
			SequenceNumber: seq,
			StreamViewType: "NEW_IMAGE",
		},
	}
}

func request(t *testing.T, region, subject string) erasure.Request {
	t.Helper()
	id, err := erasure.NewID(region)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 31, 10, 0, 0, 0, time.UTC)
	return erasure.Request{ID: id, SubjectID: subject, Source: "api", Status: erasure.StatusPending, ReceivedAt: at, Deadline: at.AddDate(0, 1, -3)}
}

func failures(resp events.DynamoDBEventResponse) []string {
	out := []string{}
	for _, f := range resp.BatchItemFailures {
		out = append(out, f.ItemIdentifier)
	}
	return out
}

func TestHandleStartsExecutionWithoutSubject(t *testing.T) {
	exec, reqs := &fakeExecutions{}, &fakeRequests{}
	h, logs := newHandler(exec, reqs)
	req := request(t, "eu", "subject-42@example.com")
	resp, err := h.Handle(context.Background(), events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{insert(t, "1", req)}})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Handle = %v, %v", resp, err)
	}
	if diff := cmp.Diff([]string{req.ID}, exec.started); diff != "" {
		t.Errorf("started (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{req.ID}, reqs.running); diff != "" {
		t.Errorf("marked running (-want +got):\n%s", diff)
	}
	var fields map[string]any
	if err := json.Unmarshal([]byte(exec.inputs[req.ID]), &fields); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"requestId":  req.ID,
		"region":     "eu",
		"receivedAt": "2026-01-31T10:00:00Z",
		"deadline":   "2026-02-28T10:00:00Z",
	}
	if diff := cmp.Diff(want, fields); diff != "" {
		t.Errorf("execution input (-want +got):\n%s", diff)
	}
	if strings.Contains(logs.String(), "subject-42") || strings.Contains(exec.inputs[req.ID], "subject-42") {
		t.Errorf("subject id leaked:\nlogs: %s\ninput: %s", logs.String(), exec.inputs[req.ID])
	}
}

func TestHandleFailuresArePerRecord(t *testing.T) {
	a, b, c := request(t, "eu", "sa"), request(t, "eu", "sb"), request(t, "eu", "sc")
	foreign := request(t, "us", "sd")
	for _, tc := range []struct {
		name         string
		startFails   []string
		markFails    []string
		records      []events.DynamoDBEventRecord
		wantFailures []string
		wantRunning  []string
	}{
		{
			name:         "start fails for one record",
			startFails:   []string{b.ID},
			records:      []events.DynamoDBEventRecord{insert(t, "1", a), insert(t, "2", b), insert(t, "3", c)},
			wantFailures: []string{"2"},
			wantRunning:  []string{a.ID, c.ID},
		},
		{
			name:         "mark running fails after the start",
			markFails:    []string{a.ID},
			records:      []events.DynamoDBEventRecord{insert(t, "1", a), insert(t, "2", b)},
			wantFailures: []string{"1"},
			wantRunning:  []string{b.ID},
		},
		{
			name:         "request of another region",
			records:      []events.DynamoDBEventRecord{insert(t, "1", foreign), insert(t, "2", a)},
			wantFailures: []string{"1"},
			wantRunning:  []string{a.ID},
		},
		{
			name:         "replayed record starts again harmlessly",
			records:      []events.DynamoDBEventRecord{insert(t, "1", a), insert(t, "1", a)},
			wantFailures: []string{},
			wantRunning:  []string{a.ID, a.ID},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exec := &fakeExecutions{fail: map[string]bool{}}
			for _, id := range tc.startFails {
				exec.fail[id] = true
			}
			reqs := &fakeRequests{fail: map[string]bool{}}
			for _, id := range tc.markFails {
				reqs.fail[id] = true
			}
			h, _ := newHandler(exec, reqs)
			resp, err := h.Handle(context.Background(), events.DynamoDBEvent{Records: tc.records})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantFailures, failures(resp)); diff != "" {
				t.Errorf("batch item failures (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantRunning, reqs.running); diff != "" {
				t.Errorf("marked running (-want +got):\n%s", diff)
			}
		})
	}
}

// want is the expectation beside each sample event: events/starter/<case>.want.json.
type want struct {
	Started           []string                          `json:"started"`
	BatchItemFailures []events.DynamoDBBatchItemFailure `json:"batchItemFailures"`
}

// TestSampleEvents runs every events/starter/*.json through the handler as
// Lambda would deliver it.
func TestSampleEvents(t *testing.T) {
	eventstest.Run(t, "starter", 4, func(t *testing.T, c eventstest.Case) {
		var ev events.DynamoDBEvent
		if err := json.Unmarshal(c.Payload, &ev); err != nil {
			t.Fatalf("not a DynamoDB stream event: %v", err)
		}
		var w want
		c.DecodeWant(t, &w)
		exec, reqs := &fakeExecutions{}, &fakeRequests{}
		h, logs := newHandler(exec, reqs)
		resp, err := h.Handle(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(w.Started, exec.started, cmp.Transformer("nil", func(s []string) []string {
			if s == nil {
				return []string{}
			}
			return s
		})); diff != "" {
			t.Errorf("started (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(w.BatchItemFailures, resp.BatchItemFailures); diff != "" {
			t.Errorf("batch item failures (-want +got):\n%s", diff)
		}
		// The response is what Lambda reads: {"batchItemFailures":[...]}.
		out, _ := json.Marshal(resp)
		if !strings.HasPrefix(string(out), `{"batchItemFailures":[`) {
			t.Errorf("response JSON = %s", out)
		}
		for _, rec := range ev.Records {
			if s, ok := rec.Change.NewImage["subjectId"]; ok && strings.Contains(logs.String(), s.String()) {
				t.Errorf("logs carry subject id %q:\n%s", s.String(), logs.String())
			}
			for _, in := range exec.inputs {
				if s, ok := rec.Change.NewImage["subjectId"]; ok && strings.Contains(in, s.String()) {
					t.Errorf("execution input carries the subject id: %s", in)
				}
			}
		}
	})
}

type fakeSFN struct {
	in  *sfn.StartExecutionInput
	err error
}

func (f *fakeSFN) StartExecution(_ context.Context, in *sfn.StartExecutionInput, _ ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	f.in = in
	return &sfn.StartExecutionOutput{}, f.err
}

func TestSFNStart(t *testing.T) {
	const arn = "arn:aws:states:eu-west-1:123456789012:stateMachine:Lethe-eu-Erasure"
	for _, tc := range []struct {
		name    string
		err     error
		wantErr bool
	}{
		{"started", nil, false},
		{"already exists", &types.ExecutionAlreadyExists{Message: aws.String("Execution Already Exists")}, false},
		{"throttled", &types.ExecutionLimitExceeded{Message: aws.String("limit")}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeSFN{err: tc.err}
			err := NewSFN(f, arn).Start(context.Background(), "er_eu_x", `{"requestId":"er_eu_x"}`)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Start error = %v, want error %v", err, tc.wantErr)
			}
			if aws.ToString(f.in.Name) != "er_eu_x" || aws.ToString(f.in.StateMachineArn) != arn || aws.ToString(f.in.Input) != `{"requestId":"er_eu_x"}` {
				t.Errorf("StartExecution input = %+v", f.in)
			}
		})
	}
}
