package outcome_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/google/go-cmp/cmp"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/eventstest"
	"github.com/lethe-erasure/lethe/internal/metrics"
	"github.com/lethe-erasure/lethe/internal/outcome"
	"github.com/lethe-erasure/lethe/internal/store/dynamo"
)

var _ outcome.Requests = (*dynamo.Store)(nil)

const (
	openID   = "er_eu_0195e9b2-3c4d-7a10-8b2c-1f2e3d4c5b01"
	closedID = "er_eu_0195e9b2-3c4d-7a10-8b2c-1f2e3d4c5b02"
	subject  = "subject-alice@example.com"
)

// fakeRequests is an in-memory requests table with the adapter's
// semantics: RecordOutcome closes an open request once.
type fakeRequests struct {
	reqs    map[string]erasure.Request
	err     error // returned by every call when set
	records int
}

func (f *fakeRequests) Get(_ context.Context, id string) (erasure.Request, error) {
	if f.err != nil {
		return erasure.Request{}, f.err
	}
	r, ok := f.reqs[id]
	if !ok {
		return erasure.Request{}, erasure.ErrNotFound
	}
	return r, nil
}

func (f *fakeRequests) RecordOutcome(_ context.Context, id string, status erasure.Status, at time.Time, results []erasure.SubsystemResult) (erasure.Request, error) {
	if f.err != nil {
		return erasure.Request{}, f.err
	}
	r, ok := f.reqs[id]
	if !ok {
		return erasure.Request{}, erasure.ErrNotFound
	}
	if !r.Status.Open() {
		return r, nil
	}
	f.records++
	r.Status, r.CompletedAt, r.Subsystems = status, &at, results
	f.reqs[id] = r
	return r, nil
}

func region(t testing.TB) config.Region {
	t.Helper()
	c, err := config.Parse([]byte(`{"regions":[{"name":"eu","awsRegion":"eu-west-1","subsystems":[
		{"name":"projects","mode":"sync","baseUrl":"https://projects.example.com"},
		{"name":"orders","mode":"async","baseUrl":"https://orders.example.com"},
		{"name":"customers","mode":"async","baseUrl":"https://customers.example.com"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	return c.Regions[0]
}

func ts(s string) *time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return &t
}

func seeded() *fakeRequests {
	deadline := *ts("2026-04-30T09:30:00Z")
	received := *ts("2026-03-31T09:30:00Z")
	done := ts("2026-04-01T09:00:00Z")
	fin := ts("2026-04-01T08:00:00Z")
	return &fakeRequests{reqs: map[string]erasure.Request{
		openID: {ID: openID, SubjectID: subject, Source: "api", Status: erasure.StatusRunning, ReceivedAt: received, Deadline: deadline},
		closedID: {ID: closedID, SubjectID: subject, Source: "api", Status: erasure.StatusCompleted, ReceivedAt: received, Deadline: deadline, CompletedAt: done,
			Subsystems: []erasure.SubsystemResult{
				{Name: "projects", Mode: "sync", Status: erasure.SubsystemDeleted, Attempts: 1, FinishedAt: fin},
				{Name: "orders", Mode: "async", Status: erasure.SubsystemDeleted, Attempts: 1, FinishedAt: fin},
				{Name: "customers", Mode: "async", Status: erasure.SubsystemNotFound, Attempts: 1, FinishedAt: fin},
			}},
	}}
}

type want struct {
	Output *erasure.RecordOutcomeOutput `json:"output"`
	Error  string                       `json:"error"`
}

// TestSampleEvents runs every events/record-outcome/*.json through the
// handler the way Lambda and the local runtime invoke it.
func TestSampleEvents(t *testing.T) {
	eventstest.Run(t, "record-outcome", 6, func(t *testing.T, c eventstest.Case) {
		var in erasure.RecordOutcomeInput
		if err := json.Unmarshal(c.Payload, &in); err != nil {
			t.Fatalf("not a RecordOutcome input: %v", err)
		}
		var w want
		c.DecodeWant(t, &w)
		store := seeded()
		before := store.reqs[closedID]
		var logs bytes.Buffer
		r := outcome.New(store, region(t), slog.New(slog.NewJSONHandler(&logs, nil)))
		out, err := lambda.NewHandler(r.Handle).Invoke(context.Background(), c.Payload)
		if strings.Contains(logs.String(), subject) || strings.Contains(string(out), subject) {
			t.Errorf("subject id leaked:\nlogs: %s\noutput: %s", logs.String(), out)
		}
		if w.Error != "" {
			if err == nil || eventstest.ErrorName(err) != w.Error {
				t.Fatalf("error = %v (%T), want a %s", err, err, w.Error)
			}
			if strings.Contains(err.Error(), subject) {
				t.Errorf("error message carries the subject id: %v", err)
			}
			if store.records != 0 {
				t.Errorf("a failing call wrote %d outcomes", store.records)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		var got erasure.RecordOutcomeOutput
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(*w.Output, got); diff != "" {
			t.Errorf("output (-want +got):\n%s", diff)
		}
		// Every field erasure.asl.json selects is present.
		var fields map[string]json.RawMessage
		_ = json.Unmarshal(out, &fields)
		for _, f := range []string{"requestId", "status", "deadline", "subsystems", "mail"} {
			if _, ok := fields[f]; !ok {
				t.Errorf("output has no %q: %s", f, out)
			}
		}
		stored := store.reqs[got.RequestID]
		if stored.Status != got.Status || !cmp.Equal(stored.Subsystems, got.Subsystems) {
			t.Errorf("stored %s %v, returned %s %v", stored.Status, stored.Subsystems, got.Status, got.Subsystems)
		}
		if got.RequestID == closedID && !cmp.Equal(before, stored) {
			t.Errorf("a closed request was changed")
		}
	})
}

func TestRecordOutcomeIsIdempotent(t *testing.T) {
	store := seeded()
	r := outcome.New(store, region(t), nil)
	ctx := context.Background()
	first, err := r.Handle(ctx, erasure.RecordOutcomeInput{RequestID: openID, CompletedAt: *ts("2026-04-02T10:00:00Z")})
	if err != nil {
		t.Fatal(err)
	}
	second, err := r.Handle(ctx, erasure.RecordOutcomeInput{RequestID: openID, CompletedAt: *ts("2026-04-03T10:00:00Z"), Results: []erasure.MapResult{
		{SubsystemResult: erasure.SubsystemResult{Name: "projects", Mode: "sync", Status: erasure.SubsystemDeleted}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first, second); diff != "" || store.records != 1 {
		t.Errorf("retry changed the report (%d writes) (-first +second):\n%s", store.records, diff)
	}
	if first.Status != erasure.StatusFailed || len(first.Subsystems) != 3 {
		t.Errorf("first = %+v", first)
	}
}

func TestStoreErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&erasure.StoreUnavailable{Op: "get", Err: errors.New("throttled")}, "StoreUnavailable"},
		{errors.New("connection reset"), "StoreUnavailable"},
		{erasure.ErrNotFound, "RequestNotFound"},
	} {
		r := outcome.New(&fakeRequests{err: tc.err}, region(t), nil)
		_, err := r.Handle(context.Background(), erasure.RecordOutcomeInput{RequestID: openID})
		if err == nil || eventstest.ErrorName(err) != tc.want {
			t.Errorf("store error %v: handler error %v (%s), want %s", tc.err, err, eventstest.ErrorName(err), tc.want)
		}
	}
}

func TestDescribe(t *testing.T) {
	lambdaErr := `{"errorMessage":"projects answered 503 (attempt 9)","errorType":"SubsystemUnavailable","stackTrace":[]}`
	childErr, _ := json.Marshal(map[string]string{"Error": "SubsystemUnavailable", "Cause": lambdaErr})
	execution, _ := json.Marshal(map[string]any{"ExecutionArn": "arn:...", "Status": "FAILED", "Error": "SubsystemUnavailable", "Cause": string(childErr)})
	quoted, _ := json.Marshal(string(execution))
	long := strings.Repeat("é", 400)
	for _, tc := range []struct {
		name, err, cause, want string
	}{
		{"three layers", "States.TaskFailed", string(execution), "SubsystemUnavailable: projects answered 503 (attempt 9)"},
		{"the child's error", "SubsystemUnavailable", string(childErr), "SubsystemUnavailable: projects answered 503 (attempt 9)"},
		{"a Lambda error", "SubsystemUnavailable", lambdaErr, "SubsystemUnavailable: projects answered 503 (attempt 9)"},
		{"JSON in a JSON string", "States.TaskFailed", string(quoted), "SubsystemUnavailable: projects answered 503 (attempt 9)"},
		{"plain text", "States.Timeout", "Task timed out after 90 seconds", "States.Timeout: Task timed out after 90 seconds"},
		{"no cause", "States.Timeout", "", "States.Timeout"},
		{"no name", "", "something broke", "something broke"},
		{"nothing", "", "", ""},
		{"broken JSON", "X", `{"Error": "Y", "Cause": `, `X: {"Error": "Y", "Cause":`},
		{"JSON without error fields", "X", `{"foo": 1}`, "X"},
		{"JSON with a message", "X", `{"message": "rate exceeded"}`, "X: rate exceeded"},
		{"non-string Cause", "X", `{"Error": "Y", "Cause": {"a": 1}}`, "Y"},
		{"JSON array", "X", `[1,2]`, "X: [1,2]"},
		{"control characters", "X", "line one\n\tline\x00two", "X: line one line two"},
		{"deep nesting stops", "X", strings.Repeat(`{"Cause":`, 20) + `"end"` + strings.Repeat("}", 20), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := outcome.Describe(tc.err, tc.cause)
			if tc.name == "deep nesting stops" {
				if got == "" || len(got) > outcome.MaxDetailBytes {
					t.Errorf("Describe = %q", got)
				}
				return
			}
			if got != tc.want {
				t.Errorf("Describe(%q, %q) = %q, want %q", tc.err, tc.cause, got, tc.want)
			}
		})
	}
	got := outcome.Describe("X", long)
	if len(got) > outcome.MaxDetailBytes || !strings.HasSuffix(got, "…") || !strings.HasPrefix(got, "X: éé") {
		t.Errorf("long cause: %d bytes, %q...", len(got), got[:20])
	}
}

// TestFailureKeepsItsTime: a subsystem that failed (its failure report
// wrote when) keeps that time in the final report, not the request's
// closing time; its attempts and last error from progress are kept too.
func TestFailureKeepsItsTime(t *testing.T) {
	store := seeded()
	failedAt := ts("2026-04-01T08:30:00Z")
	r := store.reqs[openID]
	r.Subsystems = []erasure.SubsystemResult{{Name: "orders", Mode: "async", Status: erasure.SubsystemFailed, Attempts: 4,
		FinishedAt: failedAt, LastError: "orders answered 403 (submit)"}}
	store.reqs[openID] = r
	in := erasure.RecordOutcomeInput{RequestID: openID, CompletedAt: *ts("2026-04-01T09:00:00Z"), Results: []erasure.MapResult{
		{SubsystemResult: erasure.SubsystemResult{Name: "projects", Mode: "sync", Status: erasure.SubsystemDeleted, Attempts: 1, FinishedAt: ts("2026-04-01T08:00:00Z")}},
		{SubsystemResult: erasure.SubsystemResult{Name: "orders", Mode: "async", Status: erasure.SubsystemFailed},
			Error: &erasure.TaskError{Error: "SubsystemRejected", Cause: "orders answered 403 (submit)"}},
		{SubsystemResult: erasure.SubsystemResult{Name: "customers", Mode: "async", Status: erasure.SubsystemNotFound, Attempts: 1, FinishedAt: ts("2026-04-01T08:00:00Z")}},
	}}
	out, err := outcome.New(store, region(t), nil).Handle(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	orders, _ := erasure.Request{Subsystems: out.Subsystems}.Subsystem("orders")
	if orders.FinishedAt == nil || !orders.FinishedAt.Equal(*failedAt) || orders.Attempts != 4 || orders.LastError == "" {
		t.Errorf("orders %+v; want failed at %s after 4 attempts with its last error", orders, failedAt)
	}
}

// BenchmarkRecordOutcome is RecordOutcome closing a request of three
// subsystems, with its metrics as EMF lines (emf: 8 lines) or none
// (no-metrics): the metrics' cost.
func BenchmarkRecordOutcome(b *testing.B) {
	for _, tc := range []struct {
		name string
		sink metrics.Sink
	}{{"no-metrics", metrics.Tee{}}, {"emf", nil}} {
		b.Run(tc.name, func(b *testing.B) {
			store := &fakeRequests{reqs: map[string]erasure.Request{}}
			open := seeded().reqs[openID]
			ids := make([]string, b.N)
			for i := range ids {
				id, _ := erasure.NewID("eu")
				ids[i] = id
				r := open
				r.ID = id
				store.reqs[id] = r
			}
			rec := outcome.New(store, region(b), slog.New(slog.NewJSONHandler(io.Discard, nil)))
			if tc.sink != nil {
				rec.WithMetrics(tc.sink)
			}
			done := *ts("2026-04-01T10:00:00Z")
			in := erasure.RecordOutcomeInput{CompletedAt: done, Results: []erasure.MapResult{
				{SubsystemResult: erasure.SubsystemResult{Name: "projects", Mode: "sync", Status: erasure.SubsystemDeleted, Attempts: 1, FinishedAt: &done}},
				{SubsystemResult: erasure.SubsystemResult{Name: "orders", Mode: "async", Status: erasure.SubsystemDeleted, Attempts: 3, FinishedAt: &done}},
				{SubsystemResult: erasure.SubsystemResult{Name: "customers", Mode: "async", Status: erasure.SubsystemNotFound, Attempts: 2, FinishedAt: &done}},
			}}
			ctx := b.Context()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				in.RequestID = ids[i]
				if out, err := rec.Handle(ctx, in); err != nil || out.Status != erasure.StatusCompleted {
					b.Fatal(out.Status, err)
				}
			}
		})
	}
}
