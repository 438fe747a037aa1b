package loadsubsystems_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/google/go-cmp/cmp"

	"github.com/lethe-erasure/lethe/internal/audit"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/eventstest"
	"github.com/lethe-erasure/lethe/internal/loadsubsystems"
	"github.com/lethe-erasure/lethe/internal/progress"
	"github.com/lethe-erasure/lethe/internal/store/embedded"
	"github.com/lethe-erasure/lethe/internal/store/embedded/embeddedtest"
)

const topicsJSON = `{
	"projects":  "arn:aws:sns:eu-west-1:123456789012:Lethe-eu-projects-admins",
	"orders":    "arn:aws:sns:eu-west-1:123456789012:Lethe-eu-orders-admins",
	"customers": "arn:aws:sns:eu-west-1:123456789012:Lethe-eu-customers-admins",
	"retired":   "arn:aws:sns:eu-west-1:123456789012:Lethe-eu-retired-admins"
}`

func region(t *testing.T) config.Region {
	t.Helper()
	c, err := config.Parse([]byte(`{"regions":[{"name":"eu","awsRegion":"eu-west-1","subsystems":[
		{"name":"projects","mode":"sync","baseUrl":"https://projects.eu.example.com"},
		{"name":"orders","mode":"async","baseUrl":"https://orders.eu.example.com","timeoutSeconds":15,
		 "token":{"kind":"ssm","name":"/lethe/eu/orders/token"},"poll":{"initialSeconds":60,"maxSeconds":21600,"multiplier":2}},
		{"name":"customers","mode":"async","baseUrl":"https://customers.eu.example.com","token":{"kind":"none"}}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	return c.Regions[0]
}

// testID is the request the samples and tests load subsystems for.
const testID = "er_eu_0195e9b2-3c4d-7a10-8b2c-1f2e3d4c5b01"

// loader returns the eu loader on an embedded requests table that holds
// testID, pending, and the table.
func loader(t *testing.T) (*loadsubsystems.Loader, *embedded.Requests) {
	t.Helper()
	topics, err := loadsubsystems.ParseTopicArns(topicsJSON)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	reqs := embeddedtest.Requests(t, "eu", erasure.Request{ID: testID, SubjectID: "subject-1", Source: "api", ReceivedAt: now, Deadline: now.AddDate(0, 1, 0)})
	r := region(t)
	l, err := loadsubsystems.New(r, topics, progress.New(reqs, nil, &config.Config{}, r, nil))
	if err != nil {
		t.Fatal(err)
	}
	return l, reqs
}

func names(ts []erasure.Target) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out
}

// TestRuns: the first run lists every subsystem on the request (pending)
// and erases in all of them; a retry of the failed request erases only in
// those not settled, or only in the ones it names, and reopens the request
// in its run; a settled subsystem is never called again.
func TestRuns(t *testing.T) {
	l, reqs := loader(t)
	ctx := t.Context()
	out, err := l.Handle(ctx, erasure.LoadSubsystemsInput{RequestID: testID, Execution: testID})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(out.Subsystems); !slices.Equal(got, []string{"projects", "orders", "customers"}) {
		t.Fatalf("first run erases in %v", got)
	}
	req, err := reqs.Get(ctx, testID)
	if err != nil {
		t.Fatal(err)
	}
	if len(req.Subsystems) != 3 || req.Subsystems[1].Status != erasure.SubsystemPending {
		t.Fatalf("request lists %+v, want all three pending", req.Subsystems)
	}
	done := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
	if _, err := reqs.RecordOutcome(ctx, testID, erasure.StatusFailed, done, []erasure.SubsystemResult{
		{Name: "projects", Mode: "sync", Status: erasure.SubsystemDeleted, Attempts: 1, FinishedAt: &done},
		{Name: "orders", Mode: "async", Status: erasure.SubsystemFailed, Attempts: 1, FinishedAt: &done},
		{Name: "customers", Mode: "async", Status: erasure.SubsystemFailed, Attempts: 1, FinishedAt: &done},
	}); err != nil {
		t.Fatal(err)
	}

	out, err = l.Handle(ctx, erasure.LoadSubsystemsInput{RequestID: testID, Execution: erasure.RunName(testID, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(out.Subsystems); !slices.Equal(got, []string{"orders", "customers"}) {
		t.Errorf("retry erases in %v, want the failed orders and customers", got)
	}
	if req, _ = reqs.Get(ctx, testID); req.Status != erasure.StatusRunning || req.Run != 1 || req.CompletedAt != nil {
		t.Errorf("after the retry started the request is %s in run %d (completedAt %v), want running in run 1", req.Status, req.Run, req.CompletedAt)
	}
	if _, err := reqs.Change(ctx, testID, func(r *erasure.Request) ([]audit.Record, error) {
		r.RetryOnly = []string{"customers"}
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	out, err = l.Handle(ctx, erasure.LoadSubsystemsInput{RequestID: testID, Execution: erasure.RunName(testID, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(out.Subsystems); !slices.Equal(got, []string{"customers"}) {
		t.Errorf("a retry of customers erases in %v", got)
	}
}

func TestUnknownRequest(t *testing.T) {
	l, _ := loader(t)
	other := "er_eu_0195e9b2-3c4d-7a10-8b2c-1f2e3d4c5b99"
	_, err := l.Handle(t.Context(), erasure.LoadSubsystemsInput{RequestID: other, Execution: other})
	if !errors.Is(err, erasure.ErrNotFound) {
		t.Errorf("error %v, want not found", err)
	}
}

type want struct {
	Output *erasure.LoadSubsystemsOutput `json:"output"`
	Error  string                        `json:"error"`
}

// TestSampleEvents runs every events/load-subsystems/*.json through the
// handler the way Lambda and the local runtime invoke it.
func TestSampleEvents(t *testing.T) {
	eventstest.Run(t, "load-subsystems", 3, func(t *testing.T, c eventstest.Case) {
		var w want
		c.DecodeWant(t, &w)
		l, _ := loader(t)
		out, err := lambda.NewHandler(l.Handle).Invoke(context.Background(), c.Payload)
		if w.Error != "" {
			if err == nil || eventstest.ErrorName(err) != w.Error {
				t.Fatalf("error = %v (%T), want a %s", err, err, w.Error)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		var got erasure.LoadSubsystemsOutput
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(*w.Output, got); diff != "" {
			t.Errorf("output (-want +got):\n%s", diff)
		}
	})
}

func TestHandleReturnsCopies(t *testing.T) {
	l, _ := loader(t)
	in := erasure.LoadSubsystemsInput{RequestID: testID}
	first, _ := l.Handle(context.Background(), in)
	first.Subsystems[1].Poll.MaxSeconds = 1
	first.Subsystems[0].Name = "changed"
	second, _ := l.Handle(context.Background(), in)
	if second.Subsystems[1].Poll.MaxSeconds != 21600 || second.Subsystems[0].Name != "projects" {
		t.Errorf("a caller changed the loader's targets: %+v", second.Subsystems)
	}
}

func TestNewRefusesBadTopics(t *testing.T) {
	for _, tc := range []struct {
		name   string
		topics map[string]string
		check  func(error) bool
	}{
		{"missing topic", map[string]string{
			"projects": "arn:aws:sns:eu-west-1:123456789012:p",
			"orders":   "arn:aws:sns:eu-west-1:123456789012:o",
		}, func(err error) bool {
			var tm *loadsubsystems.TopicMissing
			return errors.As(err, &tm) && tm.Subsystem == "customers" && strings.Contains(err.Error(), `"customers"`)
		}},
		{"topic of another region", map[string]string{
			"projects":  "arn:aws:sns:us-west-2:123456789012:p",
			"orders":    "arn:aws:sns:eu-west-1:123456789012:o",
			"customers": "arn:aws:sns:eu-west-1:123456789012:c",
		}, func(err error) bool {
			var it *loadsubsystems.InvalidTopicArn
			return errors.As(err, &it) && it.Subsystem == "projects" && strings.Contains(err.Error(), "eu-west-1")
		}},
		{"not an SNS ARN", map[string]string{
			"projects":  "arn:aws:sqs:eu-west-1:123456789012:p",
			"orders":    "arn:aws:sns:eu-west-1:123456789012:o",
			"customers": "arn:aws:sns:eu-west-1:123456789012:c",
		}, func(err error) bool {
			var it *loadsubsystems.InvalidTopicArn
			return errors.As(err, &it)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadsubsystems.New(region(t), tc.topics, nil)
			if err == nil || !tc.check(err) {
				t.Errorf("New error = %v (%T)", err, err)
			}
		})
	}
	for _, bad := range []string{"", "[]", `{"projects": 1}`, "not json"} {
		if _, err := loadsubsystems.ParseTopicArns(bad); err == nil || !strings.Contains(err.Error(), config.EnvTopicArns) {
			t.Errorf("ParseTopicArns(%q) error = %v", bad, err)
		}
	}
}
