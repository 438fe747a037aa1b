package local

import (
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/lethe-erasure/lethe/internal/asl"
	"github.com/lethe-erasure/lethe/internal/config"
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

	resp, body := do(t, "GET", rt.EdgeURL()+"/metrics", nil, "")
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
