package subsystem

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/eventstest"
	"github.com/lethe-erasure/lethe/internal/progress"
)

func TestSubmit(t *testing.T) {
	big := `{"ticket":"t-1","pad":"` + strings.Repeat("x", MaxBodyBytes) + `"}`
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		refused    bool
		wantTicket string
		// wantDetail is the detail of an unavailable answer.
		wantDetail string
		wantErr    string
		wantMsg    string
	}{
		{name: "202 ticket", handler: answerWith(202, `{"ticket":"t-1"}`), wantTicket: "t-1"},
		{name: "200 ticket (already submitted)", handler: answerWith(200, `{"ticket":"t-1","status":"pending"}`), wantTicket: "t-1"},
		{name: "202 without ticket", handler: answerWith(202, `{}`), wantErr: "SubsystemProtocolError", wantMsg: "test answered 202 outside the contract: answer has no ticket (submit)"},
		{name: "202 empty ticket", handler: answerWith(202, `{"ticket":""}`), wantErr: "SubsystemProtocolError", wantMsg: "no ticket"},
		{name: "202 number ticket", handler: answerWith(202, `{"ticket":42}`), wantErr: "SubsystemProtocolError", wantMsg: "not a JSON object"},
		{name: "202 bad JSON", handler: answerWith(202, `ticket=t-1`), wantErr: "SubsystemProtocolError", wantMsg: "not a JSON object"},
		{name: "202 empty body", handler: answerWith(202, ``), wantErr: "SubsystemProtocolError"},
		{name: "202 oversized", handler: answerWith(202, big), wantErr: "SubsystemProtocolError", wantMsg: "larger than 64 KiB"},
		{name: "ticket with control characters", handler: answerWith(202, `{"ticket":"a\nb"}`), wantErr: "SubsystemProtocolError", wantMsg: "printable"},
		{name: "ticket carrying the subject id", handler: answerWith(202, `{"ticket":"job-zq/leaky subject+7f3a@example.org"}`), wantErr: "SubsystemProtocolError", wantMsg: "contains the subject id"},
		{name: "201", handler: answerWith(201, `{"ticket":"t-1"}`), wantErr: "SubsystemProtocolError", wantMsg: "202"},
		{name: "204", handler: answerWith(204, ``), wantErr: "SubsystemProtocolError"},
		{name: "400", handler: answerWith(400, `{"error":"bad"}`), wantErr: "SubsystemRejected", wantMsg: "test answered 400 (submit)"},
		{name: "401", handler: answerWith(401, ``), wantErr: "SubsystemRejected"},
		{name: "404 (no such endpoint)", handler: answerWith(404, ``), wantErr: "SubsystemRejected", wantMsg: "answered 404"},
		{name: "409", handler: answerWith(409, ``), wantErr: "SubsystemRejected"},
		{name: "429", handler: answerWith(429, ``), wantDetail: "test answered 429 (submit)"},
		{name: "500", handler: answerWith(500, ``), wantDetail: "test answered 500 (submit)"},
		{name: "503", handler: answerWith(503, ``), wantDetail: "test answered 503 (submit)"},
		{name: "redirect", handler: redirect, wantErr: "SubsystemProtocolError", wantMsg: "redirects are not followed"},
		{name: "timeout", handler: hang, wantDetail: "test did not answer: timed out after 1s (submit)"},
		{name: "connection refused", refused: true, wantDetail: "test did not answer: connection refused (submit)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var srv *subsystemServer
			base := refusedURL(t)
			if !tt.refused {
				srv = newServer(t, tt.handler)
				base = srv.URL
			}
			e := newEnv()
			out, err := e.c.Submit(t.Context(), erasure.DeleteInput{RequestID: testRequestID, Subsystem: target(base, config.ModeAsync), Now: checkNow})
			if got := eventstest.ErrorName(err); got != tt.wantErr {
				t.Fatalf("error %s (%v), want %q; output %+v", got, err, tt.wantErr, out)
			}
			if err != nil {
				if !strings.Contains(err.Error(), tt.wantMsg) {
					t.Errorf("message %q does not say %q", err, tt.wantMsg)
				}
				assertNoSubject(t, "error", err.Error())
			} else {
				want := erasure.SubmitOutput{Status: erasure.CallSubmitted, Ticket: tt.wantTicket, Attempts: 1, Detail: "submitted"}
				if tt.wantDetail != "" {
					want = erasure.SubmitOutput{Status: erasure.CallUnavailable, Attempts: 1, Detail: tt.wantDetail, Persist: erasure.Persist{WaitSeconds: 60}}
				}
				if out != want {
					t.Errorf("output %+v, want %+v", out, want)
				}
			}
			if step := e.progress.last(); !step.Called {
				t.Errorf("recorded step %+v, want a call", step)
			}
			assertNoSubject(t, "log", e.log.String())
			if srv == nil {
				return
			}
			reqs := srv.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			r := reqs[0]
			var body map[string]any
			if err := json.Unmarshal([]byte(r.Body), &body); err != nil {
				t.Fatalf("body %q: %v", r.Body, err)
			}
			if r.Method != http.MethodPost || r.RequestURI != "/erasures" || r.ContentType != "application/json" || r.Authorization != "Bearer tok-1" ||
				len(body) != 2 || body["requestId"] != testRequestID || body["subjectId"] != testSubject {
				t.Errorf("request %+v", r)
			}
		})
	}
}

var (
	checkNow      = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	checkDeadline = time.Date(2026, 12, 23, 10, 0, 0, 0, time.UTC)
)

func TestCheck(t *testing.T) {
	big := `{"status":"pending","detail":"` + strings.Repeat("x", MaxBodyBytes) + `"}`
	tests := []struct {
		name      string
		handler   http.HandlerFunc
		pollCount int
		now       time.Time
		want      erasure.CheckOutput
		wantErr   string
		wantMsg   string
	}{
		{name: "pending, first check", handler: answerWith(200, `{"status":"pending","detail":""}`),
			want: erasure.CheckOutput{Status: "pending", PollCount: 1, Persist: erasure.Persist{WaitSeconds: 60}}},
		{name: "pending, fourth check", handler: answerWith(200, `{"status":"pending"}`), pollCount: 3,
			want: erasure.CheckOutput{Status: "pending", PollCount: 4, Persist: erasure.Persist{WaitSeconds: 60}}},
		{name: "deleted", handler: answerWith(200, `{"status":"deleted","detail":"purged 3 rows"}`), pollCount: 2,
			want: erasure.CheckOutput{Status: "deleted", Detail: "purged 3 rows", PollCount: 3}},
		{name: "failed, detail scrubbed", handler: answerWith(200, `{"status":"failed","detail":"user ZQ/LEAKY SUBJECT+7F3A@EXAMPLE.ORG is on legal hold\n"}`),
			want: erasure.CheckOutput{Status: "failed", Detail: "user [subject] is on legal hold", PollCount: 1}},
		{name: "unknown status", handler: answerWith(200, `{"status":"done"}`), wantErr: "SubsystemProtocolError", wantMsg: "test answered 200 outside the contract: status is not pending, deleted or failed (check 1)"},
		{name: "not_found is not an async status", handler: answerWith(200, `{"status":"not_found"}`), wantErr: "SubsystemProtocolError"},
		{name: "no status", handler: answerWith(200, `{"detail":"x"}`), wantErr: "SubsystemProtocolError"},
		{name: "bad JSON", handler: answerWith(200, `<html>`), wantErr: "SubsystemProtocolError", wantMsg: "not a JSON object"},
		{name: "oversized", handler: answerWith(200, big), wantErr: "SubsystemProtocolError", wantMsg: "larger than 64 KiB"},
		{name: "202", handler: answerWith(202, `{"status":"pending"}`), wantErr: "SubsystemProtocolError"},
		{name: "404 unknown ticket", handler: answerWith(404, ``), pollCount: 4, wantErr: "SubsystemRejected", wantMsg: "test answered 404 (check 5)"},
		{name: "403", handler: answerWith(403, ``), wantErr: "SubsystemRejected"},
		{name: "redirect", handler: redirect, wantErr: "SubsystemProtocolError"},
		// An outage during a check is no error: Lethe persists.
		{name: "429 is unavailable", handler: answerWith(429, ``), pollCount: 1,
			want: erasure.CheckOutput{Status: "unavailable", Detail: "test answered 429 (check 2)", PollCount: 2, Persist: erasure.Persist{WaitSeconds: 60}}},
		{name: "502 is unavailable", handler: answerWith(502, ``),
			want: erasure.CheckOutput{Status: "unavailable", Detail: "test answered 502 (check 1)", PollCount: 1, Persist: erasure.Persist{WaitSeconds: 60}}},
		{name: "timeout is unavailable", handler: hang,
			want: erasure.CheckOutput{Status: "unavailable", Detail: "test did not answer: timed out after 1s (check 1)", PollCount: 1, Persist: erasure.Persist{WaitSeconds: 60}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, tt.handler)
			e := newEnv()
			now := tt.now
			if now.IsZero() {
				now = checkNow
			}
			in := erasure.CheckInput{RequestID: testRequestID, Subsystem: target(srv.URL, config.ModeAsync),
				Ticket: "t/1 x", PollCount: tt.pollCount, Now: now}
			out, err := e.c.Check(t.Context(), in)
			if got := eventstest.ErrorName(err); got != tt.wantErr {
				t.Fatalf("error %s (%v), want %q; output %+v", got, err, tt.wantErr, out)
			}
			if err != nil {
				if !strings.Contains(err.Error(), tt.wantMsg) {
					t.Errorf("message %q does not say %q", err, tt.wantMsg)
				}
			} else {
				tt.want.Ticket, tt.want.Attempts = "t/1 x", 1
				if out != tt.want {
					t.Errorf("output\n %+v, want\n %+v", out, tt.want)
				}
			}
			assertNoSubject(t, "log", e.log.String())
			reqs := srv.requests()
			if len(reqs) != 1 || reqs[0].Method != http.MethodGet || reqs[0].RequestURI != "/erasures/t%2F1%20x" || reqs[0].Authorization != "Bearer tok-1" {
				t.Errorf("requests %+v, want one GET /erasures/t%%2F1%%20x", reqs)
			}
		})
	}
}

// TestCheckReadsSubjectOnlyForDetail: a check needs the subject id only to
// scrub it from a detail, so an empty detail costs no table read.
func TestCheckReadsSubjectOnlyForDetail(t *testing.T) {
	for body, wantReads := range map[string]int{`{"status":"pending"}`: 0, `{"status":"pending","detail":""}`: 0, `{"status":"pending","detail":"queued"}`: 1} {
		srv := newServer(t, answerWith(200, body))
		e := newEnv()
		_, err := e.c.Check(t.Context(), erasure.CheckInput{RequestID: testRequestID, Subsystem: target(srv.URL, config.ModeAsync),
			Ticket: "t-1", Now: checkNow})
		if err != nil || e.subjects.calls != wantReads {
			t.Errorf("%s: %v, %d subject reads, want %d", body, err, e.subjects.calls, wantReads)
		}
	}
}

func TestCheckTokenOutageIsUnavailable(t *testing.T) {
	srv := newServer(t, answerWith(200, `{"status":"deleted"}`))
	e := newEnv()
	e.tokens.err = errors.New("ThrottlingException")
	out, err := e.c.Check(t.Context(), erasure.CheckInput{RequestID: testRequestID, Subsystem: target(srv.URL, config.ModeAsync),
		Ticket: "t-1", PollCount: 2, Now: checkNow})
	if err != nil || out.Status != erasure.CallUnavailable || out.PollCount != 3 || out.WaitSeconds != 60 || out.Attempts != 0 ||
		!strings.HasPrefix(out.Detail, "token of test unavailable") {
		t.Errorf("Check = %+v, %v; want unavailable without an attempt after a token outage", out, err)
	}
	if step := e.progress.last(); step.Called || step.Answer != progress.Unavailable {
		t.Errorf("recorded %+v, want unavailable without a call", step)
	}
	if len(srv.requests()) != 0 {
		t.Error("subsystem called without a token")
	}
}

// TestCheckStoreOutageWithholdsDetail: the status counts even when the
// subject cannot be read to scrub the detail; the detail is withheld.
func TestCheckStoreOutageWithholdsDetail(t *testing.T) {
	srv := newServer(t, answerWith(200, `{"status":"failed","detail":"Zq/Leaky Subject+7f3a@example.org is on hold"}`))
	e := newEnv()
	e.subjects.err = errors.New("RequestLimitExceeded")
	out, err := e.c.Check(t.Context(), erasure.CheckInput{RequestID: testRequestID, Subsystem: target(srv.URL, config.ModeAsync),
		Ticket: "t-1", Now: checkNow})
	if err != nil || out.Status != AsyncFailed || !strings.HasPrefix(out.Detail, "(detail withheld") {
		t.Errorf("Check = %+v, %v", out, err)
	}
	assertNoSubject(t, "log", e.log.String())
}

func TestCheckInvalidInput(t *testing.T) {
	base := erasure.CheckInput{RequestID: testRequestID, Subsystem: target("https://x.example.com", config.ModeAsync), Ticket: "t-1", Now: checkNow}
	tests := []struct {
		name   string
		mutate func(*erasure.CheckInput)
		field  string
	}{
		{"no ticket", func(in *erasure.CheckInput) { in.Ticket = "" }, "ticket"},
		{"no now", func(in *erasure.CheckInput) { in.Now = time.Time{} }, "now"},
		{"negative poll count", func(in *erasure.CheckInput) { in.PollCount = -1 }, "pollCount"},
		{"sync target", func(in *erasure.CheckInput) { in.Subsystem.Mode = config.ModeSync }, "subsystem.mode"},
	}
	for _, tt := range tests {
		in := base
		tt.mutate(&in)
		_, err := newEnv().c.Check(t.Context(), in)
		if ii, ok := err.(*InvalidInput); !ok || ii.Field != tt.field {
			t.Errorf("%s: error %v, want InvalidInput on %s", tt.name, err, tt.field)
		}
	}
}

func TestCleanDetail(t *testing.T) {
	long := strings.Repeat("é", MaxDetailBytes) // 2 bytes each
	tests := []struct{ in, want string }{
		{"ok", "ok"},
		{"a\x00b\tc", "a b c"},
		{"\xff bad utf8", "\uFFFD bad utf8"},
		{"for zq/leaky subject+7f3a@example.org done", "for [subject] done"},
		{long, strings.Repeat("é", MaxDetailBytes/2)},
	}
	for _, tt := range tests {
		if got := CleanDetail(tt.in, testSubject); got != tt.want {
			t.Errorf("CleanDetail(%.20q) = %.40q, want %.40q", tt.in, got, tt.want)
		}
	}
}
