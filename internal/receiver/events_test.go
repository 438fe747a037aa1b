package receiver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/lethe-erasure/lethe/internal/eventstest"
)

// want is a sample event's expected outcome: events/webhook-receiver/<case>.json
// is a REST proxy event as the edge's forward arrives, signed with the
// fixture's secrets (helpers_test.go) at testNow; <case>.want.json says
// what the receiver must do.
type want struct {
	Status int `json:"status"`
	Error  *struct {
		Code  string `json:"code"`
		Field string `json:"field"`
	} `json:"error"`
	// Result is filed (a new erasure request), queued, dropped or none.
	Result         string `json:"result"`
	Subject        string `json:"subject"`
	Source         string `json:"source"`
	IdempotencyKey string `json:"idempotencyKey"`
	Alerts         int    `json:"alerts"`
}

// TestEvents runs every sample event through the handler the way the
// Lambda runtime does (lambda.NewHandler(...).Invoke).
func TestEvents(t *testing.T) {
	eventstest.Run(t, "webhook-receiver", 20, func(t *testing.T, c eventstest.Case) {
		var w want
		c.DecodeWant(t, &w)
		var ev events.APIGatewayProxyRequest
		if err := json.Unmarshal(c.Payload, &ev); err != nil {
			t.Fatalf("not an API Gateway proxy event: %v", err)
		}
		if ev.RequestContext.RequestID == "" || ev.HTTPMethod == "" || ev.Resource != "/webhooks/{provider}" {
			t.Fatal("event lacks httpMethod, resource or requestContext.requestId: not real-shaped")
		}
		f := newFixture(t)
		out, err := lambda.NewHandler(f.h.Handle).Invoke(context.Background(), c.Payload)
		if err != nil {
			t.Fatalf("Invoke: %v", err)
		}
		var resp events.APIGatewayProxyResponse
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatal(err)
		}
		check(t, f, resp, expect{
			status:  w.Status,
			code:    codeOf(w),
			field:   fieldOf(w),
			result:  strings.TrimPrefix(w.Result, "none"),
			subject: w.Subject,
			source:  w.Source,
			alerts:  w.Alerts,
		})
		if w.Result == "filed" && f.requests.creates[0].key != w.IdempotencyKey {
			t.Errorf("idempotency key %q, want %q", f.requests.creates[0].key, w.IdempotencyKey)
		}
		if w.Result == "queued" {
			// The queued body is the delivery's body, byte for byte.
			var m Message
			_ = json.Unmarshal([]byte(f.queue.sent[0].body), &m)
			raw := []byte(ev.Body)
			if ev.IsBase64Encoded {
				raw, _ = base64.StdEncoding.DecodeString(ev.Body)
			}
			if m.BodyEncoding != "text" || m.Body != string(raw) {
				t.Errorf("queued body differs from the delivery's")
			}
		}
		// The sample's body never shows in the log.
		if body, _ := base64.StdEncoding.DecodeString(ev.Body); len(body) > 8 && strings.Contains(f.logs.String(), string(body)) {
			t.Errorf("log carries the body: %s", f.logs.String())
		}
	})
}

func codeOf(w want) string {
	if w.Error == nil {
		return ""
	}
	return w.Error.Code
}

func fieldOf(w want) string {
	if w.Error == nil {
		return ""
	}
	return w.Error.Field
}
