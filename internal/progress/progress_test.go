package progress_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lethe-erasure/lethe/internal/audit"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/progress"
	"github.com/lethe-erasure/lethe/internal/store/embedded"
	"github.com/lethe-erasure/lethe/internal/store/embedded/embeddedtest"
)

const (
	testID      = "er_eu_0195e9b2-3c4d-7a10-8b2c-1f2e3d4c5b01"
	testSubject = "Zq/Leaky Subject+7f3a@example.org"
	ordersTopic = "arn:aws:sns:eu-west-1:123456789012:lethe-eu-orders"
)

var (
	received = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	deadline = time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
)

// mails records what the tracker publishes; fail makes publishing fail.
type mails struct {
	mu   sync.Mutex
	sent []sent
	fail error
}

type sent struct{ topic, subject, body string }

func (m *mails) Publish(_ context.Context, topic, subject, body string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.sent = append(m.sent, sent{topic, subject, body})
	return nil
}

func (m *mails) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sent)
}

type world struct {
	reqs    *embedded.Requests
	mail    *mails
	tracker *progress.Tracker
	orders  erasure.Target
}

// newWorld is the eu region (orders, async, default retry policy) on an
// embedded requests table holding testID, running, due at deadline.
func newWorld(t *testing.T) *world {
	t.Helper()
	cfg, err := config.Parse([]byte(`{"regions":[{"name":"eu","awsRegion":"eu-west-1","subsystems":[
		{"name":"orders","mode":"async","baseUrl":"https://orders.eu.example.com"},
		{"name":"projects","mode":"sync","baseUrl":"https://projects.eu.example.com"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	w := &world{mail: &mails{}, reqs: embeddedtest.Requests(t, "eu", erasure.Request{ID: testID, SubjectID: testSubject, Source: "api",
		Status: erasure.StatusRunning, ReceivedAt: received, Deadline: deadline})}
	r := cfg.Regions[0]
	w.tracker = progress.New(w.reqs, w.mail, cfg, r, nil)
	s, _ := r.Subsystem("orders")
	w.orders = erasure.Target{Name: "orders", Mode: s.Mode, BaseURL: s.BaseURL, Poll: s.Poll, TopicArn: ordersTopic}
	return w
}

func (w *world) record(t *testing.T, s progress.Step, now time.Time) progress.Decision {
	t.Helper()
	d, err := w.tracker.Record(t.Context(), testID, w.orders, s, now)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (w *world) orderState(t *testing.T) erasure.SubsystemResult {
	t.Helper()
	r, err := w.reqs.Get(t.Context(), testID)
	if err != nil {
		t.Fatal(err)
	}
	s, i := r.Subsystem("orders")
	if i < 0 {
		t.Fatal("no orders entry on the request")
	}
	return s
}

var down = progress.Step{Called: true, Answer: progress.Unavailable, Error: "orders answered 503 (submit)"}

// TestBackOffToTheGiveUpPoint: waits double from 1 min, cap at 6 h, never
// run past the give-up point (a day before the deadline), and the decision
// at the give-up point is to give up.
func TestBackOffToTheGiveUpPoint(t *testing.T) {
	w := newWorld(t)
	now := received
	var waits []int
	for i := 0; i < 12; i++ {
		d := w.record(t, down, now)
		if d.GiveUp || d.Attempts != i+1 {
			t.Fatalf("call %d: %+v", i+1, d)
		}
		waits = append(waits, d.WaitSeconds)
		now = now.Add(time.Duration(d.WaitSeconds) * time.Second)
	}
	want := []int{60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 21600, 21600, 21600}
	for i := range want {
		if waits[i] != want[i] {
			t.Fatalf("waits %v, want %v", waits, want)
		}
	}
	s := w.orderState(t)
	if s.Attempts != 12 || s.Streak != 12 || s.LastError != down.Error || s.UnavailableSince == nil || !s.UnavailableSince.Equal(received) ||
		s.NextAttemptAt == nil || !s.NextAttemptAt.Equal(now) {
		t.Errorf("orders on the request: %+v", s)
	}

	giveUpAt := deadline.Add(-24 * time.Hour)
	d := w.record(t, down, giveUpAt.Add(-90*time.Second))
	if d.GiveUp || d.WaitSeconds != 90 {
		t.Errorf("90 s before the give-up point: %+v, want a 90 s wait", d)
	}
	if d = w.record(t, down, giveUpAt); !d.GiveUp || d.WaitSeconds != 0 {
		t.Errorf("at the give-up point: %+v, want give up", d)
	}
	if s := w.orderState(t); s.NextAttemptAt != nil {
		t.Errorf("a next attempt is shown after giving up: %v", s.NextAttemptAt)
	}
}

// TestNoCallNoAttempt: a step without a call (no token) persists like an
// outage but is not counted as an attempt.
func TestNoCallNoAttempt(t *testing.T) {
	w := newWorld(t)
	d := w.record(t, progress.Step{Answer: progress.Unavailable, Error: "token of orders unavailable"}, received)
	if d.Attempts != 0 || d.WaitSeconds != 60 {
		t.Errorf("decision %+v, want no attempt and a 60 s wait", d)
	}
}

// TestRecovery: an answer after an outage clears the outage's state; the
// attempts stay counted.
func TestRecovery(t *testing.T) {
	w := newWorld(t)
	w.record(t, down, received)
	w.record(t, down, received.Add(time.Minute))
	w.record(t, progress.Step{Called: true, Answer: progress.Accepted, Detail: "submitted"}, received.Add(3*time.Minute))
	d := w.record(t, progress.Step{Called: true, Answer: progress.Pending, PollCount: 0}, received.Add(3*time.Minute))
	if d.WaitSeconds != 60 || d.PastDeadline || !d.Deadline.Equal(deadline) {
		t.Errorf("first poll: %+v", d)
	}
	s := w.orderState(t)
	if s.Attempts != 4 || s.Status != erasure.SubsystemPending || s.LastError != "" || s.UnavailableSince != nil || s.Streak != 0 || s.NextAttemptAt == nil {
		t.Errorf("after recovery: %+v", s)
	}
	done := received.Add(10 * time.Minute)
	w.record(t, progress.Step{Called: true, Answer: progress.Done, Status: erasure.SubsystemDeleted, Detail: "erased"}, done)
	if s = w.orderState(t); s.Status != erasure.SubsystemDeleted || s.Attempts != 5 || s.FinishedAt == nil || !s.FinishedAt.Equal(done) || s.NextAttemptAt != nil {
		t.Errorf("after the deletion: %+v", s)
	}
	if w.mail.count() != 0 {
		t.Errorf("%d mails for a 3-minute outage", w.mail.count())
	}
}

// TestPendingPastDeadline: a pending async erasure polled at its deadline
// is past it.
func TestPendingPastDeadline(t *testing.T) {
	w := newWorld(t)
	if d := w.record(t, progress.Step{Called: true, Answer: progress.Pending, PollCount: 40}, deadline); !d.PastDeadline || d.WaitSeconds != 0 {
		t.Errorf("at the deadline: %+v", d)
	}
	if d := w.record(t, progress.Step{Called: true, Answer: progress.Pending, PollCount: 40}, deadline.Add(-time.Hour)); d.PastDeadline || d.WaitSeconds != 3600 {
		t.Errorf("an hour before: %+v, want a 3600 s wait", d)
	}
}

// TestEscalationOncePerThreshold: an outage is mailed once when it reaches
// alertAfter (6 h) and once when the request becomes at risk (7 days
// before the deadline), never per attempt.
func TestEscalationOncePerThreshold(t *testing.T) {
	w := newWorld(t)
	now := received
	for now.Before(received.Add(6*time.Hour - time.Minute)) {
		d := w.record(t, down, now)
		now = now.Add(time.Duration(d.WaitSeconds) * time.Second)
	}
	if w.mail.count() != 0 {
		t.Fatalf("%d mails before the outage lasted 6 h", w.mail.count())
	}
	atRisk := deadline.Add(-7 * 24 * time.Hour)
	for now.Before(atRisk) {
		d := w.record(t, down, now)
		now = now.Add(time.Duration(d.WaitSeconds) * time.Second)
	}
	if w.mail.count() != 1 {
		t.Fatalf("%d mails through 3 weeks of outage, want the one unavailable mail", w.mail.count())
	}
	for i := 0; i < 5; i++ {
		d := w.record(t, down, now)
		now = now.Add(time.Duration(d.WaitSeconds) * time.Second)
	}
	if w.mail.count() != 2 {
		t.Fatalf("%d mails once at risk, want 2", w.mail.count())
	}
	m := w.mail.sent
	if m[0].topic != ordersTopic || !strings.Contains(m[0].subject, "orders unavailable") || !strings.Contains(m[1].subject, "at risk") {
		t.Errorf("mails %q, %q to %s", m[0].subject, m[1].subject, m[0].topic)
	}
	s := w.orderState(t)
	if len(s.Alerts) != 2 {
		t.Errorf("alerts recorded %v", s.Alerts)
	}
}

// TestSlowIsNotAtRisk: a subsystem that answers pending is not mailed at
// risk by the tracker; the at-risk mail is for outages.
func TestSlowIsNotAtRisk(t *testing.T) {
	w := newWorld(t)
	w.record(t, progress.Step{Called: true, Answer: progress.Pending, PollCount: 30}, deadline.Add(-2*24*time.Hour))
	if w.mail.count() != 0 {
		t.Errorf("%d mails for a pending erasure", w.mail.count())
	}
}

// TestEscalationRetriedAfterPublishFailure: a mail that cannot be published
// is not marked sent; the next step sends it.
func TestEscalationRetriedAfterPublishFailure(t *testing.T) {
	w := newWorld(t)
	w.record(t, down, received)
	w.mail.fail = errors.New("SNS throttled")
	w.record(t, down, received.Add(7*time.Hour))
	if s := w.orderState(t); len(s.Alerts) != 0 {
		t.Fatalf("alert marked sent though the mail failed: %v", s.Alerts)
	}
	w.mail.fail = nil
	w.record(t, down, received.Add(8*time.Hour))
	w.record(t, down, received.Add(9*time.Hour))
	if w.mail.count() != 1 {
		t.Errorf("%d mails, want the unavailable mail once", w.mail.count())
	}
}

// TestAttestationStands: once an operator attested the subsystem, a late
// step changes nothing and the decision says so.
func TestAttestationStands(t *testing.T) {
	w := newWorld(t)
	w.record(t, down, received)
	at := received.Add(time.Hour)
	if _, err := w.reqs.Change(t.Context(), testID, func(r *erasure.Request) ([]audit.Record, error) {
		_, i := r.Subsystem("orders")
		r.Subsystems[i].Status = erasure.SubsystemDeleted
		r.Subsystems[i].Attestation = &erasure.Attestation{By: "local:dpo", At: at, Outcome: erasure.SubsystemDeleted, Note: "erased by hand"}
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	d := w.record(t, down, received.Add(2*time.Hour))
	if d.Attested != erasure.SubsystemDeleted {
		t.Errorf("decision %+v, want attested deleted", d)
	}
	if s := w.orderState(t); s.Status != erasure.SubsystemDeleted || s.Attestation == nil {
		t.Errorf("the attestation was overwritten: %+v", s)
	}
}

// TestClosedRequestUnchanged: a step recorded after the request closed
// neither changes it nor mails anyone.
func TestClosedRequestUnchanged(t *testing.T) {
	w := newWorld(t)
	closed := received.Add(time.Hour)
	before, err := w.reqs.RecordOutcome(t.Context(), testID, erasure.StatusFailed, closed, []erasure.SubsystemResult{
		{Name: "orders", Mode: "async", Status: erasure.SubsystemFailed, Attempts: 3, FinishedAt: &closed}})
	if err != nil {
		t.Fatal(err)
	}
	w.record(t, down, received.Add(7*time.Hour))
	after, _ := w.reqs.Get(t.Context(), testID)
	if after.Rev != before.Rev || w.mail.count() != 0 {
		t.Errorf("rev %d -> %d, %d mails: a closed request changed", before.Rev, after.Rev, w.mail.count())
	}
}

// TestStartListsEverySubsystem: Start adds a pending entry for each
// subsystem once, and a second Start writes nothing.
func TestStartListsEverySubsystem(t *testing.T) {
	w := newWorld(t)
	targets := []erasure.Target{w.orders, {Name: "projects", Mode: config.ModeSync}}
	r, err := w.tracker.Start(t.Context(), testID, 0, targets)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Subsystems) != 2 || r.Subsystems[0].Status != erasure.SubsystemPending || r.Subsystems[1].Name != "projects" {
		t.Fatalf("subsystems %+v", r.Subsystems)
	}
	again, err := w.tracker.Start(t.Context(), testID, 0, targets)
	if err != nil || again.Rev != r.Rev {
		t.Errorf("second Start: rev %d -> %d, %v", r.Rev, again.Rev, err)
	}
}

// TestMails: the mails name the request, the subsystem and the commands
// that settle it, in plain text, and never the subject.
func TestMails(t *testing.T) {
	since := received.Add(time.Hour)
	next := received.Add(9*time.Hour + 35*time.Minute)
	r := erasure.Request{ID: testID, SubjectID: testSubject, Status: erasure.StatusRunning, ReceivedAt: received, Deadline: deadline,
		Subsystems: []erasure.SubsystemResult{
			{Name: "orders", Mode: "async", Status: erasure.SubsystemPending, Attempts: 9, LastError: "orders answered 503 (check 4)", UnavailableSince: &since, NextAttemptAt: &next},
			{Name: "projects", Mode: "sync", Status: erasure.SubsystemDeleted, Attempts: 1},
		}}
	now := received.Add(8*time.Hour + 35*time.Minute)
	retry := config.Subsystem{}.RetryPolicy()
	subject, body := progress.UnavailableMail(r, "orders", retry, now)
	for _, want := range []string{
		"Lethe cannot reach subsystem orders to erase a person's data: it has been unavailable since 2026-11-02 10:00 UTC (7 h 35 min).",
		"back-off of up to 6 h (next attempt 2026-11-02 18:35 UTC) until 2026-12-01 09:00 UTC, 24 hours before the deadline",
		"Request:  " + testID,
		"Deadline: 2026-12-02 09:00 UTC (29 days left)",
		"orders     pending  9         orders answered 503 (check 4)",
		"lethe subject " + testID,
		"lethe attest " + testID + " orders --outcome deleted",
		"lethe extend " + testID + " --months 1",
		"lethe status " + testID,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("unavailable mail lacks %q:\n%s", want, body)
		}
	}
	if subject != "Lethe: orders unavailable for erasure request "+testID {
		t.Errorf("subject %q", subject)
	}

	r.Status = erasure.StatusFailed
	r.Subsystems[0].Status = erasure.SubsystemFailed
	_, fail := progress.FailureMail(r, "orders", now)
	_, ops := progress.OpsFailureMail(r, now)
	_, risk := progress.AtRiskMail(r, "orders", deadline.Add(-36*time.Hour))
	for name, want := range map[string][]string{
		"failure": {"Lethe could not erase a person's data in subsystem orders: orders answered 503 (check 4)", "lethe retry " + testID + " --subsystem orders"},
		"ops":     {"Erasure request " + testID + " failed in orders and must still be completed", "lethe retry " + testID + "\n"},
		"at risk": {"is at risk: its deadline is 2026-12-02 09:00 UTC (36 hours left)"},
	} {
		body := map[string]string{"failure": fail, "ops": ops, "at risk": risk}[name]
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("%s mail lacks %q:\n%s", name, w, body)
			}
		}
	}
	for _, b := range []string{subject, body, fail, ops, risk} {
		if strings.Contains(strings.ToLower(b), "leaky") || strings.Contains(b, "{") {
			t.Errorf("mail carries the subject or JSON:\n%s", b)
		}
	}
	// Past the first month no extension is offered.
	if _, late := progress.FailureMail(r, "orders", received.AddDate(0, 1, 1)); strings.Contains(late, "lethe extend") {
		t.Errorf("a mail past the first month offers an extension:\n%s", late)
	}
}

// TestDecisionNamesTheExecution: a decision names the request's current
// execution, <id> for the first run and <id>-r<n> for a retry, for the
// connectors' log lines.
func TestDecisionNamesTheExecution(t *testing.T) {
	w := newWorld(t)
	if d := w.record(t, down, received); d.Execution != testID {
		t.Errorf("execution %q, want %s", d.Execution, testID)
	}
	if _, err := w.reqs.Change(t.Context(), testID, func(r *erasure.Request) ([]audit.Record, error) {
		r.Run = 2
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	if d := w.record(t, down, received.Add(time.Minute)); d.Execution != testID+"-r2" {
		t.Errorf("execution %q, want %s-r2", d.Execution, testID)
	}
}
