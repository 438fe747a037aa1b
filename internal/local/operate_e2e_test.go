package local

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lethe-erasure/lethe/internal/asl"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/demo"
	"github.com/lethe-erasure/lethe/internal/erasure"
)

// The tests below use lethe local as an operator would after a failure
// mail: over HTTP, as the operator named by X-Lethe-Operator.

var (
	operatorHeader = http.Header{OperatorHeader: {"dpo"}}
	operatorJSON   = http.Header{OperatorHeader: {"dpo"}, "Content-Type": {"application/json"}}
)

// outboxBodies is the bodies of the messages to topic, oldest first.
func outboxBodies(rt *Runtime, topic string) []string {
	var out []string
	msgs := rt.Outbox().Recent(100)
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].TopicArn == "arn:aws:sns:eu-west-1:000000000000:"+topic {
			out = append(out, msgs[i].Message)
		}
	}
	return out
}

// callsTo counts the demo calls to each subsystem.
type callsTo struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *callsTo) record(x demo.Call) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[x.Subsystem]++
}

func (c *callsTo) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.n {
		out[k] = v
	}
	return out
}

// auditActions lists the actions and actors of a request's audit records.
func auditActions(t *testing.T, reg *Region, id string) []string {
	t.Helper()
	resp, body := do(t, "GET", reg.URL+"/audit?requestId="+id, operatorHeader, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /audit = %d %s", resp.StatusCode, body)
	}
	var v struct {
		Records []struct{ Action, Actor string }
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range v.Records {
		out = append(out, r.Action+" by "+r.Actor)
	}
	return out
}

// TestRetryAfterARefusal: a subsystem that refuses (403) fails at once and
// its admins get a plain-text mail naming the command to run; once it is
// fixed, `POST /erasures/{id}/retry` runs only that subsystem again, in
// execution <id>-r1, and the request completes; the retry is audited.
func TestRetryAfterARefusal(t *testing.T) {
	cfg := loadConfig(t)
	if err := demo.ApplyFaults(cfg, []string{"eu/projects=reject"}); err != nil {
		t.Fatal(err)
	}
	rt := start(t, cfg, t.TempDir(), asl.NewFakeClock(t0), 0)
	calls := &callsTo{n: map[string]int{}}
	rt.Farm().OnCall(calls.record)
	reg, _ := rt.Region("eu")
	id := file(t, rt, "eu", "alice")
	r := wait(t, rt, id)
	if r.Status != erasure.StatusFailed || statusOf(r)["projects"] != erasure.SubsystemFailed || statusOf(r)["orders"] != erasure.SubsystemDeleted {
		t.Fatalf("request %s %v; want failed in projects only", r.Status, statusOf(r))
	}
	mails := outboxBodies(rt, "lethe-eu-projects-failures")
	if len(mails) != 1 {
		t.Fatalf("projects' admins got %d mails, want 1", len(mails))
	}
	for _, want := range []string{"Lethe could not erase a person's data in subsystem projects: ", "403", "lethe retry " + id + " --subsystem projects"} {
		if !strings.Contains(mails[0], want) {
			t.Errorf("the failure mail lacks %q:\n%s", want, mails[0])
		}
	}
	if strings.Contains(mails[0], "alice") || strings.HasPrefix(strings.TrimSpace(mails[0]), "{") {
		t.Errorf("the failure mail names the subject or is JSON:\n%s", mails[0])
	}

	before := calls.snapshot()
	rt.Farm().SetFaults("eu", "projects", config.DemoSubsystem{})
	resp, body := do(t, "POST", reg.URL+"/erasures/"+id+"/retry", operatorJSON, `{}`)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("retry = %d %s", resp.StatusCode, body)
	}
	r = wait(t, rt, id)
	after := calls.snapshot()
	if r.Status != erasure.StatusCompleted || r.Run != 1 || statusOf(r)["projects"] != erasure.SubsystemDeleted {
		t.Fatalf("after the retry: %s in run %d %v; want completed in run 1", r.Status, r.Run, statusOf(r))
	}
	if after["orders"] != before["orders"] || after["customers"] != before["customers"] || after["projects"] != before["projects"]+1 {
		t.Errorf("calls before the retry %v, after %v: the retry must call projects once and nothing else", before, after)
	}
	if _, ok := reg.Engine.Execution(ExecutionArn(reg.Engine, reg.Wired.Main, id+"-r1")); !ok {
		t.Errorf("no execution %s-r1", id)
	}
	// The retry's execution completed the request and signed its
	// certificate.
	var got []string
	waitFor(t, func() bool { got = auditActions(t, reg, id); return len(got) >= 2 }, "the certificate's audit record")
	if len(got) != 2 || got[0] != "retry by local:dpo" || got[1] != "certificate_issued by lethe:certify" {
		t.Errorf("audit %v, want the retry by local:dpo, then the certificate's issuance", got)
	}
}

// TestAttestationAndExtension: an operator extends a failed request's
// deadline (the notice goes to the subject-notices topic), reads the
// subject (recorded, not cached) to erase by hand, and attests it; the
// request closes completed with the attestation on the subsystem.
func TestAttestationAndExtension(t *testing.T) {
	cfg := loadConfig(t)
	if err := demo.ApplyFaults(cfg, []string{"eu/orders=reject"}); err != nil {
		t.Fatal(err)
	}
	rt := start(t, cfg, t.TempDir(), asl.NewFakeClock(t0), 0)
	reg, _ := rt.Region("eu")
	id := file(t, rt, "eu", "bob")
	r := wait(t, rt, id)
	if r.Status != erasure.StatusFailed {
		t.Fatalf("request %s, want failed", r.Status)
	}

	resp, body := do(t, "POST", reg.URL+"/erasures/"+id+"/extension", operatorJSON, `{"months":1,"reason":"the orders archive is restored from tape"}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("extension = %d %s", resp.StatusCode, body)
	}
	var ext erasure.Request
	if err := json.Unmarshal(body, &ext); err != nil {
		t.Fatal(err)
	}
	if !ext.Deadline.Equal(r.Deadline.AddDate(0, 1, 0)) {
		t.Errorf("deadline %s after a one-month extension of %s", ext.Deadline, r.Deadline)
	}
	notices := outboxBodies(rt, NoticesTopicName("eu"))
	if len(notices) != 1 || !strings.Contains(notices[0], id) || !strings.Contains(notices[0], "restored from tape") || strings.Contains(notices[0], "bob") {
		t.Errorf("notices %q; want one naming the request and the reason, not the subject", notices)
	}

	// Two months in total at most, and only within the first month.
	resp, body = do(t, "POST", reg.URL+"/erasures/"+id+"/extension", operatorJSON, `{"months":2,"reason":"more time"}`)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(body), `"field":"months"`) || !strings.Contains(string(body), "two months in total") {
		t.Errorf("a third month = %d %s, want 422 naming months", resp.StatusCode, body)
	}
	rt.Clock().(*asl.FakeClock).Advance(32 * 24 * time.Hour)
	resp, body = do(t, "POST", reg.URL+"/erasures/"+id+"/extension", operatorJSON, `{"months":1,"reason":"still more time"}`)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(body), "within one month of receipt") {
		t.Errorf("an extension after the first month = %d %s, want 422", resp.StatusCode, body)
	}
	if got := outboxBodies(rt, NoticesTopicName("eu")); len(got) != 1 {
		t.Errorf("%d notices after refused extensions, want 1", len(got))
	}

	resp, body = do(t, "GET", reg.URL+"/erasures/"+id+"/subject", operatorHeader, "")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("subject = %d (Cache-Control %q) %s", resp.StatusCode, resp.Header.Get("Cache-Control"), body)
	}
	var sv struct{ SubjectID string }
	if json.Unmarshal(body, &sv); sv.SubjectID != "bob" {
		t.Errorf("subject %q, want bob", sv.SubjectID)
	}

	resp, body = do(t, "POST", reg.URL+"/erasures/"+id+"/subsystems/orders/attestation", operatorJSON,
		`{"outcome":"deleted","note":"erased by hand in the orders database, ticket OPS-1234"}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("attestation = %d %s", resp.StatusCode, body)
	}
	var done erasure.Request
	if err := json.Unmarshal(body, &done); err != nil {
		t.Fatal(err)
	}
	orders, _ := done.Subsystem("orders")
	if done.Status != erasure.StatusCompleted || orders.Status != erasure.SubsystemDeleted || orders.Attestation == nil ||
		orders.Attestation.By != "local:dpo" || !strings.Contains(orders.Attestation.Note, "OPS-1234") {
		t.Errorf("after the attestation: %s, orders %+v", done.Status, orders)
	}
	// The attestation that completes the request has the certificate issued
	// asynchronously: its record follows the operator's three.
	want := []string{"extension by local:dpo", "subject_read by local:dpo", "attestation by local:dpo", "certificate_issued by lethe:certify"}
	var got []string
	waitFor(t, func() bool { got = auditActions(t, reg, id); return len(got) >= len(want) }, "the certificate's audit record")
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("audit %v, want %v", got, want)
	}
	// Closed, the request's subject can no longer be read.
	if resp, _ := do(t, "GET", reg.URL+"/erasures/"+id+"/subject", operatorHeader, ""); resp.StatusCode < 400 || resp.StatusCode >= 500 {
		t.Errorf("subject of a completed request = %d, want a refusal", resp.StatusCode)
	}
}

// TestNoSubjectInAnyLogLine runs erasures through every path (completed,
// refused, retried, read and attested by an operator) on a runtime whose
// every function logs JSON at debug level, and scans every line for the
// subject ids used: none may appear.
func TestNoSubjectInAnyLogLine(t *testing.T) {
	cfg := loadConfig(t)
	var logs logBuffer
	rt, err := Start(t.Context(), Options{Config: cfg, DataDir: t.TempDir(), Demo: true, Clock: asl.NewFakeClock(t0),
		Log: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	reg, _ := rt.Region("eu")
	wait(t, rt, file(t, rt, "eu", "alice"))
	wait(t, rt, file(t, rt, "us", "carol"))
	rt.Farm().SetFaults("eu", "orders", config.DemoSubsystem{Reject: true})
	id := file(t, rt, "eu", "bob")
	wait(t, rt, id)
	rt.Farm().SetFaults("eu", "orders", config.DemoSubsystem{})
	do(t, "GET", reg.URL+"/erasures/"+id+"/subject", operatorHeader, "")
	do(t, "POST", reg.URL+"/erasures/"+id+"/retry", operatorJSON, `{}`)
	wait(t, rt, id)
	lines := strings.Split(logs.String(), "\n")
	if len(lines) < 20 {
		t.Fatalf("only %d log lines: the scan would prove little", len(lines))
	}
	for _, l := range lines {
		for _, subject := range []string{"alice", "bob", "carol"} {
			if strings.Contains(l, subject) {
				t.Errorf("a log line names %s: %s", subject, l)
			}
		}
	}
}
