package demo

import (
	"context"
	"errors"
	"github.com/lethe-erasure/lethe/internal/store/embedded/embeddedtest"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/progress"
	"github.com/lethe-erasure/lethe/internal/store/embedded"
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

// demoRegion is the default configuration's region with its subsystems
// served by one farm.
type demoRegion struct {
	farm     *testFarm
	conn     *subsystem.Connector
	region   config.Region
	requests *embedded.Requests
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
	db, err := embedded.Open(filepath.Join(t.TempDir(), name+".db"), embedded.Options{NoSync: true, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	reqs := db.Requests(name)
	conn := subsystem.New(subsystem.NewHTTPClient(), noTokens{}, reqs, progress.New(reqs, nil, cfg, r, nil), subsystem.WithRegion(r))
	return &demoRegion{farm: f, conn: conn, region: r, requests: reqs}
}

// request files a request for subject and returns its id.
func (d *demoRegion) request(t *testing.T, subject string) string {
	t.Helper()
	id, err := erasure.NewID(d.region.Name)
	if err != nil {
		t.Fatal(err)
	}
	ctx, now := context.Background(), d.farm.clock.Now()
	req := embeddedtest.WithSubject(t, erasure.Request{ID: id, SubjectID: subject, Source: erasure.SourceAPI, ReceivedAt: now, Deadline: now.AddDate(0, 1, 0)})
	got, created, err := d.requests.Create(ctx, req, "")
	if err == nil && !created {
		// The subject's earlier request is still open: close it, as its
		// execution would have, so that this is a request of its own.
		if _, err = d.requests.RecordOutcome(ctx, got.ID, erasure.StatusCompleted, now, nil); err == nil {
			_, created, err = d.requests.Create(ctx, req, "")
		}
	}
	if err != nil || !created {
		t.Fatalf("request for %s: created=%v, %v", subject, created, err)
	}
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
		RequestID: requestID, Subsystem: d.target(t, name), Ticket: ticket, Now: now,
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
	again, err := d.conn.Submit(ctx, in)
	if err != nil || again.Ticket != first.Ticket || again.Attempts != 2 {
		t.Fatalf("retried submit: %+v, %v (first ticket %s)", again, err, first.Ticket)
	}
	other, err := d.conn.Submit(ctx, erasure.DeleteInput{RequestID: nobody, Subsystem: d.target(t, "orders")})
	if err != nil {
		t.Fatal(err)
	}

	out, err := d.check(t, alice, "orders", first.Ticket)
	if err != nil || out.Status != subsystem.AsyncPending || out.WaitSeconds <= 0 || out.PollCount != 1 {
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
	d.farm.SetFaults("eu", "projects", config.DemoSubsystem{Outage: true})
	del, err := d.conn.SyncDelete(ctx, erasure.DeleteInput{RequestID: alice, Subsystem: d.target(t, "projects")})
	if err != nil || del.Status != erasure.CallUnavailable || !strings.Contains(del.Detail, "503") || del.WaitSeconds < 1 {
		t.Fatalf("sync delete in an outage: %+v, %v; want unavailable (503) with a wait", del, err)
	}
	if strings.Contains(del.Detail, "alice") {
		t.Errorf("detail names the subject: %v", del.Detail)
	}

	d.farm.SetFaults("eu", "orders", config.DemoSubsystem{ErrorRate: 1})
	if sub, err := d.conn.Submit(ctx, erasure.DeleteInput{RequestID: alice, Subsystem: d.target(t, "orders")}); err != nil || sub.Status != erasure.CallUnavailable {
		t.Fatalf("submit at error rate 1: %+v, %v", sub, err)
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
	// An outage during a check is answered unavailable: the machine's loop
	// checks again after the retry back-off.
	d.farm.SetFaults("eu", "orders", config.DemoSubsystem{Outage: true})
	out, err = d.check(t, alice, "orders", sub.Ticket)
	if err != nil || out.Status != erasure.CallUnavailable || !strings.Contains(out.Detail, "503") {
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
