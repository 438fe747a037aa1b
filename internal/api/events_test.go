package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/lethe-erasure/lethe/internal/eventstest"
)

// want is a sample event's expected outcome: events/api/<case>.json is an
// API Gateway REST proxy event, <case>.want.json what the handler must do.
type want struct {
	Status int `json:"status"`
	Error  *struct {
		Code  string `json:"code"`
		Field string `json:"field"`
	} `json:"error"`
	Headers map[string]string `json:"headers"`
	// Write is what the store saw: "created" (a new request), "existing"
	// (Create answered with an existing request), "rejected" (Create
	// failed, nothing stored) or "none" (Create never called).
	Write string `json:"write"`
	// RequestID is the request the answer must be about.
	RequestID  string `json:"requestId"`
	StoreFails bool   `json:"storeFails"`
}

// TestEvents runs every sample event through the handler the way the
// Lambda runtime does (lambda.NewHandler(...).Invoke: the same JSON
// decoding of the event and encoding of the answer as on AWS).
func TestEvents(t *testing.T) {
	eventstest.Run(t, "api", 50, func(t *testing.T, c eventstest.Case) {
		var w want
		c.DecodeWant(t, &w)
		var ev events.APIGatewayProxyRequest
		if err := json.Unmarshal(c.Payload, &ev); err != nil {
			t.Fatalf("not an API Gateway proxy event: %v", err)
		}
		if ev.RequestContext.RequestID == "" || ev.HTTPMethod == "" {
			t.Fatal("event lacks httpMethod or requestContext.requestId: not real-shaped")
		}

		store := seededStore()
		if w.StoreFails {
			store.fail = errStoreDown
		}
		h, logs := newTestHandler(t, store)
		out, err := lambda.NewHandler(h.Handle).Invoke(context.Background(), c.Payload)
		if err != nil {
			t.Fatalf("Invoke: %v", err)
		}
		var resp events.APIGatewayProxyResponse
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatal(err)
		}

		if resp.StatusCode != w.Status {
			t.Errorf("status = %d, want %d; body %s", resp.StatusCode, w.Status, resp.Body)
		}
		if ct := resp.Headers["Content-Type"]; ct != "application/json; charset=utf-8" {
			t.Errorf("Content-Type = %q", ct)
		}
		for k, v := range w.Headers {
			if got := resp.Headers[k]; got != v {
				t.Errorf("header %s = %q, want %q", k, got, v)
			}
		}
		if w.Error != nil {
			code, field := errorOf(t, resp.Body)
			if code != w.Error.Code || field != w.Error.Field {
				t.Errorf("error = %s/%q, want %s/%q; body %s", code, field, w.Error.Code, w.Error.Field, resp.Body)
			}
		} else {
			m, _ := decodeObject(t, resp.Body)
			if w.RequestID != "" && m["requestId"] != w.RequestID {
				t.Errorf("requestId = %v, want %s", m["requestId"], w.RequestID)
			}
			if _, isList := m["erasures"]; !isList && m["source"] == nil {
				t.Errorf("answer does not show source: %s", resp.Body)
			}
		}

		creates := store.callsOf("create")
		switch w.Write {
		case "none":
			if len(creates) != 0 {
				t.Errorf("store saw %d Create calls, want none: %+v", len(creates), creates)
			}
		case "created", "existing", "rejected":
			if len(creates) != 1 || creates[0].outcome != w.Write {
				t.Errorf("store Create calls = %+v, want one %s", creates, w.Write)
			}
		default:
			t.Fatalf("bad write %q in want file", w.Write)
		}
		if w.Write != "created" && store.created != 0 {
			t.Errorf("store created %d requests, want none", store.created)
		}

		// The subject's id never shows in an answer or a log line,
		// nor do a store error's internals in an answer.
		for _, s := range eventSubjects(ev) {
			if strings.Contains(resp.Body, s) || strings.Contains(logs.String(), s) {
				t.Errorf("subject id %q leaked:\nanswer %s\nlog %s", s, resp.Body, logs.String())
			}
		}
		if strings.Contains(resp.Body, "lethe-eu-requests") || strings.Contains(resp.Body, "DynamoDB") {
			t.Errorf("store internals in answer: %s", resp.Body)
		}
		if !strings.Contains(logs.String(), ev.RequestContext.RequestID) {
			t.Errorf("log line lacks the awsRequestId: %s", logs.String())
		}
	})
}

// eventSubjects returns every subject id an event or the seeded store
// holds, as far as they can be read from it.
func eventSubjects(ev events.APIGatewayProxyRequest) []string {
	subjects := []string{seedOpenSubject, seedDoneSubject}
	body := ev.Body
	if ev.IsBase64Encoded {
		if b, err := base64.StdEncoding.DecodeString(body); err == nil {
			body = string(b)
		}
	}
	var in struct {
		SubjectID string `json:"subjectId"`
	}
	if json.Unmarshal([]byte(body), &in) == nil && len(in.SubjectID) > 3 {
		subjects = append(subjects, in.SubjectID)
	}
	if rest, ok := strings.CutPrefix(ev.Path, "/api/user/"); ok {
		subjects = append(subjects, rest)
		if s, err := url.PathUnescape(rest); err == nil {
			subjects = append(subjects, s)
		}
	}
	return subjects
}
