package subsystem

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/eventstest"
	"github.com/lethe-erasure/lethe/internal/progress"
	"github.com/lethe-erasure/lethe/internal/store/embedded/embeddedtest"
)

// eventWant is a sample event's sibling <case>.want.json: how the fake
// subsystem answers, and what the handler must return.
type eventWant struct {
	Answer struct {
		Status int    `json:"status"`
		Body   string `json:"body"`
	} `json:"answer"`
	Output json.RawMessage `json:"output"`
	Error  string          `json:"error"`
}

// eventRegion mirrors the eu region of cdk.json (kept literal here so that
// a change to the shipped configuration does not silently change what these
// samples prove); base URLs are rewritten to the fake subsystem's.
var eventRegion = config.Region{Name: "eu", AWSRegion: "eu-west-1", Subsystems: []config.Subsystem{
	{Name: "projects", Mode: config.ModeSync, BaseURL: "https://projects.eu.example.com", TimeoutSeconds: 10,
		Token: config.TokenSource{Kind: config.TokenSecretsManager}},
	{Name: "orders", Mode: config.ModeAsync, BaseURL: "https://orders.eu.example.com", TimeoutSeconds: 10,
		Token: config.TokenSource{Kind: config.TokenSecretsManager},
		Poll:  &config.PollPolicy{InitialSeconds: 60, MaxSeconds: 21600, Multiplier: 2}},
}}

// eventDeadline is the deadline of the request the samples work on: their
// "now" says how far from it each call is made.
var eventDeadline = time.Date(2026, 12, 23, 10, 0, 0, 0, time.UTC)

// eventTracker is the progress tracker of the eu region on an embedded
// requests table holding the samples' request, running, due at
// eventDeadline: the samples' back-off and give-up are the real decisions.
func eventTracker(t *testing.T, region config.Region) *progress.Tracker {
	t.Helper()
	reqs := embeddedtest.Requests(t, "eu", erasure.Request{ID: testRequestID, SubjectID: testSubject, Source: "api",
		Status: erasure.StatusRunning, ReceivedAt: eventDeadline.AddDate(0, -1, 0), Deadline: eventDeadline})
	return progress.New(reqs, nil, &config.Config{}, region, nil)
}

// TestEvents runs every events/<function>/<case>.json through its handler
// the way Lambda does (aws-lambda-go's JSON decoding and error naming), with
// a fake subsystem answering as <case>.want.json says and progress recorded
// on a real (embedded) requests table.
func TestEvents(t *testing.T) {
	functions := map[string]func(*Connector) any{
		"sync-delete":  func(c *Connector) any { return c.SyncDelete },
		"async-submit": func(c *Connector) any { return c.Submit },
		"async-check":  func(c *Connector) any { return c.Check },
	}
	for fn, handler := range functions {
		t.Run(fn, func(t *testing.T) {
			eventstest.Run(t, fn, 5, func(t *testing.T, c eventstest.Case) {
				t.Parallel()
				payload := c.Payload
				if !strings.HasPrefix(c.Name, "bad-") {
					assertPayloadKeys(t, fn, payload)
				}
				var want eventWant
				c.DecodeWant(t, &want)
				if (want.Error == "") == (want.Output == nil) {
					t.Fatalf("%s.want.json must hold answer and exactly one of output, error", c.Name)
				}
				srv := newServer(t, answerWith(want.Answer.Status, want.Answer.Body))
				region := eventRegion
				region.Subsystems = nil
				for _, s := range eventRegion.Subsystems {
					payload = bytes.ReplaceAll(payload, []byte(`"`+s.BaseURL+`"`), []byte(`"`+srv.URL+`"`))
					s.BaseURL = srv.URL
					region.Subsystems = append(region.Subsystems, s)
				}
				e := newEnvWith(eventTracker(t, region), WithRegion(region))
				for _, s := range region.Subsystems {
					e.tokens.tokens[config.TokenSource{Kind: config.TokenSecretsManager, Name: config.DefaultTokenName("eu", s.Name)}] = "tok-" + s.Name
				}

				out, err := lambda.NewHandler(handler(e.c)).Invoke(context.Background(), payload)
				if got := eventstest.ErrorName(err); got != want.Error {
					t.Fatalf("error %s (%v), want %q; output %s", got, err, want.Error, out)
				}
				if err != nil {
					assertNoSubject(t, "error", err.Error())
				} else {
					assertOutput(t, out, want.Output)
				}
				assertNoSubject(t, "log", e.log.String())
				for _, r := range srv.requests() {
					if !strings.HasPrefix(r.Authorization, "Bearer tok-") {
						t.Errorf("request without the subsystem's token: %+v", r)
					}
					if want := map[string]string{"sync-delete": http.MethodDelete, "async-submit": http.MethodPost, "async-check": http.MethodGet}[fn]; r.Method != want {
						t.Errorf("method %s, want %s", r.Method, want)
					}
				}
			})
		})
	}
}

// assertOutput compares a handler's output with a sample's, as JSON, and
// checks it holds no subject.
func assertOutput(t *testing.T, out, want []byte) {
	t.Helper()
	var got, wantOut any
	_ = json.Unmarshal(out, &got)
	_ = json.Unmarshal(want, &wantOut)
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(wantOut)
	if !bytes.Equal(gotJSON, wantJSON) {
		t.Errorf("output\n %s\nwant\n %s", gotJSON, wantJSON)
	}
	assertNoSubject(t, "output", string(out))
}

// assertPayloadKeys checks that a good sample has exactly the fields the
// state machine file's Task Parameters build for the function's Payload.
func assertPayloadKeys(t *testing.T, fn string, payload []byte) {
	t.Helper()
	task := map[string][2]string{
		"sync-delete":  {"sync-deletion.asl.json", "DeleteUserData"},
		"async-submit": {"async-deletion.asl.json", "DeleteUserData"},
		"async-check":  {"async-deletion.asl.json", "CheckUserDeleted"},
	}[fn]
	file, state := task[0], task[1]
	data, err := os.ReadFile(filepath.Join("..", "..", "statemachines", file))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		States map[string]struct {
			Parameters struct {
				Payload map[string]any `json:"Payload"`
			} `json:"Parameters"`
		} `json:"States"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	var want []string
	for k := range m.States[state].Parameters.Payload {
		want = append(want, strings.TrimSuffix(k, ".$"))
	}
	var got map[string]json.RawMessage
	if err := json.Unmarshal(payload, &got); err != nil {
		t.Fatal(err)
	}
	var have []string
	for k := range got {
		have = append(have, k)
	}
	slices.Sort(want)
	slices.Sort(have)
	if !slices.Equal(have, want) {
		t.Errorf("sample fields %v, but %s %s builds %v", have, file, state, want)
	}
}
