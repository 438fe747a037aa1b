package statemachines_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lethe-erasure/lethe/internal/asl"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/local"
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
	// down answers 503 to everything.
	down  bool
	calls int
}

func (f *fakeSubsystem) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.down {
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
		var in struct{ RequestID, SubjectID string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		ticket := "t-" + in.RequestID
		f.tickets[ticket] = in.SubjectID
		if _, ok := f.submitted[ticket]; !ok && f.clock != nil {
			f.submitted[ticket] = f.clock.Now()
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

// requests is the requests table for one test: the store interfaces of the
// connectors and of RecordOutcome.
type requests struct {
	mu   sync.Mutex
	byID map[string]*erasure.Request
}

func (s *requests) SubjectOf(_ context.Context, id string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.byID[id]
	if !ok {
		return "", erasure.ErrNotFound
	}
	return r.SubjectID, nil
}

func (s *requests) Get(_ context.Context, id string) (erasure.Request, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.byID[id]
	if !ok {
		return erasure.Request{}, erasure.ErrNotFound
	}
	return *r, nil
}

func (s *requests) RecordOutcome(_ context.Context, id string, status erasure.Status, at time.Time, results []erasure.SubsystemResult) (erasure.Request, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.byID[id]
	if r.Status.Open() {
		r.Status, r.CompletedAt, r.Subsystems = status, &at, results
	}
	return *r, nil
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

type region struct {
	engine     *asl.Engine
	clock      *asl.FakeClock
	cfg        *config.Config
	subsystems map[string]*fakeSubsystem
	requests   *requests
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
		requests:   &requests{byID: map[string]*erasure.Request{}},
		outbox:     &outbox{},
	}
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
	handlers, err := local.TaskHandlers(r, local.SubsystemTopics(r), noTokens{}, reg.requests, nil)
	if err != nil {
		t.Fatal(err)
	}
	if reg.wired, err = local.Wire(reg.engine, r, handlers); err != nil {
		t.Fatal(err)
	}
	return reg
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
	req := &erasure.Request{ID: id, SubjectID: subject, Source: erasure.SourceAPI, Status: erasure.StatusRunning, ReceivedAt: now, Deadline: reg.cfg.Deadline.After(now)}
	for _, s := range reg.cfg.Regions[0].Subsystems {
		req.Subsystems = append(req.Subsystems, erasure.SubsystemResult{Name: s.Name, Mode: string(s.Mode), Status: erasure.SubsystemPending})
	}
	reg.requests.mu.Lock()
	reg.requests.byID[id] = req
	reg.requests.mu.Unlock()
	in := erasure.ExecutionInput{RequestID: id, Region: "eu", ReceivedAt: now, Deadline: req.Deadline}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
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

func TestSubsystemDownFailsOnlyThatSubsystem(t *testing.T) {
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
	for _, s := range req.Subsystems {
		if s.Name == "projects" && !strings.Contains(s.Detail, "SubsystemUnavailable") {
			t.Errorf("projects detail = %q, want the error name", s.Detail)
		}
	}
	// 1 call + 8 retries of SubsystemUnavailable.
	for _, s := range req.Subsystems {
		t.Logf("%s: %s", s.Name, s.Detail)
	}
	t.Logf("sleeps: %v", reg.clock.Sleeps())
	if calls := reg.subsystems["projects"].calls; calls != 9 {
		t.Errorf("projects was called %d times, want 9 (1 + 8 retries)", calls)
	}
	topics := map[string]string{}
	for _, m := range reg.outbox.messages {
		topics[m.TopicArn] = m.Message
		if strings.Contains(m.Message+m.Subject, "carol") {
			t.Errorf("an SNS message names the subject: %s", m.Message)
		}
	}
	eu := reg.cfg.Regions[0]
	mail, ok := topics[local.TopicArn(eu, local.SubsystemTopicName("eu", "projects"))]
	if !ok || !strings.Contains(mail, req.ID) || !strings.Contains(mail, "SubsystemUnavailable") || !strings.Contains(mail, req.Deadline.Format("2006-01-02")) {
		t.Errorf("projects' admins got %q; want the request id, the error and the deadline", mail)
	}
	if ops, ok := topics[reg.wired.OpsTopic]; !ok || !strings.Contains(ops, req.ID) {
		t.Errorf("ops got %q", ops)
	}
	if len(reg.outbox.messages) != 2 {
		t.Errorf("%d messages, want 2 (projects' admins, ops)", len(reg.outbox.messages))
	}
	assertNoSubject(t, res, "carol")
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
