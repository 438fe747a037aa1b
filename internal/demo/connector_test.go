package demo

import (
	"context"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/subsystem"
)

// The demo subsystems driven through Lethe's own connector (the code the
// sync-delete, async-submit and async-check Lambdas run): every answer the
// demo gives is one the connector understands.

// noTokens serves subsystems configured with token kind none, as the local
// runtime configures them.
type noTokens struct{}

func (noTokens) Token(context.Context, config.TokenSource) (string, error) { return "", nil }
func (noTokens) Invalidate(config.TokenSource)                             {}

// subjects is the requests table's SubjectOf for the test's requests.
type subjects struct {
	mu   sync.Mutex
	byID map[string]string
}

func (s *subjects) SubjectOf(_ context.Context, id string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	subject, ok := s.byID[id]
	if !ok {
		return "", erasure.ErrNotFound
	}
	return subject, nil
}

// demoRegion is the default configuration's region with its subsystems
// served by one farm.
type demoRegion struct {
	farm     *testFarm
	conn     *subsystem.Connector
	region   config.Region
	subjects *subjects
}

func newDemoRegion(t *testing.T, name string) *demoRegion {
	t.Helper()
	cfg, err := config.Load(filepath.Join("..", "..", "cdk.json"))
	if err != nil {
		t.Fatal(err)
	}
	f := newFarm(t)
	return f.region(t, cfg, name)
}

func (f *testFarm) region(t *testing.T, cfg *config.Config, name string) *demoRegion {
	t.Helper()
	r, ok := cfg.Region(name)
	if !ok {
		t.Fatalf("no region %s in cdk.json", name)
	}
	r.Subsystems = append([]config.Subsystem(nil), r.Subsystems...)
	for i := range r.Subsystems {
		s := &r.Subsystems[i]
		srv := httptest.NewServer(f.Subsystem(name, *s, cfg.Demo(name, s.Name)))
		t.Cleanup(srv.Close)
		s.BaseURL = srv.URL
		s.Token = config.TokenSource{Kind: config.TokenNone}
	}
	subs := &subjects{byID: map[string]string{}}
	conn := subsystem.New(subsystem.NewHTTPClient(), noTokens{}, subs, subsystem.WithRegion(r))
	return &demoRegion{farm: f, conn: conn, region: r, subjects: subs}
}

// request files a request for subject and returns its id.
func (d *demoRegion) request(t *testing.T, subject string) string {
	t.Helper()
	id, err := erasure.NewID(d.region.Name)
	if err != nil {
		t.Fatal(err)
	}
	d.subjects.mu.Lock()
	d.subjects.byID[id] = subject
	d.subjects.mu.Unlock()
	return id
}

func (d *demoRegion) target(t *testing.T, name string) erasure.Target {
	t.Helper()
	s, ok := d.region.Subsystem(name)
	if !ok {
		t.Fatalf("no subsystem %s", name)
	}
	return erasure.Target{Name: s.Name, Mode: s.Mode, BaseURL: s.BaseURL, TimeoutSeconds: s.TimeoutSeconds, Token: s.Token, Poll: s.Poll}
}

func (d *demoRegion) check(t *testing.T, requestID, name, ticket string) (erasure.CheckOutput, error) {
	t.Helper()
	now := d.farm.clock.Now()
	return d.conn.Check(context.Background(), erasure.CheckInput{
		RequestID: requestID, Subsystem: d.target(t, name), Ticket: ticket, Attempts: 1,
		Deadline: now.AddDate(0, 1, 0), Now: now,
	})
}

func TestConnectorSyncDelete(t *testing.T) {
	d := newDemoRegion(t, "eu")
	ctx := context.Background()
	tests := []struct {
		subject    string
		want       erasure.SubsystemStatus
		wantDetail string
	}{
		{"alice", erasure.SubsystemDeleted, "deleted (204)"},
		{"alice", erasure.SubsystemNotFound, "nothing held (404)"}, // a second request for her
		{"nobody-here", erasure.SubsystemNotFound, "nothing held (404)"},
		{"bob", erasure.SubsystemDeleted, "deleted (204)"},
	}
	for _, tt := range tests {
		out, err := d.conn.SyncDelete(ctx, erasure.DeleteInput{RequestID: d.request(t, tt.subject), Subsystem: d.target(t, "projects")})
		if err != nil {
			t.Fatalf("%s: %v", tt.subject, err)
		}
		if out.Status != tt.want || out.Detail != tt.wantDetail || out.Attempts != 1 {
			t.Errorf("%s: %+v, want %s %q", tt.subject, out, tt.want, tt.wantDetail)
		}
	}
	if d.farm.Holds("eu", "projects", "alice") || d.farm.Holds("eu", "projects", "bob") || !d.farm.Holds("eu", "projects", "carol") {
		t.Error("projects holds the wrong subjects")
	}
}

func TestConnectorAsync(t *testing.T) {
	d := newDemoRegion(t, "eu")
	ctx := context.Background()
	alice := d.request(t, "alice")
	nobody := d.request(t, "nobody-here")
	in := erasure.DeleteInput{RequestID: alice, Subsystem: d.target(t, "orders")}
	first, err := d.conn.Submit(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	// The state machine retries a submit whose answer was lost: same ticket.
	in.Attempt = 1
	again, err := d.conn.Submit(ctx, in)
	if err != nil || again.Ticket != first.Ticket || again.Attempts != 2 {
		t.Fatalf("retried submit: %+v, %v (first ticket %s)", again, err, first.Ticket)
	}
	other, err := d.conn.Submit(ctx, erasure.DeleteInput{RequestID: nobody, Subsystem: d.target(t, "orders")})
	if err != nil {
		t.Fatal(err)
	}

	out, err := d.check(t, alice, "orders", first.Ticket)
	if err != nil || out.Status != subsystem.AsyncPending || out.NextPollSeconds <= 0 || out.PollCount != 1 {
		t.Fatalf("first check: %+v, %v", out, err)
	}
	d.farm.clock.Advance(time.Duration(config.DefaultDemoFinishAfterSeconds) * time.Second)
	out, err = d.check(t, alice, "orders", first.Ticket)
	if err != nil || out.Status != subsystem.AsyncDeleted || out.Detail != "deleted" {
		t.Fatalf("due check: %+v, %v", out, err)
	}
	out, err = d.check(t, nobody, "orders", other.Ticket)
	if err != nil || out.Status != subsystem.AsyncDeleted || out.Detail != "nothing held" {
		t.Fatalf("unknown subject: %+v, %v", out, err)
	}
	if d.farm.Holds("eu", "orders", "alice") || !d.farm.Holds("eu", "customers", "alice") {
		t.Error("alice must be gone from orders only")
	}
	// One job per request: three submits, two tickets.
	if n := d.farm.tickets(t, "eu/orders"); n != 2 {
		t.Errorf("%d tickets, want 2", n)
	}
	for _, c := range d.farm.recorded() {
		if c.Status != 202 && c.Status != 200 {
			t.Errorf("call %+v", c)
		}
	}
}

func TestConnectorFaults(t *testing.T) {
	d := newDemoRegion(t, "eu")
	ctx := context.Background()
	alice := d.request(t, "alice")
	var unavailable *subsystem.SubsystemUnavailable

	d.farm.SetFaults("eu", "projects", config.DemoSubsystem{Outage: true})
	_, err := d.conn.SyncDelete(ctx, erasure.DeleteInput{RequestID: alice, Subsystem: d.target(t, "projects")})
	if !errors.As(err, &unavailable) || unavailable.StatusCode != 503 {
		t.Fatalf("sync delete in an outage: %v, want SubsystemUnavailable 503", err)
	}
	if strings.Contains(err.Error(), "alice") {
		t.Errorf("error names the subject: %v", err)
	}

	d.farm.SetFaults("eu", "orders", config.DemoSubsystem{ErrorRate: 1})
	if _, err := d.conn.Submit(ctx, erasure.DeleteInput{RequestID: alice, Subsystem: d.target(t, "orders")}); !errors.As(err, &unavailable) {
		t.Fatalf("submit at error rate 1: %v", err)
	}
	d.farm.SetFaults("eu", "orders", config.DemoSubsystem{NeverFinish: true})
	sub, err := d.conn.Submit(ctx, erasure.DeleteInput{RequestID: alice, Subsystem: d.target(t, "orders")})
	if err != nil {
		t.Fatal(err)
	}
	d.farm.clock.Advance(40 * 24 * time.Hour)
	out, err := d.check(t, alice, "orders", sub.Ticket)
	if err != nil || out.Status != subsystem.AsyncPending {
		t.Fatalf("never finish: %+v, %v", out, err)
	}
	// An outage during a check is still pending to the connector: the poll
	// loop is the retry.
	d.farm.SetFaults("eu", "orders", config.DemoSubsystem{Outage: true})
	out, err = d.check(t, alice, "orders", sub.Ticket)
	if err != nil || out.Status != subsystem.AsyncPending || !strings.Contains(out.Detail, "503") {
		t.Fatalf("check in an outage: %+v, %v", out, err)
	}
	// A ticket the subsystem does not know is a refusal.
	d.farm.SetFaults("eu", "orders", config.DemoSubsystem{})
	var rejected *subsystem.SubsystemRejected
	if _, err := d.check(t, alice, "orders", "no-such-ticket"); !errors.As(err, &rejected) || rejected.StatusCode != 404 {
		t.Fatalf("unknown ticket: %v, want SubsystemRejected 404", err)
	}
	out, err = d.check(t, alice, "orders", sub.Ticket)
	if err != nil || out.Status != subsystem.AsyncDeleted {
		t.Fatalf("faults lifted: %+v, %v", out, err)
	}
}

// Residency: erasures filed in eu call eu's subsystems only, although one
// farm serves both regions.
func TestConnectorResidency(t *testing.T) {
	cfg, err := config.Load(filepath.Join("..", "..", "cdk.json"))
	if err != nil {
		t.Fatal(err)
	}
	f := newFarm(t)
	eu, us := f.region(t, cfg, "eu"), f.region(t, cfg, "us")
	ctx := context.Background()
	for _, subject := range []string{"alice", "bob", "carol"} {
		id := eu.request(t, subject)
		if _, err := eu.conn.SyncDelete(ctx, erasure.DeleteInput{RequestID: id, Subsystem: eu.target(t, "projects")}); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"orders", "customers"} {
			if _, err := eu.conn.Submit(ctx, erasure.DeleteInput{RequestID: id, Subsystem: eu.target(t, name)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	f.clock.Advance(time.Hour)
	for _, subject := range []string{"alice", "bob", "carol"} {
		for _, s := range eu.region.Subsystems {
			if f.Holds("eu", s.Name, subject) {
				t.Errorf("eu/%s still holds %s", s.Name, subject)
			}
		}
		for _, s := range us.region.Subsystems {
			if !f.Holds("us", s.Name, subject) {
				t.Errorf("us/%s lost %s to an eu erasure", s.Name, subject)
			}
		}
	}
	calls := f.recorded()
	if len(calls) != 9 {
		t.Errorf("%d calls, want 9", len(calls))
	}
	for _, c := range calls {
		if c.Region != "eu" {
			t.Errorf("call to %s/%s", c.Region, c.Subsystem)
		}
	}
}
