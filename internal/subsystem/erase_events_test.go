package subsystem

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/connector"
	ddbconn "github.com/lethe-erasure/lethe/internal/connector/dynamodb"
	s3conn "github.com/lethe-erasure/lethe/internal/connector/s3"
	"github.com/lethe-erasure/lethe/internal/eventstest"
)

// connectorRegion is eventRegion with two subsystems reached by built-in
// connectors.
func connectorRegion() config.Region {
	r := eventRegion
	r.Subsystems = append(append([]config.Subsystem{}, eventRegion.Subsystems...),
		config.Subsystem{Name: "sessions", Mode: config.ModeSync, TimeoutSeconds: 10, Token: config.TokenSource{Kind: config.TokenNone},
			Connector: &config.Connector{DynamoDB: &ddbconn.Config{Table: "app-sessions", Key: map[string]string{"pk": "SESSION#{subject}"}}}},
		config.Subsystem{Name: "uploads", Mode: config.ModeSync, TimeoutSeconds: 10, Token: config.TokenSource{Kind: config.TokenNone},
			Connector: &config.Connector{S3: &s3conn.Config{Bucket: "app-uploads", Prefix: "users/{subject}/"}}})
	return r
}

// scriptedStore is a built-in connector answering what a sample says, and
// recording the subject it was given.
type scriptedStore struct {
	outcome  connector.Outcome
	err      *connector.Error
	subjects []string
}

func (s *scriptedStore) Eraser(context.Context, config.Subsystem) (connector.Eraser, error) {
	return s, nil
}

func (s *scriptedStore) Erase(_ context.Context, subject string) (connector.Outcome, error) {
	s.subjects = append(s.subjects, subject)
	if s.err != nil {
		return "", s.err
	}
	return s.outcome, nil
}

// TestConnectorEvents runs every events/connector/<case>.json through the
// Erase handler the way Lambda does, with the store answering as
// <case>.want.json's "store" says and progress recorded on a real
// (embedded) requests table.
func TestConnectorEvents(t *testing.T) {
	eventstest.Run(t, "connector", 5, func(t *testing.T, c eventstest.Case) {
		t.Parallel()
		var want struct {
			Store struct {
				Outcome connector.Outcome `json:"outcome"`
				Error   *connector.Error  `json:"error"`
			} `json:"store"`
			Output json.RawMessage `json:"output"`
			Error  string          `json:"error"`
		}
		c.DecodeWant(t, &want)
		if (want.Error == "") == (want.Output == nil) {
			t.Fatalf("%s.want.json must hold store and exactly one of output, error", c.Name)
		}
		region := connectorRegion()
		store := &scriptedStore{outcome: want.Store.Outcome, err: want.Store.Error}
		e := newEnvWith(eventTracker(t, region), WithRegion(region), WithErasers(store))
		out, err := lambda.NewHandler(e.c.Erase).Invoke(context.Background(), c.Payload)
		if got := eventstest.ErrorName(err); got != want.Error {
			t.Fatalf("error %s (%v), want %q; output %s", got, err, want.Error, out)
		}
		if err != nil {
			assertNoSubject(t, "error", err.Error())
			if strings.HasPrefix(c.Name, "bad-") && len(store.subjects) > 0 {
				t.Errorf("a refused payload reached the store")
			}
		} else {
			assertOutput(t, out, want.Output)
			if len(store.subjects) != 1 || store.subjects[0] != testSubject {
				t.Errorf("the store was asked to erase %d subjects, want the request's one", len(store.subjects))
			}
		}
		assertNoSubject(t, "log", e.log.String())
	})
}
