package metrics

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestEMFLine: each data point is one JSON line in CloudWatch's Embedded
// Metric Format: the _aws directive names the namespace, the dimensions
// (only Lethe's four) and the metric with its unit, and the line carries
// each dimension's value and the metric's value at the top level.
func TestEMFLine(t *testing.T) {
	var buf bytes.Buffer
	e := EMF{Log: slog.New(slog.NewJSONHandler(&buf, nil)), Now: func() time.Time { return time.UnixMilli(1796000000000) }}
	e.Record(t.Context(), SubsystemOutcomes, Dims{Region: "eu", Subsystem: "orders", Outcome: "deleted"}, 1)
	e.Record(t.Context(), TimeToErasureHours, Dims{Region: "eu"}, 2.5)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	var v struct {
		AWS struct {
			Timestamp         int64
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
		Region, Subsystem, Outcome string
		SubsystemOutcomes          float64
	}
	if err := json.Unmarshal([]byte(lines[0]), &v); err != nil {
		t.Fatal(err)
	}
	d := v.AWS.CloudWatchMetrics
	if v.AWS.Timestamp != 1796000000000 || len(d) != 1 || d[0].Namespace != "Lethe" ||
		!slices.Equal(d[0].Dimensions[0], []string{"region", "subsystem", "outcome"}) ||
		d[0].Metrics[0].Name != SubsystemOutcomes || d[0].Metrics[0].Unit != "Count" ||
		v.Region != "eu" || v.Subsystem != "orders" || v.Outcome != "deleted" || v.SubsystemOutcomes != 1 {
		t.Errorf("EMF line %s", lines[0])
	}
	for _, l := range lines {
		var m map[string]any
		_ = json.Unmarshal([]byte(l), &m)
		for _, dims := range m["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)["Dimensions"].([]any) {
			for _, k := range dims.([]any) {
				if !slices.Contains([]string{"region", "subsystem", "source", "outcome"}, k.(string)) {
					t.Errorf("forbidden dimension %v in %s", k, l)
				}
			}
		}
	}
}

// TestPrometheus: the same names and dimensions, scraped in the text
// format, parse back with Prometheus' own parser.
func TestPrometheus(t *testing.T) {
	p := NewPrometheus()
	s := Tee{p, nil}
	for range 3 {
		s.Record(t.Context(), ErasuresReceived, Dims{Region: "eu", Source: "api"}, 1)
	}
	s.Record(t.Context(), ErasuresCompleted, Dims{Region: "eu"}, 1)
	s.Record(t.Context(), SubsystemAttempts, Dims{Region: "eu", Subsystem: "orders"}, 7)
	s.Record(t.Context(), "NotLethes", Dims{Region: "eu"}, 1)
	w := httptest.NewRecorder()
	p.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(w.Body.String()))
	if err != nil {
		t.Fatal(err)
	}
	got := families[ErasuresReceived].GetMetric()
	if len(got) != 1 || got[0].GetCounter().GetValue() != 3 || got[0].GetLabel()[0].GetValue() != "eu" {
		t.Errorf("ErasuresReceived = %v", got)
	}
	if h := families[SubsystemAttempts].GetMetric()[0].GetHistogram(); h.GetSampleCount() != 1 || h.GetSampleSum() != 7 {
		t.Errorf("SubsystemAttempts = %v", h)
	}
	if _, ok := families["NotLethes"]; ok {
		t.Error("a name that is not Lethe's was kept")
	}
}

// BenchmarkScrape is one scrape of /metrics after 10,000 erasure requests
// were filed and closed in two regions (three subsystems each).
func BenchmarkScrape(b *testing.B) {
	p := NewPrometheus()
	ctx := b.Context()
	for i := range 10000 {
		region := []string{"eu", "us"}[i%2]
		p.Record(ctx, ErasuresReceived, Dims{Region: region, Source: "api"}, 1)
		p.Record(ctx, ErasuresCompleted, Dims{Region: region}, 1)
		p.Record(ctx, TimeToErasureHours, Dims{Region: region}, float64(i%500))
		for _, s := range []string{"projects", "orders", "customers"} {
			p.Record(ctx, SubsystemOutcomes, Dims{Region: region, Subsystem: s, Outcome: "deleted"}, 1)
			p.Record(ctx, SubsystemAttempts, Dims{Region: region, Subsystem: s}, float64(1+i%7))
		}
	}
	h := p.Handler()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}

// BenchmarkEMF is one EMF line (to io.Discard).
func BenchmarkEMF(b *testing.B) {
	e := EMF{Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	ctx := b.Context()
	b.ReportAllocs()
	for range b.N {
		e.Record(ctx, SubsystemOutcomes, Dims{Region: "eu", Subsystem: "orders", Outcome: "deleted"}, 1)
	}
}
