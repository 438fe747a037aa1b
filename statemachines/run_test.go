package statemachines_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/lethe-erasure/lethe/internal/api"
	"github.com/lethe-erasure/lethe/internal/asl"
	"github.com/lethe-erasure/lethe/internal/audit"
	"github.com/lethe-erasure/lethe/internal/certify"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/local"
	"github.com/lethe-erasure/lethe/internal/proof"
	"github.com/lethe-erasure/lethe/internal/store/embedded"
	"github.com/lethe-erasure/lethe/internal/store/embedded/embeddedtest"
	"github.com/lethe-erasure/lethe/internal/subjectkey/subjectkeytest"
	"github.com/lethe-erasure/lethe/internal/subsystem"
)

// The tests below run the three state machine files on Lethe's interpreter
// with the very handlers the Lambda functions run, against HTTP subsystems
// that implement DESIGN.md's contract: the files and the handlers must
// agree on every field, error name and retry.

// fakeSubsystem holds subjects and erases them over the contract.
type fakeSubsystem struct {
	mu       sync.Mutex
	mode     config.Mode
	subjects map[string]bool
	tickets  map[string]string // ticket -> subject
	checks   map[string]int
	// doneAfter is how many checks an async erasure stays pending; -1 never finishes.
	doneAfter int
	// finishAfter, when set, makes an async erasure finish that long after
	// its submission on clock instead of after doneAfter checks.
	finishAfter time.Duration
	clock       *asl.FakeClock
	submitted   map[string]time.Time // ticket -> submission time
	// seen is when a check first answered deleted, per ticket.
	seen map[string]time.Time
	// reject answers 422 to everything.
	reject bool
	// down answers 503 to everything; downUntil does until then on clock.
	down      bool
	downUntil time.Time
	calls     int
	// onCheck, when set, is called (unlocked) before each status check;
	// onCall before every call.
	onCheck func()
	onCall  func()
	// callback, when set, answers an erasure offered a callback token: the
	// subsystem calls it back with the token finishAfter after submission
	// (scheduled on clock, a simulated worker).
	callback func(token string)
	// calledBackStatus is what the callback says: deleted unless set.
	calledBackStatus string
}

func (f *fakeSubsystem) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.onCheck != nil && r.Method == http.MethodGet {
		f.onCheck()
	}
	if f.onCall != nil {
		f.onCall()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.reject {
		http.Error(w, "refused", http.StatusUnprocessableEntity)
		return
	}
	if f.down || (f.clock != nil && f.clock.Now().Before(f.downUntil)) {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	switch {
	case r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, "/subjects/"):
		subject := strings.TrimPrefix(r.URL.Path, "/subjects/")
		if !f.subjects[subject] {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		delete(f.subjects, subject)
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPost && r.URL.Path == "/erasures":
		var in struct{ RequestID, SubjectID, CallbackToken string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		ticket := "t-" + in.RequestID
		f.tickets[ticket] = in.SubjectID
		if _, ok := f.submitted[ticket]; !ok && f.clock != nil {
			f.submitted[ticket] = f.clock.Now()
			if f.callback != nil && in.CallbackToken != "" {
				f.clock.Go(f.finishAfter, func() {
					f.mu.Lock()
					delete(f.subjects, in.SubjectID)
					f.seen[ticket] = f.clock.Now()
					f.mu.Unlock()
					f.callback(in.CallbackToken)
				})
			}
		}
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, `{"ticket":%q}`, ticket)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/erasures/"):
		ticket := strings.TrimPrefix(r.URL.Path, "/erasures/")
		subject, ok := f.tickets[ticket]
		if !ok {
			http.NotFound(w, r)
			return
		}
		f.checks[ticket]++
		pending := f.doneAfter < 0 || f.checks[ticket] <= f.doneAfter
		if f.finishAfter > 0 {
			pending = f.clock.Now().Sub(f.submitted[ticket]) < f.finishAfter
		}
		if pending {
			fmt.Fprint(w, `{"status":"pending","detail":"queued"}`)
			return
		}
		delete(f.subjects, subject)
		if _, ok := f.seen[ticket]; !ok && f.clock != nil {
			f.seen[ticket] = f.clock.Now()
		}
		fmt.Fprint(w, `{"status":"deleted","detail":"erased"}`)
	default:
		http.Error(w, "no route", http.StatusNotFound)
	}
}

func (f *fakeSubsystem) holds(subject string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.subjects[subject]
}

// noTokens serves subsystems configured with token kind none.
type noTokens struct{}

func (noTokens) Token(context.Context, config.TokenSource) (string, error) { return "", nil }
func (noTokens) Invalidate(config.TokenSource)                             {}

// outbox records what the state machines publish to SNS.
type outbox struct {
	mu       sync.Mutex
	messages []asl.PublishInput
}

func (o *outbox) Publish(_ context.Context, in asl.PublishInput) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.messages = append(o.messages, in)
	return fmt.Sprintf("msg-%d", len(o.messages)), nil
}

// Mail is the outbox as the tasks' escalation mailer.
func (o *outbox) Mail(ctx context.Context, topicArn, subject, message string) error {
	_, err := o.Publish(ctx, asl.PublishInput{TopicArn: topicArn, Subject: subject, Message: message})
	return err
}

type outboxMailer struct{ o *outbox }

func (m outboxMailer) Publish(ctx context.Context, topicArn, subject, message string) error {
	return m.o.Mail(ctx, topicArn, subject, message)
}

// to returns the subjects of the messages published to a topic.
func (o *outbox) to(topicArn string) []asl.PublishInput {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []asl.PublishInput
	for _, m := range o.messages {
		if m.TopicArn == topicArn {
			out = append(out, m)
		}
	}
	return out
}

type region struct {
	engine     *asl.Engine
	clock      *asl.FakeClock
	cfg        *config.Config
	subsystems map[string]*fakeSubsystem
	requests   *embedded.Requests
	signer     *proof.Local
	outbox     *outbox
	wired      local.Wired
}

// newRegion wires the eu region of cdk.json to fake subsystems.
func newRegion(t testing.TB, subjects ...string) *region {
	t.Helper()
	return newRegionWith(t, nil, subjects...)
}

// newRegionWith is newRegion with the eu region's configuration changed by
// adjust (when not nil) before anything is built from it.
func newRegionWith(t testing.TB, adjust func(*config.Region), subjects ...string) *region {
	t.Helper()
	full, err := config.Load(filepath.Join("..", "cdk.json"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := full.ForRegion("eu")
	if err != nil {
		t.Fatal(err)
	}
	if adjust != nil {
		adjust(&cfg.Regions[0])
	}
	reg := &region{
		clock:      asl.NewFakeClock(time.Date(2026, 1, 31, 9, 0, 0, 0, time.UTC)),
		cfg:        cfg,
		subsystems: map[string]*fakeSubsystem{},
		outbox:     &outbox{},
	}
	db, err := embedded.Open(filepath.Join(t.TempDir(), "lethe.db"), embedded.Options{NoSync: true, Now: reg.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	reg.requests = db.Requests("eu")
	for i := range cfg.Regions[0].Subsystems {
		s := &cfg.Regions[0].Subsystems[i]
		f := &fakeSubsystem{mode: s.Mode, subjects: map[string]bool{}, tickets: map[string]string{}, checks: map[string]int{}, doneAfter: 2,
			clock: reg.clock, submitted: map[string]time.Time{}, seen: map[string]time.Time{}}
		for _, subj := range subjects {
			f.subjects[subj] = true
		}
		srv := httptest.NewServer(f)
		t.Cleanup(srv.Close)
		s.BaseURL = srv.URL
		s.Token = config.TokenSource{Kind: config.TokenNone}
		reg.subsystems[s.Name] = f
	}
	r := cfg.Regions[0]
	reg.engine = asl.NewEngine(asl.Options{Clock: reg.clock, Region: r.AWSRegion, Account: local.Account, Publisher: reg.outbox, Random: func() float64 { return 0.5 }})

	// The local runtime's wiring, the one place that fills the files'
	// placeholders outside the CDK app.
	signer, err := proof.LoadOrCreateLocal(filepath.Join(t.TempDir(), "signing.pem"))
	if err != nil {
		t.Fatal(err)
	}
	reg.signer = signer
	issuer := certify.New(reg.requests, certify.Signing(signer, r.Name, r.AWSRegion), reg.clock.Now, nil)
	var connOpts []subsystem.Option
	if callsBack(r) {
		// The subsystems call back through the region's api handler, on
		// virtual time: the clock simulates them.
		reg.clock.SimulateWorkers()
		tasks := local.EngineTasks{Engine: reg.engine}
		connOpts = append(connOpts, subsystem.WithCallbacks(reg.requests, tasks, "https://api.lethe.invalid"+local.CallbackPath))
		h := api.New(reg.requests, subjectkeytest.Key(), cfg, r, api.WithClock(reg.clock.Now), api.WithTasks(tasks), api.WithLogger(slog.New(slog.DiscardHandler)))
		for _, s := range r.Subsystems {
			if !s.Callback {
				continue
			}
			f := reg.subsystems[s.Name]
			f.callback = func(token string) {
				status := cmp.Or(f.calledBackStatus, "deleted")
				resp, err := h.Handle(context.Background(), events.APIGatewayProxyRequest{HTTPMethod: http.MethodPost, Path: local.CallbackPath,
					Headers: map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json"},
					Body:    `{"status":"` + status + `","detail":"the archive job ` + status + `"}`})
				if err != nil || resp.StatusCode != http.StatusOK {
					t.Errorf("callback of %s = %d %s, %v", s.Name, resp.StatusCode, resp.Body, err)
				}
			}
		}
	}
	handlers, err := local.TaskHandlers(cfg, r, local.SubsystemTopics(r), noTokens{}, reg.requests, outboxMailer{reg.outbox}, issuer, nil, nil, connOpts...)
	if err != nil {
		t.Fatal(err)
	}
	if reg.wired, err = local.Wire(reg.engine, r, handlers); err != nil {
		t.Fatal(err)
	}
	return reg
}

func callsBack(r config.Region) bool {
	for _, s := range r.Subsystems {
		if s.Callback {
			return true
		}
	}
	return false
}

// erase files a request for subject as the api handler would and runs the
// Erasure machine on it as the starter would.
func (reg *region) erase(t testing.TB, subject string) (*erasure.Request, *asl.Result) {
	t.Helper()
	id, err := erasure.NewID("eu")
	if err != nil {
		t.Fatal(err)
	}
	now := reg.clock.Now()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, _, err := reg.requests.Create(ctx, embeddedtest.WithSubject(t, erasure.Request{ID: id, SubjectID: subject, Source: erasure.SourceAPI, ReceivedAt: now, Deadline: reg.cfg.Deadline.After(now)}), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.requests.MarkRunning(ctx, id); err != nil {
		t.Fatal(err)
	}
	in := erasure.ExecutionInput{RequestID: id, Region: "eu", ReceivedAt: now, Deadline: req.Deadline}
	x, err := reg.engine.Start(ctx, reg.wired.Main, id, in)
	if err != nil {
		t.Fatal(err)
	}
	res, err := x.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := reg.requests.Get(ctx, id)
	return &stored, res
}

func statuses(r *erasure.Request) map[string]erasure.SubsystemStatus {
	out := map[string]erasure.SubsystemStatus{}
	for _, s := range r.Subsystems {
		out[s.Name] = s.Status
	}
	return out
}

func TestErasureCompletesInEverySubsystem(t *testing.T) {
	reg := newRegion(t, "alice@example.com", "bob")
	req, res := reg.erase(t, "alice@example.com")
	if res.Status != "SUCCEEDED" {
		t.Fatalf("execution %s: %s %s", res.Status, res.Error, res.Cause)
	}
	if req.Status != erasure.StatusCompleted || req.CompletedAt == nil {
		t.Fatalf("request = %s, completedAt %v", req.Status, req.CompletedAt)
	}
	want := map[string]erasure.SubsystemStatus{"projects": erasure.SubsystemDeleted, "orders": erasure.SubsystemDeleted, "customers": erasure.SubsystemDeleted}
	if got := statuses(req); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("subsystems = %v, want %v", got, want)
	}
	for name, f := range reg.subsystems {
		if f.holds("alice@example.com") {
			t.Errorf("%s still holds alice", name)
		}
		if !f.holds("bob") {
			t.Errorf("%s lost bob, who was not erased", name)
		}
	}
	if len(reg.outbox.messages) != 0 {
		t.Errorf("published %d messages for a completed erasure", len(reg.outbox.messages))
	}
	out, _ := json.Marshal(res.Output)
	if !strings.Contains(string(out), `"status":"completed"`) || strings.Contains(string(out), "alice") {
		t.Errorf("output = %s", out)
	}
	assertNoSubject(t, res, "alice@example.com")
	t.Logf("billed state transitions of the main execution: %d", res.BilledTransitions)
}

func TestUnknownSubjectCompletesNotFound(t *testing.T) {
	reg := newRegion(t, "bob")
	req, res := reg.erase(t, "nobody")
	if res.Status != "SUCCEEDED" || req.Status != erasure.StatusCompleted {
		t.Fatalf("execution %s (%s), request %s", res.Status, res.Cause, req.Status)
	}
	if got := statuses(req)["projects"]; got != erasure.SubsystemNotFound {
		t.Errorf("projects = %s, want not_found", got)
	}
}

// TestOutageOutlastingTheDeadlineFailsAtTheGiveUpPoint: a sync subsystem
// down for good is retried with its back-off (60 s doubling to 6 h) until
// the deadline minus giveUpBefore (24 h), not before; its admins get one
// "unavailable" mail, one "at risk" mail and the failure mail, ops one mail;
// the other subsystems complete.
func TestOutageOutlastingTheDeadlineFailsAtTheGiveUpPoint(t *testing.T) {
	reg := newRegion(t, "carol")
	reg.subsystems["projects"].down = true
	req, res := reg.erase(t, "carol")
	if res.Status != "FAILED" || res.Error != "ErasureFailed" {
		t.Fatalf("execution %s %s, want FAILED ErasureFailed", res.Status, res.Error)
	}
	got := statuses(req)
	if req.Status != erasure.StatusFailed || got["projects"] != erasure.SubsystemFailed || got["orders"] != erasure.SubsystemDeleted || got["customers"] != erasure.SubsystemDeleted {
		t.Fatalf("request %s, subsystems %+v", req.Status, req.Subsystems)
	}
	projects, _ := req.Subsystem("projects")
	if !strings.Contains(projects.Detail, "SubsystemUnavailable") || !strings.Contains(projects.LastError, "503") {
		t.Errorf("projects detail %q, last error %q; want the error name and the 503", projects.Detail, projects.LastError)
	}
	retry := reg.cfg.Regions[0].Subsystems[0].RetryPolicy()
	giveUpAt := retry.GiveUpAt(req.Deadline)
	if projects.FinishedAt == nil || projects.FinishedAt.Before(giveUpAt) || !projects.FinishedAt.Before(req.Deadline) {
		t.Errorf("projects failed at %v; want from the give-up point %s and before the deadline %s", projects.FinishedAt, giveUpAt, req.Deadline)
	}
	calls := reg.subsystems["projects"].calls
	want := retry.Rounds(req.ReceivedAt, req.Deadline, 10000)
	if calls != want || projects.Attempts != calls {
		t.Errorf("projects was called %d times, attempts %d; want %d (the retry policy's rounds until the give-up point)", calls, projects.Attempts, want)
	}
	eu := reg.cfg.Regions[0]
	mails := reg.outbox.to(local.TopicArn(eu, local.SubsystemTopicName("eu", "projects")))
	var kinds []string
	for _, m := range mails {
		kinds = append(kinds, m.Subject)
		if !strings.Contains(m.Message, req.ID) || strings.Contains(m.Message+m.Subject, "carol") {
			t.Errorf("mail %q: want the request id and never the subject:\n%s", m.Subject, m.Message)
		}
	}
	if len(mails) != 3 || !strings.Contains(kinds[0], "unavailable") || !strings.Contains(kinds[1], "at risk") || !strings.Contains(kinds[2], "failed") {
		t.Errorf("projects' admins got %q; want one unavailable, one at-risk and one failure mail", kinds)
	}
	if len(mails) == 3 && (!strings.Contains(mails[2].Message, "lethe retry "+req.ID+" --subsystem projects") || !strings.Contains(mails[2].Message, "lethe attest "+req.ID+" projects")) {
		t.Errorf("failure mail without the commands:\n%s", mails[2].Message)
	}
	if ops := reg.outbox.to(reg.wired.OpsTopic); len(ops) != 1 || !strings.Contains(ops[0].Message, "lethe retry "+req.ID) {
		t.Errorf("ops got %+v", ops)
	}
	assertNoSubject(t, res, "carol")
}

// TestOutageOfThreeDaysEndsDeleted: a subsystem down for three days of a
// one-month deadline is deleted once it is back, with exactly one
// "unavailable" mail to its admins and nothing to ops.
func TestOutageOfThreeDaysEndsDeleted(t *testing.T) {
	for _, name := range []string{"projects", "orders"} {
		t.Run(name, func(t *testing.T) {
			reg := newRegion(t, "carol")
			reg.subsystems[name].downUntil = reg.clock.Now().Add(72 * time.Hour)
			req, res := reg.erase(t, "carol")
			if res.Status != "SUCCEEDED" || req.Status != erasure.StatusCompleted {
				t.Fatalf("execution %s (%s %s), request %s", res.Status, res.Error, res.Cause, req.Status)
			}
			sub, _ := req.Subsystem(name)
			if sub.Status != erasure.SubsystemDeleted || sub.Attempts < 10 || sub.LastError != "" {
				t.Errorf("%s: %+v; want deleted after some ten attempts, no last error", name, sub)
			}
			mails := reg.outbox.to(local.TopicArn(reg.cfg.Regions[0], local.SubsystemTopicName("eu", name)))
			if len(mails) != 1 || !strings.Contains(mails[0].Subject, "unavailable") {
				t.Errorf("%s's admins got %d mails (%+v); want one unavailable mail", name, len(mails), mails)
			}
			if ops := reg.outbox.to(reg.wired.OpsTopic); len(ops) != 0 {
				t.Errorf("ops got %d mails", len(ops))
			}
		})
	}
}

// TestAttestationWhilePersistingEndsTheLoop: an operator who erased by hand
// while Lethe persists through an outage attests it; the next call ends
// the loop and the request completes with the attestation.
func TestAttestationWhilePersistingEndsTheLoop(t *testing.T) {
	reg := newRegion(t, "carol")
	projects := reg.subsystems["projects"]
	projects.down = true
	calls := 0
	projects.onCall = func() {
		if calls++; calls != 3 {
			return
		}
		list, err := reg.requests.List(context.Background(), 1)
		if err != nil || len(list) != 1 {
			t.Fatalf("list: %v %v", list, err)
		}
		if _, err := reg.requests.Change(context.Background(), list[0].ID, func(r *erasure.Request) ([]audit.Record, error) {
			_, i := r.Subsystem("projects")
			at := reg.clock.Now()
			r.Subsystems[i].Status, r.Subsystems[i].FinishedAt = erasure.SubsystemDeleted, &at
			r.Subsystems[i].Attestation = &erasure.Attestation{By: "ops", At: at, Outcome: erasure.SubsystemDeleted, Note: "erased by hand"}
			return nil, nil
		}); err != nil {
			t.Error(err)
		}
	}
	req, res := reg.erase(t, "carol")
	sub, _ := req.Subsystem("projects")
	if res.Status != "SUCCEEDED" || req.Status != erasure.StatusCompleted || sub.Attestation == nil || sub.Status != erasure.SubsystemDeleted {
		t.Fatalf("execution %s, request %s, projects %+v; want completed with the attestation", res.Status, req.Status, sub)
	}
	if projects.calls != 3 || sub.Attempts != 3 {
		t.Errorf("projects called %d times (attempts %d); want 3: the loop ends at the attestation", projects.calls, sub.Attempts)
	}
}

// TestPermanentRefusalFailsAtOnce: another 4xx is not retried.
func TestPermanentRefusalFailsAtOnce(t *testing.T) {
	reg := newRegion(t, "carol")
	reg.subsystems["projects"].reject = true
	req, res := reg.erase(t, "carol")
	sub, _ := req.Subsystem("projects")
	if res.Status != "FAILED" || sub.Status != erasure.SubsystemFailed || reg.subsystems["projects"].calls != 1 || sub.Attempts != 1 {
		t.Fatalf("execution %s, projects %+v after %d calls; want failed after one call", res.Status, sub, reg.subsystems["projects"].calls)
	}
	if !strings.Contains(sub.Detail, "SubsystemRejected") {
		t.Errorf("detail %q", sub.Detail)
	}
}

// TestExtensionMovesTheDeadlineOfARunningErasure: an async subsystem that
// never finishes keeps being polled past the first deadline once the
// request's deadline is extended while it runs.
func TestExtensionMovesTheDeadlineOfARunningErasure(t *testing.T) {
	reg := newRegion(t, "dave")
	orders := reg.subsystems["orders"]
	orders.doneAfter = -1
	var extended time.Time
	orders.onCheck = func() {
		if !extended.IsZero() {
			return
		}
		for id := range orders.tickets {
			id = strings.TrimPrefix(id, "t-")
			r, err := reg.requests.Change(context.Background(), id, func(r *erasure.Request) ([]audit.Record, error) {
				old := r.Deadline
				r.Deadline = config.Deadline{Months: 1}.After(old)
				r.Extensions = append(r.Extensions, erasure.Extension{By: "test", Months: 1, Reason: "test", OldDeadline: old, NewDeadline: r.Deadline})
				return nil, nil
			})
			if err != nil {
				t.Error(err)
			}
			extended = r.Deadline
		}
	}
	req, res := reg.erase(t, "dave")
	if res.Status != "FAILED" || extended.IsZero() {
		t.Fatalf("execution %s, extended to %v", res.Status, extended)
	}
	sub, _ := req.Subsystem("orders")
	if !strings.Contains(sub.Detail, "DeadlinePassed") || sub.FinishedAt == nil || sub.FinishedAt.Before(extended) {
		t.Errorf("orders %+v; want DeadlinePassed at the extended deadline %s", sub, extended)
	}
	if !req.Deadline.Equal(extended) {
		t.Errorf("request deadline %s, want %s", req.Deadline, extended)
	}
}

func TestAsyncNeverFinishingFailsAtTheDeadline(t *testing.T) {
	reg := newRegion(t, "dave")
	reg.subsystems["orders"].doneAfter = -1
	req, res := reg.erase(t, "dave")
	got := statuses(req)
	if res.Status != "FAILED" || got["orders"] != erasure.SubsystemFailed || got["customers"] != erasure.SubsystemDeleted {
		t.Fatalf("execution %s, subsystems %v", res.Status, got)
	}
	for _, s := range req.Subsystems {
		if s.Name == "orders" && !strings.Contains(s.Detail, "DeadlinePassed") {
			t.Errorf("orders detail = %q, want DeadlinePassed", s.Detail)
		}
	}
	checks := reg.subsystems["orders"].checks["t-"+req.ID]
	if checks < 100 || checks > 140 {
		t.Errorf("orders was checked %d times in a month; the back-off should make it about 121", checks)
	}
	if sub, _ := req.Subsystem("orders"); sub.Attempts != checks+1 {
		t.Errorf("orders attempts %d; want %d (one submission and %d checks)", sub.Attempts, checks+1, checks)
	}
	mails := reg.outbox.to(local.TopicArn(reg.cfg.Regions[0], local.SubsystemTopicName("eu", "orders")))
	if len(mails) != 1 || !strings.Contains(mails[0].Subject, "failed") {
		t.Errorf("orders' admins got %+v; want the failure mail only (it answered, so nothing escalated)", mails)
	}
	if now := reg.clock.Now(); now.Before(req.Deadline) {
		t.Errorf("gave up at %s, before the deadline %s", now, req.Deadline)
	}
}

// assertNoSubject checks that the subject id is nowhere in an execution's
// input, output or history: executions carry the request id only.
func assertNoSubject(t *testing.T, res *asl.Result, subject string) {
	t.Helper()
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), subject) {
		t.Errorf("the execution's history holds the subject id %q", subject)
	}
}

// TestCompletedErasureIsCertified is issue 12's end to end: the Erasure
// machine closes the request (forgetting its subject) and signs its
// certificate; the certificate verifies against the region's key set, any
// changed byte fails, and the subject check is true for the right person
// only. The subject is in neither the certificate nor the execution.
func TestCompletedErasureIsCertified(t *testing.T) {
	reg := newRegion(t, "alice@example.com")
	req, res := reg.erase(t, "alice@example.com")
	if res.Status != "SUCCEEDED" {
		t.Fatalf("execution %s: %s %s", res.Status, res.Error, res.Cause)
	}
	if req.SubjectID != "" || req.ForgottenAt == nil || req.Certificate == "" {
		t.Fatalf("request: subject %q forgottenAt %v certificate %q", req.SubjectID, req.ForgottenAt, req.Certificate)
	}
	output, err := json.Marshal(res.Output)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(req.Certificate, "alice") || strings.Contains(string(output), "alice") {
		t.Fatal("the certificate or the execution output holds the subject id")
	}
	keys, err := certify.KeysOf(reg.signer).JWKS(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(keys, &set); err != nil {
		t.Fatal(err)
	}
	claims, _, err := proof.Verify(req.Certificate, set)
	if err != nil {
		t.Fatal(err)
	}
	if claims.RequestID != req.ID || claims.Region != "eu" || len(claims.Subsystems) != len(req.Subsystems) || !claims.ClosedAt.Equal(*req.CompletedAt) {
		t.Fatalf("claims = %+v", claims)
	}
	for _, s := range claims.Subsystems {
		if !s.Outcome.Done() {
			t.Errorf("subsystem %s certified %s", s.Name, s.Outcome)
		}
	}
	if !claims.SubjectCommitment.Matches("alice@example.com") || claims.SubjectCommitment.Matches("alice@example.org") {
		t.Fatal("the subject check does not single out alice")
	}
	for i := range req.Certificate {
		if req.Certificate[i] == '.' {
			continue
		}
		b := byte('A')
		if req.Certificate[i] == 'A' {
			b = 'B'
		}
		if _, _, err := proof.Verify(req.Certificate[:i]+string(b)+req.Certificate[i+1:], set); err == nil {
			t.Fatalf("byte %d changed still verifies", i)
		}
	}
	var out struct { // the execution's output is the outcome
		Certificate struct {
			Issued bool   `json:"issued"`
			KeyID  string `json:"keyId"`
		} `json:"certificate"`
	}
	if err := json.Unmarshal(output, &out); err != nil || !out.Certificate.Issued || out.Certificate.KeyID != set.Keys[0].KeyID {
		t.Fatalf("execution output certificate = %+v, %v", out.Certificate, err)
	}
}
