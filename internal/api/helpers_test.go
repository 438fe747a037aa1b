package api

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/lethe-erasure/lethe/internal/subjectkey/subjectkeytest"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/eventstest"
)

// testConfigJSON is the eu region of the default cdk.json, as the stack
// passes it in LETHE_CONFIG.
const testConfigJSON = `{
  "deadline": {"months": 1},
  "regions": [{
    "name": "eu", "awsRegion": "eu-west-1",
    "subsystems": [
      {"name": "projects", "mode": "sync", "baseUrl": "https://projects.eu.example.com", "adminEmails": ["projects-admins@example.com"]},
      {"name": "orders", "mode": "async", "baseUrl": "https://orders.eu.example.com", "adminEmails": ["orders-admins@example.com"]},
      {"name": "customers", "mode": "async", "baseUrl": "https://customers.eu.example.com", "adminEmails": ["customers-admins@example.com"]}
    ]
  }]
}`

// testNow is the end of a 31-day month: the deadline must land on the last
// day of February.
var testNow = time.Date(2026, 1, 31, 10, 0, 0, 123456789, time.UTC)

const (
	seedOpenID       = "er_eu_01928c6e-7b3a-7c00-8a00-000000000001"
	seedOpenSubject  = "customer-0001@example.com"
	seedOpenKey      = "seed-key-0001"
	seedDoneID       = "er_eu_01928c6e-7b3a-7c00-8a00-000000000002"
	seedDoneSubject  = "customer-0002@example.com"
	seedDoneKey      = "seed-key-0002"
	seedDoneTenantID = "acme.zendesk.com"
)

func testConfig(t testing.TB) (*config.Config, config.Region) {
	t.Helper()
	cfg, region, err := config.FromEnv(testConfigJSON)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, region
}

// newTestHandler returns a handler of region eu with a fixed clock and a
// captured JSON log.
func newTestHandler(t testing.TB, store *fakeStore) (*Handler, *eventstest.Logs) {
	t.Helper()
	cfg, region := testConfig(t)
	logs := &eventstest.Logs{}
	h := New(store, subjectkeytest.Key(), cfg, region,
		WithClock(func() time.Time { return testNow }),
		WithLogger(slog.New(slog.NewJSONHandler(logs, nil))))
	return h, logs
}

// seededStore holds one open request and one completed one.
func seededStore() *fakeStore {
	f := newFakeStore()
	received := time.Date(2026, 1, 20, 8, 30, 0, 0, time.UTC)
	deadline := config.Deadline{Months: 1}.After(received)
	f.seed(erasure.Request{
		ID: seedOpenID, SubjectID: seedOpenSubject, Source: erasure.SourceAPI, Status: erasure.StatusRunning,
		ReceivedAt: received, Deadline: deadline,
		Subsystems: []erasure.SubsystemResult{
			{Name: "projects", Mode: "sync", Status: erasure.SubsystemDeleted, Attempts: 1, FinishedAt: ptr(received.Add(time.Minute))},
			{Name: "orders", Mode: "async", Status: erasure.SubsystemPending, Attempts: 1},
			{Name: "customers", Mode: "async", Status: erasure.SubsystemPending},
		},
	}, seedOpenKey)
	done := received.Add(-48 * time.Hour)
	f.seed(erasure.Request{
		ID: seedDoneID, SubjectID: seedDoneSubject, TenantID: seedDoneTenantID, Source: "webhook:zendesk",
		Status:     erasure.StatusCompleted,
		ReceivedAt: done, Deadline: config.Deadline{Months: 1}.After(done), CompletedAt: ptr(done.Add(3 * time.Hour)),
		Subsystems: []erasure.SubsystemResult{
			{Name: "projects", Mode: "sync", Status: erasure.SubsystemNotFound, Attempts: 1, FinishedAt: ptr(done.Add(time.Minute)), Detail: "nothing held"},
			{Name: "orders", Mode: "async", Status: erasure.SubsystemDeleted, Attempts: 2, FinishedAt: ptr(done.Add(2 * time.Hour))},
			{Name: "customers", Mode: "async", Status: erasure.SubsystemDeleted, Attempts: 1, FinishedAt: ptr(done.Add(3 * time.Hour))},
		},
	}, seedDoneKey)
	return f
}

func ptr[T any](v T) *T { return &v }

// call runs one event through the handler.
func call(t testing.TB, h *Handler, ev events.APIGatewayProxyRequest) events.APIGatewayProxyResponse {
	t.Helper()
	resp, err := h.Handle(context.Background(), ev)
	if err != nil {
		t.Fatalf("Handle returned an error (API Gateway would answer 502): %v", err)
	}
	return resp
}

func postEvent(body string, headers map[string]string) events.APIGatewayProxyRequest {
	hs := map[string]string{"Content-Type": "application/json"}
	for k, v := range headers {
		hs[k] = v
	}
	return events.APIGatewayProxyRequest{HTTPMethod: "POST", Path: "/erasures", Headers: hs, Body: body}
}

func getEvent(path string, query map[string]string) events.APIGatewayProxyRequest {
	return events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: path, QueryStringParameters: query}
}

// decodeObject decodes a JSON object answer and returns it with its keys.
func decodeObject(t testing.TB, body string) (map[string]any, []string) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("answer is not a JSON object: %v\n%s", err, body)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return m, keys
}

// errorOf returns the code and field of an error answer, failing the test
// if the body is not {"error": {"code","message","field"}}.
func errorOf(t testing.TB, body string) (code, field string) {
	t.Helper()
	var e struct {
		Error *struct {
			Code    *string `json:"code"`
			Message *string `json:"message"`
			Field   *string `json:"field"`
		} `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil || e.Error == nil || e.Error.Code == nil || e.Error.Message == nil || e.Error.Field == nil {
		t.Fatalf("not an error body {\"error\":{\"code\",\"message\",\"field\"}}: %v\n%s", err, body)
	}
	if *e.Error.Message == "" {
		t.Errorf("error %s has an empty message", *e.Error.Code)
	}
	return *e.Error.Code, *e.Error.Field
}
