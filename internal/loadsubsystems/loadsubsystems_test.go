package loadsubsystems_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/google/go-cmp/cmp"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/eventstest"
	"github.com/lethe-erasure/lethe/internal/loadsubsystems"
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

func loader(t *testing.T) *loadsubsystems.Loader {
	t.Helper()
	topics, err := loadsubsystems.ParseTopicArns(topicsJSON)
	if err != nil {
		t.Fatal(err)
	}
	l, err := loadsubsystems.New(region(t), topics)
	if err != nil {
		t.Fatal(err)
	}
	return l
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
		out, err := lambda.NewHandler(loader(t).Handle).Invoke(context.Background(), c.Payload)
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
	l := loader(t)
	in := erasure.LoadSubsystemsInput{RequestID: "er_eu_0195e9b2-3c4d-7a10-8b2c-1f2e3d4c5b01"}
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
			_, err := loadsubsystems.New(region(t), tc.topics)
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
