package local

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/lethe-erasure/lethe/internal/asl"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/demo"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/metrics"
)

// TestMetricsEndpoint: after erasures run on lethe local, /metrics on the
// status port, parsed with Prometheus' own parser, counts exactly the
// requests filed and their outcomes, by region, source, subsystem and
// outcome.
func TestMetricsEndpoint(t *testing.T) {
	rt := start(t, loadConfig(t), t.TempDir(), asl.NewFakeClock(t0), 0)
	for _, f := range []struct{ region, subject string }{{"eu", "alice"}, {"eu", "bob"}, {"us", "carol"}} {
		if r := wait(t, rt, file(t, rt, f.region, f.subject)); r.Status != erasure.StatusCompleted {
			t.Fatalf("%s in %s: %s", f.subject, f.region, r.Status)
		}
	}
	rt.Farm().SetFaults("eu", "orders", config.DemoSubsystem{Reject: true})
	if r := wait(t, rt, file(t, rt, "eu", "carol")); r.Status != erasure.StatusFailed {
		t.Fatalf("carol in eu with orders refusing: %s", r.Status)
	}

	// The engine counts an execution once it ended, just after.
	var resp *http.Response
	var body []byte
	waitFor(t, func() bool {
		resp, body = do(t, "GET", rt.EdgeURL()+"/metrics", nil, "")
		return strings.Contains(string(body), `Executions{machine="Lethe-eu-Erasure",region="eu",status="FAILED"} 1`)
	}, "the failed execution counted")
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics = %d", resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	value := func(name string, labels map[string]string) float64 {
		t.Helper()
		for _, m := range families[name].GetMetric() {
			match := true
			for _, l := range m.GetLabel() {
				if want, ok := labels[l.GetName()]; ok && want != l.GetValue() {
					match = false
				}
			}
			if match {
				if c := m.GetCounter(); c != nil {
					return c.GetValue()
				}
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
		return 0
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{metrics.ErasuresReceived, map[string]string{"region": "eu", "source": "api"}, 3},
		{metrics.ErasuresReceived, map[string]string{"region": "us", "source": "api"}, 1},
		{metrics.ErasuresCompleted, map[string]string{"region": "eu"}, 2},
		{metrics.ErasuresCompleted, map[string]string{"region": "us"}, 1},
		{metrics.ErasuresFailed, map[string]string{"region": "eu"}, 1},
		{metrics.SubsystemOutcomes, map[string]string{"region": "eu", "subsystem": "orders", "outcome": "failed"}, 1},
		{metrics.SubsystemOutcomes, map[string]string{"region": "eu", "subsystem": "orders", "outcome": "deleted"}, 2},
		{metrics.TimeToErasureHours, map[string]string{"region": "eu"}, 2},
		// The engine's own: the Erasure executions, by how they ended.
		{"Executions", map[string]string{"region": "eu", "machine": "Lethe-eu-Erasure", "status": "SUCCEEDED"}, 2},
		{"Executions", map[string]string{"region": "eu", "machine": "Lethe-eu-Erasure", "status": "FAILED"}, 1},
		// One RecordOutcome invocation per request closed, timed.
		{"TaskSeconds", map[string]string{"region": "eu", "function": "Lethe-eu-record-outcome", "outcome": "ok"}, 3},
	} {
		if got := value(c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	for _, subject := range []string{"alice", "bob", "carol"} {
		if strings.Contains(string(body), subject) {
			t.Errorf("/metrics names %s", subject)
		}
	}
}

// TestDeadlineWatchOnLetheLocal: a request an async subsystem never
// finishes becomes at risk a week before its deadline; the region's
// deadline watch mails the ops topic (the outbox) once, naming the request
// and never the subject, and /metrics shows it at risk.
func TestDeadlineWatchOnLetheLocal(t *testing.T) {
	cfg := loadConfig(t)
	if err := demo.ApplyFaults(cfg, []string{"eu/orders=neverFinish"}); err != nil {
		t.Fatal(err)
	}
	clock := asl.NewFakeClock(t0)
	rt := start(t, cfg, t.TempDir(), clock, 0)
	reg, _ := rt.Region("eu")
	id := file(t, rt, "eu", "alice")
	waitFor(t, func() bool { r := get(t, rt, id); return r.Status == erasure.StatusRunning }, "the request running")
	r := get(t, rt, id)
	clock.Advance(r.Deadline.Sub(clock.Now()) - 6*24*time.Hour)
	for range 2 {
		sum, err := reg.Watch.Run(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if sum.AtRisk != 1 || sum.Open != 1 {
			t.Fatalf("watch %+v, want the one request at risk", sum)
		}
	}
	var digests []string
	for _, body := range outboxBodies(rt, "lethe-eu-ops") {
		if strings.Contains(body, "deadline watch") {
			digests = append(digests, body)
		}
	}
	if len(digests) != 1 || !strings.Contains(digests[0], id) || strings.Contains(digests[0], "alice") {
		t.Errorf("ops digests %q, want one naming %s", digests, id)
	}
	_, body := do(t, "GET", rt.EdgeURL()+"/metrics", nil, "")
	if !strings.Contains(string(body), `AtRiskRequests{region="eu"} 1`) {
		t.Errorf("/metrics lacks the request at risk:\n%s", body)
	}
	// The console's Health page shows the alarm the stack would fire.
	_, page := do(t, "GET", rt.EdgeURL()+"/health", nil, "")
	if !strings.Contains(string(page), `requests/at-risk</td><td><span class="chip s-failed">ALARM`) || !strings.Contains(string(page), `requests/overdue</td><td><span class="chip s-completed">OK`) {
		t.Errorf("the Health panel does not show requests/at-risk firing:\n%s", page)
	}
}
