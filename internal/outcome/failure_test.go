package outcome_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/google/go-cmp/cmp"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/eventstest"
	"github.com/lethe-erasure/lethe/internal/outcome"
	"github.com/lethe-erasure/lethe/internal/progress"
	"github.com/lethe-erasure/lethe/internal/store/embedded"
	"github.com/lethe-erasure/lethe/internal/store/embedded/embeddedtest"
)

type failureWant struct {
	Output *erasure.Mail `json:"output"`
	Error  string        `json:"error"`
}

// reporter is the eu RecordFailure handler on an embedded requests table
// holding the open request of seeded().
func reporter(t *testing.T, logs *eventstest.Logs) (*outcome.Reporter, *embedded.Requests) {
	t.Helper()
	reqs := embeddedtest.Requests(t, "eu", seeded().reqs[openID])
	log := slog.New(slog.NewJSONHandler(logs, nil))
	return outcome.NewReporter(reqs, progress.New(reqs, nil, &config.Config{}, region(t), log), log), reqs
}

// TestFailureSampleEvents runs every events/report-failure/*.json through
// the handler: the failure is written on the request (failed, with its
// cause) and the admins' mail is the plain text of the want file, without
// the subject id even where the subsystem echoed it.
func TestFailureSampleEvents(t *testing.T) {
	eventstest.Run(t, "report-failure", 6, func(t *testing.T, c eventstest.Case) {
		var w failureWant
		c.DecodeWant(t, &w)
		var logs eventstest.Logs
		r, reqs := reporter(t, &logs)
		out, err := lambda.NewHandler(r.Handle).Invoke(context.Background(), c.Payload)
		for _, text := range []string{logs.String(), string(out), errText(err)} {
			if strings.Contains(text, subject) {
				t.Errorf("subject id leaked: %s", text)
			}
		}
		before, _ := reqs.Get(t.Context(), openID)
		if w.Error != "" {
			if eventstest.ErrorName(err) != w.Error {
				t.Fatalf("error = %v (%T), want a %s", err, err, w.Error)
			}
			if len(before.Subsystems) != 0 {
				t.Errorf("a refused report wrote %+v", before.Subsystems)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		var got erasure.Mail
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(*w.Output, got); diff != "" {
			t.Errorf("mail (-want +got):\n%s", diff)
		}
		var in erasure.ReportFailureInput
		if err := json.Unmarshal(c.Payload, &in); err != nil {
			t.Fatal(err)
		}
		sub, i := before.Subsystem(in.Subsystem.Name)
		if i < 0 || sub.Status != erasure.SubsystemFailed || sub.LastError == "" || sub.FinishedAt == nil || !sub.FinishedAt.Equal(in.Now) {
			t.Errorf("request holds %+v, want %s failed at %s with its cause", sub, in.Subsystem.Name, in.Now)
		}
		if !before.Status.Open() {
			t.Errorf("the report closed the request (%s): RecordOutcome does that", before.Status)
		}
	})
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
