package local

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lethe-erasure/lethe/internal/asl"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/demo"
	"github.com/lethe-erasure/lethe/internal/erasure"
)

// The tests below run the whole runtime in-process over HTTP: the real
// api handler behind the gateway, the embedded store's stream feeding the
// real starter, the three state machine files on the interpreter with the
// real task handlers, the demo subsystems. Time is an asl.FakeClock: an
// erasure whose async subsystems take ten minutes (and a deadline of a
// day) completes in milliseconds.

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// calls records every demo subsystem call.
type calls struct {
	mu  sync.Mutex
	all []demo.Call
}

func (c *calls) record(x demo.Call) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.all = append(c.all, x)
}

func (c *calls) list() []demo.Call {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]demo.Call(nil), c.all...)
}

func hashOf(subject string) string {
	h := sha256.Sum256([]byte(subject))
	return hex.EncodeToString(h[:])
}

// start runs a runtime on dir with the demo subsystems and a fake clock.
func start(t *testing.T, cfg *config.Config, dir string, clock asl.Clock, edgePort int) *Runtime {
	t.Helper()
	rt, err := Start(context.Background(), Options{Config: cfg, DataDir: dir, Demo: true, Clock: clock, EdgePort: edgePort, Log: discard()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	return rt
}

// file files an erasure with DELETE /api/user/{id} and returns its id.
func file(t testing.TB, rt *Runtime, region, subject string) string {
	t.Helper()
	reg, ok := rt.Region(region)
	if !ok {
		t.Fatalf("no region %s", region)
	}
	resp, body := do(t, "DELETE", reg.URL+"/api/user/"+url.PathEscape(subject), nil, "")
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("DELETE in %s = %d %s", region, resp.StatusCode, body)
	}
	var v struct{ RequestID string }
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	return v.RequestID
}

// wait polls GET /erasures/{id} until the request is closed, and its
// latest run's execution has ended.
func wait(t testing.TB, rt *Runtime, id string) erasure.Request {
	t.Helper()
	region, err := erasure.ParseID(id)
	if err != nil {
		t.Fatal(err)
	}
	reg, _ := rt.Region(region)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, body := do(t, "GET", reg.URL+"/erasures/"+id, nil, "")
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s = %d %s", id, resp.StatusCode, body)
		}
		var r erasure.Request
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatal(err)
		}
		if !r.Status.Open() {
			// The request closes at RecordOutcome; the execution then
			// publishes its failure mail and ends.
			x := ExecutionArn(reg.Engine, reg.Wired.Main, erasure.RunName(id, r.Run))
			waitFor(t, func() bool {
				e, ok := reg.Engine.Execution(x)
				if !ok {
					return true
				}
				select {
				case <-e.Done():
					return true
				default:
					return false
				}
			}, "the end of "+x)
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("request %s still %s after 30 s: %+v", id, r.Status, r.Subsystems)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func statusOf(r erasure.Request) map[string]erasure.SubsystemStatus {
	out := map[string]erasure.SubsystemStatus{}
	for _, s := range r.Subsystems {
		out[s.Name] = s.Status
	}
	return out
}

func TestErasuresCompleteInEveryRegion(t *testing.T) {
	rt := start(t, loadConfig(t), t.TempDir(), asl.NewFakeClock(t0), 0)
	var rec calls
	rt.Farm().OnCall(rec.record)

	filed := map[string]string{} // request id -> subject
	for _, f := range []struct{ region, subject string }{{"eu", "alice"}, {"eu", "bob"}, {"us", "carol"}, {"eu", "nobody"}} {
		filed[file(t, rt, f.region, f.subject)] = f.subject
	}
	for id, subject := range filed {
		r := wait(t, rt, id)
		if r.Status != erasure.StatusCompleted || len(r.Subsystems) != 3 {
			t.Errorf("%s (%s): %s %+v", id, subject, r.Status, r.Subsystems)
		}
		region, _ := erasure.ParseID(id)
		for name, st := range statusOf(r) {
			want := erasure.SubsystemDeleted
			if subject == "nobody" {
				want = erasure.SubsystemNotFound
			}
			// A sync subsystem answers 404 for a subject it does not
			// hold; an async one reports its erasure done either way.
			if st != want && !(subject == "nobody" && st == erasure.SubsystemDeleted) {
				t.Errorf("%s (%s) in %s: %s, want %s", id, subject, name, st, want)
			}
			if rt.Farm().Holds(region, name, subject) {
				t.Errorf("%s/%s still holds %s after a completed erasure", region, name, subject)
			}
		}
	}
	if got := statusOf(wait(t, rt, keyOf(filed, "nobody")))["projects"]; got != erasure.SubsystemNotFound {
		t.Errorf("projects for an unknown subject: %s, want not_found", got)
	}
	// Residency: the other region still holds what was erased here, and
	// no call for a request went to another region's subsystem.
	for _, s := range []string{"projects", "orders", "customers"} {
		if !rt.Farm().Holds("us", s, "alice") || !rt.Farm().Holds("us", s, "bob") || !rt.Farm().Holds("eu", s, "carol") {
			t.Errorf("an erasure reached another region's %s", s)
		}
	}
	homes := map[string]string{hashOf("alice"): "eu", hashOf("bob"): "eu", hashOf("nobody"): "eu", hashOf("carol"): "us"}
	for _, c := range rec.list() {
		if c.RequestID != "" {
			if region, _ := erasure.ParseID(c.RequestID); region != c.Region {
				t.Errorf("a request of %s called %s/%s: %s %s", region, c.Region, c.Subsystem, c.Method, c.Path)
			}
		}
		if home, ok := homes[c.SubjectHash]; ok && home != c.Region {
			t.Errorf("a subject filed in %s was sent to %s/%s", home, c.Region, c.Subsystem)
		}
	}
	if n := len(rt.Outbox().Recent(10)); n != 0 {
		t.Errorf("%d outbox messages for erasures that all completed", n)
	}

	// The console lists the requests, shows their executions, and names
	// no subject.
	for _, page := range []string{rt.StatusURL(), rt.EdgeURL() + "/executions/" + url.PathEscape(ExecutionArn(mustRegion(t, rt, "eu").Engine, "Lethe-eu-Erasure", keyOf(filed, "alice")))} {
		resp, body := do(t, "GET", page, nil, "")
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s = %d %s", page, resp.StatusCode, body)
		}
		for _, s := range []string{"alice", "bob", "carol", "nobody"} {
			if strings.Contains(string(body), s) {
				t.Errorf("%s names the subject %q", page, s)
			}
		}
		if !strings.Contains(string(body), keyOf(filed, "alice")) || !strings.Contains(string(body), "completed") && !strings.Contains(string(body), "SUCCEEDED") {
			t.Errorf("%s does not show the request or its execution", page)
		}
	}
}

func mustRegion(t *testing.T, rt *Runtime, name string) *Region {
	t.Helper()
	r, ok := rt.Region(name)
	if !ok {
		t.Fatalf("no region %s", name)
	}
	return r
}

func keyOf(m map[string]string, v string) string {
	for k, x := range m {
		if x == v {
			return k
		}
	}
	return ""
}

// TestFaultsFailOnlyTheFaultySubsystem: a subsystem down for good (or one
// that never finishes) fails at its retries' end or at the deadline (a
// day here), the others are still erased, the request fails, and the
// failure mail names the request, the subsystem and the error, never the
// subject.
func TestFaultsFailOnlyTheFaultySubsystem(t *testing.T) {
	cases := []struct {
		fault     string
		subsystem string
		errName   string
	}{
		{"eu/orders=outage", "orders", "SubsystemUnavailable"},
		{"eu/projects=outage", "projects", "SubsystemUnavailable"},
		{"eu/customers=neverFinish", "customers", "DeadlinePassed"},
	}
	for _, c := range cases {
		t.Run(c.fault, func(t *testing.T) {
			cfg := loadConfig(t)
			cfg.Deadline = config.Deadline{Days: 1}
			if err := demo.ApplyFaults(cfg, []string{c.fault}); err != nil {
				t.Fatal(err)
			}
			clock := asl.NewFakeClock(t0)
			rt := start(t, cfg, t.TempDir(), clock, 0)
			id := file(t, rt, "eu", "alice")
			r := wait(t, rt, id)
			if r.Status != erasure.StatusFailed {
				t.Fatalf("request %s, want failed: %+v", r.Status, r.Subsystems)
			}
			for _, s := range r.Subsystems {
				switch {
				case s.Name == c.subsystem && (s.Status != erasure.SubsystemFailed || !strings.Contains(s.Detail, c.errName)):
					t.Errorf("%s: %s %q, want failed with %s", s.Name, s.Status, s.Detail, c.errName)
				case s.Name != c.subsystem && s.Status != erasure.SubsystemDeleted:
					t.Errorf("%s: %s, want deleted", s.Name, s.Status)
				}
			}
			if !rt.Farm().Holds("eu", c.subsystem, "alice") {
				t.Errorf("%s lost alice though it failed", c.subsystem)
			}
			if clock.Now().After(r.Deadline.Add(7 * time.Hour)) {
				t.Errorf("gave up at %s, long after the deadline %s", clock.Now(), r.Deadline)
			}
			var admins, ops *OutboxMessage
			atRisk := 0
			msgs := rt.Outbox().Recent(10)
			for i, m := range msgs {
				if strings.Contains(m.Message+m.Subject+fmt.Sprint(m.MessageAttributes), "alice") {
					t.Errorf("an outbox message names the subject: %+v", m)
				}
				switch m.TopicArn {
				case "arn:aws:sns:eu-west-1:000000000000:lethe-eu-" + c.subsystem + "-failures":
					if strings.Contains(m.Subject, "at risk") {
						atRisk++
						continue
					}
					admins = &msgs[i]
				case "arn:aws:sns:eu-west-1:000000000000:lethe-eu-ops":
					ops = &msgs[i]
				}
			}
			if admins == nil || !strings.Contains(admins.Message, id) || !strings.Contains(admins.Message, c.subsystem) || !strings.Contains(admins.Message, c.errName) {
				t.Errorf("the %s admins' mail: %+v", c.subsystem, admins)
			}
			if ops == nil || !strings.Contains(ops.Message, id) {
				t.Errorf("the ops mail: %+v", ops)
			}
			// A one-day deadline is at risk from the start: the admins of a
			// subsystem that is down get the at-risk mail once, then the
			// failure mail; ops one mail.
			wantAtRisk := 0
			if strings.HasSuffix(c.fault, "=outage") {
				wantAtRisk = 1
			}
			if len(msgs) != 2+wantAtRisk || atRisk != wantAtRisk {
				t.Errorf("%d outbox messages (%d at risk), want %d (%d at risk): %+v", len(msgs), atRisk, 2+wantAtRisk, wantAtRisk, msgs)
			}
			b, err := os.ReadFile(filepath.Join(rt.Outbox().Dir(), "lethe-eu-"+c.subsystem+"-failures.jsonl"))
			if err != nil || !strings.Contains(string(b), id) {
				t.Errorf("the topic's file: %v %s", err, b)
			}
		})
	}
}

// TestRestartResumesWithoutRepeating closes the runtime while erasures
// wait on their async subsystems and starts a new one on the same data
// directory: the requests complete, each subsystem got one submission and
// one delete per request (no failure asked for a retry), and each request
// has one execution.
func TestRestartResumesWithoutRepeating(t *testing.T) {
	dir := t.TempDir()
	cfg := loadConfig(t)
	clock := asl.NewFakeClock(t0)
	release := clock.Hold() // executions run their tasks but no time passes
	rt := start(t, cfg, dir, clock, 0)
	var rec calls
	rt.Farm().OnCall(rec.record)
	ids := []string{file(t, rt, "eu", "alice"), file(t, rt, "eu", "bob"), file(t, rt, "us", "carol")}

	// Each request: one DELETE (projects), two submissions, two first
	// checks; then its async branches wait on the held clock.
	waitFor(t, func() bool { return len(rec.list()) == 5*len(ids) }, "the first calls")
	time.Sleep(50 * time.Millisecond)
	if err := rt.Close(); err != nil {
		t.Fatal(err)
	}
	release()
	before := len(rec.list())

	clock2 := asl.NewFakeClock(clock.Now())
	edgePort := portOf(t, rt.EdgeURL()) // the demo subsystems' URLs are in the checkpoints
	rt2 := start(t, cfg, dir, clock2, edgePort)
	rt2.Farm().OnCall(rec.record)
	resumed := 0
	for _, reg := range rt2.Regions() {
		resumed += reg.Resumed
	}
	// Three main executions and their six async children.
	if resumed != 9 {
		t.Errorf("resumed %d executions, want 9", resumed)
	}
	for _, id := range ids {
		if r := wait(t, rt2, id); r.Status != erasure.StatusCompleted {
			t.Errorf("%s after the restart: %s %+v", id, r.Status, r.Subsystems)
		}
	}
	all := rec.list()
	if len(all) == before {
		t.Fatal("no subsystem call after the restart")
	}
	perKind := map[string]int{}
	for _, c := range all {
		switch c.Method {
		case http.MethodDelete:
			perKind["DELETE "+c.Region+"/"+c.Subsystem+" "+c.SubjectHash]++
		case http.MethodPost:
			perKind["POST "+c.Region+"/"+c.Subsystem+" "+c.RequestID]++
		}
	}
	if len(perKind) != 3*len(ids) {
		t.Errorf("%d distinct deletes and submissions, want %d: %v", len(perKind), 3*len(ids), perKind)
	}
	for k, n := range perKind {
		if n != 1 {
			t.Errorf("%s was called %d times", k, n)
		}
	}
	for _, id := range ids {
		region, _ := erasure.ParseID(id)
		reg := mustRegion(t, rt2, region)
		cp, err := reg.Checkpoints.Load(context.Background(), ExecutionArn(reg.Engine, reg.Wired.Main, id))
		if err != nil {
			t.Fatal(err)
		}
		started := 0
		for _, raw := range cp.Events {
			var e asl.Event
			json.Unmarshal(raw, &e)
			if e.Type == "ExecutionStarted" {
				started++
			}
		}
		if started != 1 || !cp.Finished {
			t.Errorf("%s: %d ExecutionStarted events, finished %v", id, started, cp.Finished)
		}
	}
}

func waitFor(t testing.TB, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func portOf(t *testing.T, rawURL string) int {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	var p int
	fmt.Sscan(u.Port(), &p)
	return p
}

var _ = io.Discard

// TestStatusPageExecutions: the console's page of an execution's page lists its children, a
// child's links back to its parent, and an unknown one is 404.
func TestStatusPageExecutions(t *testing.T) {
	rt := start(t, loadConfig(t), t.TempDir(), asl.NewFakeClock(t0), 0)
	id := file(t, rt, "us", "carol")
	wait(t, rt, id)
	reg := mustRegion(t, rt, "us")
	page := func(arn string) (int, string) {
		resp, body := do(t, "GET", rt.EdgeURL()+"/executions/"+url.PathEscape(arn), nil, "")
		return resp.StatusCode, string(body)
	}
	main := ExecutionArn(reg.Engine, reg.Wired.Main, id)
	child := ExecutionArn(reg.Engine, "Lethe-us-AsyncDeletion", id+"-orders")
	code, body := page(main)
	if code != 200 || !strings.Contains(body, url.PathEscape(child)) || !strings.Contains(body, "RecordOutcome") || !strings.Contains(body, "ExecutionSucceeded") {
		t.Errorf("main execution page: %d\n%s", code, body)
	}
	code, body = page(child)
	if code != 200 || !strings.Contains(body, url.PathEscape(main)) || !strings.Contains(body, "WaitForUserDeletion") {
		t.Errorf("child execution page: %d\n%s", code, body)
	}
	for _, arn := range []string{ExecutionArn(reg.Engine, reg.Wired.Main, "er_us_0190b0a0-0000-7000-8000-000000000000"), "arn:aws:states:xx:1:execution:a:b", "%zz"} {
		if code, _ := page(arn); code != 404 {
			t.Errorf("GET /executions/%s = %d, want 404", arn, code)
		}
	}
}

// TestProgressVisibleWhileRunning: while an erasure runs, GET
// /erasures/{id} already shows each subsystem's progress: the sync one
// deleted with its one attempt, the async ones pending with the calls made
// so far and when Lethe looks again (at --speed 1 the demo's async
// subsystems take ten minutes).
func TestProgressVisibleWhileRunning(t *testing.T) {
	cfg := loadConfig(t)
	if err := demo.ApplyFaults(cfg, []string{"eu/orders=neverFinish"}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rt, err := Start(context.Background(), Options{Config: cfg, DataDir: dir, Demo: true, Speed: 1, Log: discard()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	id := file(t, rt, "eu", "alice")
	reg, _ := rt.Region("eu")
	var r erasure.Request
	waitFor(t, func() bool {
		resp, body := do(t, "GET", reg.URL+"/erasures/"+id, nil, "")
		if resp.StatusCode != 200 || json.Unmarshal(body, &r) != nil {
			t.Fatalf("GET = %d %s", resp.StatusCode, body)
		}
		s := statusOf(r)
		orders, _ := r.Subsystem("orders")
		return s["projects"] == erasure.SubsystemDeleted && orders.Attempts >= 2
	}, "projects deleted and orders checked while the request runs")
	if r.Status != erasure.StatusRunning {
		t.Fatalf("request %s; want running", r.Status)
	}
	projects, _ := r.Subsystem("projects")
	orders, _ := r.Subsystem("orders")
	if projects.Attempts != 1 || projects.FinishedAt == nil {
		t.Errorf("projects %+v; want deleted after 1 attempt, with its finish time", projects)
	}
	if orders.Status != erasure.SubsystemPending || orders.FinishedAt != nil {
		t.Errorf("orders %+v; want pending", orders)
	}
	stored, err := reg.Requests.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := stored.Subsystem("orders"); o.NextAttemptAt == nil {
		t.Errorf("orders %+v; want the next check's time", o)
	}
}

// outboxTo returns the subjects of the outbox's messages to a topic of eu.
func outboxTo(rt *Runtime, topic string) []string {
	var out []string
	msgs := rt.Outbox().Recent(100)
	for i := len(msgs) - 1; i >= 0; i-- { // oldest first
		if msgs[i].TopicArn == "arn:aws:sns:eu-west-1:000000000000:"+topic {
			out = append(out, msgs[i].Subject)
		}
	}
	return out
}

// TestOutagesOnLetheLocal: on lethe local with its default one-month
// deadline, a subsystem down for three days is deleted once it is back,
// with exactly one "unavailable" mail to its admins; one down for good
// fails at the deadline minus giveUpBefore, not before, after one
// "unavailable" and one "at risk" mail.
func TestOutagesOnLetheLocal(t *testing.T) {
	t.Run("three days", func(t *testing.T) {
		cfg := loadConfig(t)
		if err := demo.ApplyFaults(cfg, []string{"eu/orders=outage"}); err != nil {
			t.Fatal(err)
		}
		clock := asl.NewFakeClock(t0)
		rt := start(t, cfg, t.TempDir(), clock, 0)
		var once sync.Once
		rt.Farm().OnCall(func(demo.Call) {
			if clock.Now().Sub(t0) >= 72*time.Hour {
				once.Do(func() { go rt.Farm().SetFaults("eu", "orders", config.DemoSubsystem{}) })
			}
		})
		id := file(t, rt, "eu", "alice")
		r := wait(t, rt, id)
		orders, _ := r.Subsystem("orders")
		if r.Status != erasure.StatusCompleted || orders.Status != erasure.SubsystemDeleted || orders.Attempts < 10 {
			t.Fatalf("request %s, orders %+v; want completed, orders deleted after its outage", r.Status, orders)
		}
		if got := outboxTo(rt, "lethe-eu-orders-failures"); len(got) != 1 || !strings.Contains(got[0], "unavailable") {
			t.Errorf("orders' admins got %q; want one unavailable mail", got)
		}
		if got := outboxTo(rt, "lethe-eu-ops"); len(got) != 0 {
			t.Errorf("ops got %q", got)
		}
	})
	t.Run("past the deadline", func(t *testing.T) {
		cfg := loadConfig(t)
		if err := demo.ApplyFaults(cfg, []string{"eu/projects=outage"}); err != nil {
			t.Fatal(err)
		}
		rt := start(t, cfg, t.TempDir(), asl.NewFakeClock(t0), 0)
		id := file(t, rt, "eu", "alice")
		r := wait(t, rt, id)
		projects, _ := r.Subsystem("projects")
		giveUpAt := cfg.Regions[0].Subsystems[0].RetryPolicy().GiveUpAt(r.Deadline)
		if r.Status != erasure.StatusFailed || projects.Status != erasure.SubsystemFailed || projects.FinishedAt == nil ||
			projects.FinishedAt.Before(giveUpAt) || !projects.FinishedAt.Before(r.Deadline) {
			t.Fatalf("request %s, projects %+v; want failed between %s and the deadline %s", r.Status, projects, giveUpAt, r.Deadline)
		}
		got := outboxTo(rt, "lethe-eu-projects-failures")
		if len(got) != 3 || !strings.Contains(got[0], "unavailable") || !strings.Contains(got[1], "at risk") || !strings.Contains(got[2], "failed") {
			t.Errorf("projects' admins got %q; want unavailable, at risk, failed", got)
		}
		if got := outboxTo(rt, "lethe-eu-ops"); len(got) != 1 {
			t.Errorf("ops got %q; want one mail", got)
		}
	})
}

// TestURLsFile: a running runtime says in its data directory which URLs it
// serves, and takes it back when it stops.
func TestURLsFile(t *testing.T) {
	dir := t.TempDir()
	rt, err := Start(context.Background(), Options{Config: loadConfig(t), DataDir: dir, Demo: true, Clock: asl.NewFakeClock(t0), Log: discard()})
	if err != nil {
		t.Fatal(err)
	}
	u, err := ReadURLs(dir)
	if err != nil {
		t.Fatal(err)
	}
	eu, _ := rt.Region("eu")
	us, _ := rt.Region("us")
	if u.Edge != rt.EdgeURL() || u.Regions["eu"] != eu.URL || u.Regions["us"] != us.URL || u.PID != os.Getpid() {
		t.Errorf("urls.json %+v; want edge %s, eu %s, us %s", u, rt.EdgeURL(), eu.URL, us.URL)
	}
	if err := rt.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadURLs(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("urls.json after Close: %v", err)
	}
}

// TestURLsFileCarriesLethesClock: a runtime on its own accelerated clock
// writes its reading, from which the CLI counts down on Lethe's time.
func TestURLsFileCarriesLethesClock(t *testing.T) {
	dir := t.TempDir()
	rt, err := Start(context.Background(), Options{Config: loadConfig(t), DataDir: dir, Demo: true, Speed: 300, Log: discard()})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	u, err := ReadURLs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if u.Clock == nil || u.Clock.Speed != 300 {
		t.Fatalf("clock %+v, want speed 300", u.Clock)
	}
	lethe := rt.Clock().Now()
	if d := u.Now().Sub(lethe); d < -time.Minute || d > time.Minute {
		t.Errorf("urls.json's clock reads %s, the runtime's %s", u.Now(), lethe)
	}
	// A second of wall time is five minutes of Lethe's.
	u.Clock.Wall = u.Clock.Wall.Add(-time.Second)
	if d := u.Now().Sub(lethe); d < 4*time.Minute {
		t.Errorf("a wall second back moved Lethe's clock by %s, want about 5 min", d)
	}
}
