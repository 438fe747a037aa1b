package watch_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/lethe-erasure/lethe/internal/asl"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/eventstest"
	"github.com/lethe-erasure/lethe/internal/metrics"
	"github.com/lethe-erasure/lethe/internal/store/embedded/embeddedtest"
	"github.com/lethe-erasure/lethe/internal/watch"
)

const opsTopic = "arn:aws:sns:eu-west-1:123456789012:lethe-eu-ops"

type mails struct {
	mu   sync.Mutex
	sent []string
	fail error
}

func (m *mails) Publish(_ context.Context, topic, subject, body string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.sent = append(m.sent, subject+"\n"+body)
	return nil
}

type points struct{ last map[string]float64 }

func (p *points) Record(_ context.Context, name string, _ metrics.Dims, v float64) { p.last[name] = v }

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

// TestRequestBecomesAtRiskThenOverdue: hour by hour on a fake clock, a
// request is mailed once when it becomes at risk (7 days before its
// deadline) and once when it becomes overdue, never in between; a
// completed request drops out; the gauges follow.
func TestRequestBecomesAtRiskThenOverdue(t *testing.T) {
	id := "er_eu_0195e9b2-3c4d-7a10-8b2c-1f2e3d4c5b01"
	done := "er_eu_0195e9b2-3c4d-7a10-8b2c-1f2e3d4c5b02"
	reqs := embeddedtest.Requests(t, "eu",
		erasure.Request{ID: id, SubjectID: "alice@example.com", Source: "api", Status: erasure.StatusRunning, ReceivedAt: t0, Deadline: t0.AddDate(0, 1, 0),
			Subsystems: []erasure.SubsystemResult{{Name: "orders", Mode: "async", Status: erasure.SubsystemPending}, {Name: "projects", Mode: "sync", Status: erasure.SubsystemDeleted}}},
		erasure.Request{ID: done, SubjectID: "bob@example.com", Source: "api", Status: erasure.StatusRunning, ReceivedAt: t0, Deadline: t0.AddDate(0, 0, 5)})
	if _, err := reqs.RecordOutcome(t.Context(), done, erasure.StatusCompleted, t0.Add(time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	clock := asl.NewFakeClock(t0)
	m := &mails{}
	p := &points{last: map[string]float64{}}
	w := watch.New(reqs, m, opsTopic, &config.Config{}, "eu", p, clock.Now, nil)
	deadline := t0.AddDate(0, 1, 0)
	var atRiskAt, overdueAt time.Time
	for clock.Now().Before(deadline.Add(3 * time.Hour)) {
		before := len(m.sent)
		sum, err := w.Run(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(m.sent) > before {
			switch {
			case atRiskAt.IsZero():
				atRiskAt = clock.Now()
			case overdueAt.IsZero():
				overdueAt = clock.Now()
			default:
				t.Fatalf("a third digest at %s", clock.Now())
			}
		}
		if sum.Open != 1 {
			t.Fatalf("%d open requests at %s, want 1", sum.Open, clock.Now())
		}
		clock.Advance(time.Hour)
	}
	if !atRiskAt.Equal(deadline.Add(-7*24*time.Hour)) || !overdueAt.Equal(deadline) {
		t.Errorf("mailed at %s and %s, want %s (7 days before) and %s (the deadline)", atRiskAt, overdueAt, deadline.Add(-7*24*time.Hour), deadline)
	}
	if len(m.sent) != 2 || !strings.Contains(m.sent[0], "1 at risk") || !strings.Contains(m.sent[1], "1 overdue") ||
		!strings.Contains(m.sent[1], id) || !strings.Contains(m.sent[1], "orders (pending)") || strings.Contains(m.sent[1], "projects") {
		t.Errorf("digests:\n%s", strings.Join(m.sent, "\n---\n"))
	}
	for _, mail := range m.sent {
		if strings.Contains(mail, "alice") || strings.Contains(mail, "bob") {
			t.Errorf("a digest names a subject:\n%s", mail)
		}
	}
	if p.last[metrics.OpenRequests] != 1 || p.last[metrics.OverdueRequests] != 1 || p.last[metrics.AtRiskRequests] != 0 ||
		p.last[metrics.OldestOpenHours] < 30*24 {
		t.Errorf("gauges %v", p.last)
	}
}

// TestDigestNotSentIsSentAgain: a digest SNS refused is sent at the next
// run, and then only once.
func TestDigestNotSentIsSentAgain(t *testing.T) {
	id := "er_eu_0195e9b2-3c4d-7a10-8b2c-1f2e3d4c5b01"
	reqs := embeddedtest.Requests(t, "eu", erasure.Request{ID: id, SubjectID: "alice@example.com", Source: "api",
		Status: erasure.StatusRunning, ReceivedAt: t0, Deadline: t0.Add(48 * time.Hour)})
	clock := asl.NewFakeClock(t0)
	m := &mails{fail: errors.New("SNS throttled")}
	w := watch.New(reqs, m, opsTopic, &config.Config{}, "eu", &points{last: map[string]float64{}}, clock.Now, nil)
	if _, err := w.Run(t.Context()); err == nil {
		t.Fatal("a refused digest was not reported")
	}
	m.fail = nil
	for range 3 {
		clock.Advance(time.Hour)
		if _, err := w.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if len(m.sent) != 1 {
		t.Errorf("%d digests, want 1", len(m.sent))
	}
	if r, _ := reqs.Get(t.Context(), id); r.Watch != erasure.WatchAtRisk {
		t.Errorf("watch state %q", r.Watch)
	}
}

// TestSampleEvents runs events/deadline-watch/*.json through the handler
// as Lambda invokes it, on a table holding three open requests (one fine,
// one at risk, one overdue) and a closed one: the input is not read.
func TestSampleEvents(t *testing.T) {
	eventstest.Run(t, "deadline-watch", 2, func(t *testing.T, c eventstest.Case) {
		var want struct {
			Output watch.Summary `json:"output"`
		}
		c.DecodeWant(t, &want)
		now := t0.AddDate(0, 1, 0) // 2026-12-02 09:00
		mk := func(n int, received, deadline time.Time) erasure.Request {
			return erasure.Request{ID: fmt.Sprintf("er_eu_0195e9b2-3c4d-7a10-8b2c-1f2e3d4c5b0%d", n), SubjectID: fmt.Sprintf("subject-%d", n), Source: "api",
				Status: erasure.StatusRunning, ReceivedAt: received, Deadline: deadline}
		}
		reqs := embeddedtest.Requests(t, "eu",
			mk(1, now.Add(-time.Hour), now.AddDate(0, 1, 0)),    // fine
			mk(2, now.AddDate(0, 0, -25), now.AddDate(0, 0, 5)), // at risk
			mk(3, now.AddDate(0, 0, -31), now.Add(-time.Hour)),  // overdue, the oldest
			mk(4, now.AddDate(0, 0, -40), now.Add(-time.Hour)))  // closed below
		if _, err := reqs.RecordOutcome(t.Context(), "er_eu_0195e9b2-3c4d-7a10-8b2c-1f2e3d4c5b04", erasure.StatusCompleted, now, nil); err != nil {
			t.Fatal(err)
		}
		w := watch.New(reqs, &mails{}, opsTopic, &config.Config{}, "eu", &points{last: map[string]float64{}}, func() time.Time { return now }, nil)
		out, err := lambda.NewHandler(w.Handle).Invoke(t.Context(), c.Payload)
		if err != nil {
			t.Fatal(err)
		}
		var got watch.Summary
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want.Output) {
			t.Errorf("summary %+v, want %+v", got, want.Output)
		}
	})
}

// TestForgetsFailedRequestsNobodySettled: a failed request keeps its
// subject for forgetFailedAfterDays after its deadline (a retry or an
// attestation may still settle it), then the watch forgets it, with an
// audit record naming the subsystems that never erased, and lists it on
// the suppression list.
func TestForgetsFailedRequestsNobodySettled(t *testing.T) {
	old := "er_eu_0195e9b2-3c4d-7a10-8b2c-1f2e3d4c5b11"
	recent := "er_eu_0195e9b2-3c4d-7a10-8b2c-1f2e3d4c5b12"
	failed := []erasure.SubsystemResult{{Name: "orders", Mode: "async", Status: erasure.SubsystemFailed}, {Name: "projects", Mode: "sync", Status: erasure.SubsystemDeleted}}
	reqs := embeddedtest.Requests(t, "eu",
		erasure.Request{ID: old, SubjectID: "alice@example.com", Source: "api", Status: erasure.StatusRunning, ReceivedAt: t0, Deadline: t0.AddDate(0, 1, 0), Subsystems: failed},
		erasure.Request{ID: recent, SubjectID: "bob@example.com", Source: "api", Status: erasure.StatusRunning, ReceivedAt: t0.AddDate(0, 0, 20), Deadline: t0.AddDate(0, 1, 20), Subsystems: failed})
	for _, id := range []string{old, recent} {
		if _, err := reqs.RecordOutcome(t.Context(), id, erasure.StatusFailed, t0.AddDate(0, 1, 0), failed); err != nil {
			t.Fatal(err)
		}
	}
	cfg := &config.Config{Deadline: config.Deadline{ForgetFailedAfterDays: 30}}
	now := t0.AddDate(0, 1, 0).Add(30*24*time.Hour + time.Hour) // 30 days and an hour past old's deadline
	w := watch.New(reqs, &mails{}, opsTopic, cfg, "eu", &points{last: map[string]float64{}}, func() time.Time { return now }, nil)
	sum, err := w.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Forgotten) != 1 || sum.Forgotten[0] != old {
		t.Fatalf("forgotten = %v, want only %s", sum.Forgotten, old)
	}
	got, _ := reqs.Get(t.Context(), old)
	if got.SubjectID != "" || got.ForgottenAt == nil || got.Status != erasure.StatusFailed {
		t.Fatalf("old failed request: subject %q forgottenAt %v status %s", got.SubjectID, got.ForgottenAt, got.Status)
	}
	if kept, _ := reqs.Get(t.Context(), recent); kept.SubjectID != "bob@example.com" {
		t.Fatalf("a failed request within its window lost its subject: %q", kept.SubjectID)
	}
	recs, err := reqs.Audit(t.Context(), old, 10)
	if err != nil || len(recs) != 1 || recs[0].Action != "forgotten" || recs[0].Detail["failed"] != "orders" || recs[0].Actor != watch.Actor {
		t.Fatalf("audit = %+v, %v", recs, err)
	}
	sup, _ := reqs.Suppressed(t.Context(), []string{got.SubjectHash})
	if e := sup[got.SubjectHash]; len(e) != 1 || e[0].Status != "failed" || len(e[0].Failed) != 1 {
		t.Fatalf("suppression = %+v", sup)
	}
	// The next run finds nothing more to forget.
	if sum, _ := w.Run(t.Context()); len(sum.Forgotten) != 0 {
		t.Fatalf("second run forgot %v", sum.Forgotten)
	}
}
