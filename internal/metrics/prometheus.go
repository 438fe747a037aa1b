package metrics

import (
	"context"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// labels are each metric's Prometheus labels: its dimensions.
var labels = map[string][]string{
	ErasuresReceived:   {"region", "source"},
	ErasuresCompleted:  {"region"},
	ErasuresFailed:     {"region"},
	SubsystemOutcomes:  {"region", "subsystem", "outcome"},
	SubsystemAttempts:  {"region", "subsystem"},
	TimeToErasureHours: {"region"},
	UnverifiedWebhooks: {"source"},
	OpenRequests:       {"region"},
	AtRiskRequests:     {"region"},
	OverdueRequests:    {"region"},
	OldestOpenHours:    {"region"},
}

// gauges are the metrics whose data point is the current value.
var gauges = map[string]bool{OpenRequests: true, AtRiskRequests: true, OverdueRequests: true, OldestOpenHours: true}

// Prometheus keeps the metrics for a scrape, under the same names:
// counters for counts, histograms for attempts and hours.
type Prometheus struct {
	reg        *prometheus.Registry
	counters   map[string]*prometheus.CounterVec
	histograms map[string]*prometheus.HistogramVec
	gauges     map[string]*prometheus.GaugeVec
}

// NewPrometheus returns the metrics' registry, with Go's own collectors.
func NewPrometheus() *Prometheus {
	p := &Prometheus{reg: prometheus.NewRegistry(), counters: map[string]*prometheus.CounterVec{}, histograms: map[string]*prometheus.HistogramVec{},
		gauges: map[string]*prometheus.GaugeVec{}}
	for name, ls := range labels {
		switch {
		case gauges[name]:
			p.gauges[name] = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help[name]}, ls)
			p.reg.MustRegister(p.gauges[name])
			continue
		}
		switch name {
		case SubsystemAttempts:
			p.histograms[name] = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name,
				Help: "Calls made to a subsystem for a closed erasure request.", Buckets: []float64{1, 2, 3, 5, 10, 20, 50, 100, 200, 400}}, ls)
		case TimeToErasureHours:
			p.histograms[name] = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name,
				Help: "Hours from receipt to the close of a completed erasure request.", Buckets: []float64{1, 6, 24, 72, 168, 336, 720, 2208}}, ls)
		default:
			p.counters[name] = prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help[name]}, ls)
		}
	}
	for _, c := range p.counters {
		p.reg.MustRegister(c)
	}
	for _, h := range p.histograms {
		p.reg.MustRegister(h)
	}
	return p
}

var help = map[string]string{
	ErasuresReceived:   "Erasure requests filed.",
	ErasuresCompleted:  "Erasure requests closed completed.",
	ErasuresFailed:     "Erasure requests closed failed.",
	SubsystemOutcomes:  "Subsystems' outcomes of closed erasure requests.",
	UnverifiedWebhooks: "Webhook deliveries the edge could not verify.",
	OpenRequests:       "Open erasure requests, at the deadline watch's last run.",
	AtRiskRequests:     "Open erasure requests whose deadline is near, at the deadline watch's last run.",
	OverdueRequests:    "Open erasure requests past their deadline, at the deadline watch's last run.",
	OldestOpenHours:    "Age of the oldest open erasure request in hours, at the deadline watch's last run.",
}

// Record implements Sink.
func (p *Prometheus) Record(_ context.Context, name string, d Dims, value float64) {
	ls := labels[name]
	if ls == nil {
		return
	}
	byName := map[string]string{}
	for _, pair := range d.pairs() {
		byName[pair[0]] = pair[1]
	}
	values := make([]string, len(ls))
	for i, l := range ls {
		values[i] = byName[l]
	}
	if c, ok := p.counters[name]; ok {
		c.WithLabelValues(values...).Add(value)
		return
	}
	if g, ok := p.gauges[name]; ok {
		g.WithLabelValues(values...).Set(value)
		return
	}
	p.histograms[name].WithLabelValues(values...).Observe(value)
}

// Registry is where other collectors (the local engine's) register.
func (p *Prometheus) Registry() *prometheus.Registry { return p.reg }

// Handler serves the text format.
func (p *Prometheus) Handler() http.Handler {
	return promhttp.HandlerFor(p.reg, promhttp.HandlerOpts{})
}

// Point is one series' current value: a counter's total, a gauge's value,
// a histogram's count.
type Point struct {
	Labels map[string]string
	Value  float64
}

// Values reads the series of a metric (of any collector registered, the
// engine's included), for the status page.
func (p *Prometheus) Values(name string) []Point {
	families, err := p.reg.Gather()
	if err != nil {
		return nil
	}
	var out []Point
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			pt := Point{Labels: map[string]string{}}
			for _, l := range m.GetLabel() {
				pt.Labels[l.GetName()] = l.GetValue()
			}
			switch {
			case m.GetCounter() != nil:
				pt.Value = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				pt.Value = m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				pt.Value = float64(m.GetHistogram().GetSampleCount())
			}
			out = append(out, pt)
		}
	}
	return out
}

// Sum adds the values of a metric's series whose labels include match.
func (p *Prometheus) Sum(name string, match map[string]string) float64 {
	total := 0.0
	for _, pt := range p.Values(name) {
		ok := true
		for k, v := range match {
			ok = ok && pt.Labels[k] == v
		}
		if ok {
			total += pt.Value
		}
	}
	return total
}
