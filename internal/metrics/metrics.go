// Package metrics is what Lethe's handlers count: erasures received,
// completed and failed, each subsystem's outcome and attempts, the time to
// erasure, and webhooks the edge could not verify. On AWS each is a
// CloudWatch Embedded Metric Format line in the function's log (namespace
// Lethe); under lethe local the same names are also served on /metrics in
// Prometheus' text format.
//
// Dimensions are region, subsystem, source and outcome, and nothing else:
// never a subject, a request id or a tenant (Dims has no field for them).
package metrics

import (
	"context"
	"log/slog"
	"time"
)

// Namespace is the CloudWatch namespace of Lethe's metrics.
const Namespace = "Lethe"

// The metrics, by name.
const (
	// ErasuresReceived counts requests filed (region, source).
	ErasuresReceived = "ErasuresReceived"
	// ErasuresCompleted and ErasuresFailed count requests closed (region).
	ErasuresCompleted = "ErasuresCompleted"
	ErasuresFailed    = "ErasuresFailed"
	// SubsystemOutcomes counts each subsystem's outcome of a closed
	// request (region, subsystem, outcome).
	SubsystemOutcomes = "SubsystemOutcomes"
	// SubsystemAttempts is the calls made to a subsystem for a closed
	// request (region, subsystem).
	SubsystemAttempts = "SubsystemAttempts"
	// TimeToErasureHours is from receipt to close of a completed request
	// (region).
	TimeToErasureHours = "TimeToErasureHours"
	// UnverifiedWebhooks counts deliveries the edge could not verify
	// (source: webhook:<provider>).
	UnverifiedWebhooks = "UnverifiedWebhooks"
)

// Unit is a CloudWatch unit.
type Unit string

// Units of Lethe's metrics.
const (
	Count Unit = "Count"
	Hours Unit = "None" // CloudWatch has no hour unit; the name says it
)

// Units gives each metric's unit; a name not here is not a Lethe metric.
var Units = map[string]Unit{
	ErasuresReceived: Count, ErasuresCompleted: Count, ErasuresFailed: Count,
	SubsystemOutcomes: Count, SubsystemAttempts: Count, TimeToErasureHours: Hours,
	UnverifiedWebhooks: Count,
}

// Dims are a data point's dimensions; empty ones are left out.
type Dims struct {
	Region    string
	Subsystem string
	Source    string
	Outcome   string
}

// pairs are the set dimensions, in a fixed order.
func (d Dims) pairs() [][2]string {
	var out [][2]string
	for _, p := range [][2]string{{"region", d.Region}, {"subsystem", d.Subsystem}, {"source", d.Source}, {"outcome", d.Outcome}} {
		if p[1] != "" {
			out = append(out, p)
		}
	}
	return out
}

// Sink records data points.
type Sink interface {
	Record(ctx context.Context, name string, d Dims, value float64)
}

// Record records on s, which may be nil (metrics off).
func Record(ctx context.Context, s Sink, name string, d Dims, value float64) {
	if s != nil {
		s.Record(ctx, name, d, value)
	}
}

// Tee records on every sink.
type Tee []Sink

// Record implements Sink.
func (t Tee) Record(ctx context.Context, name string, d Dims, value float64) {
	for _, s := range t {
		Record(ctx, s, name, d, value)
	}
}

// EMF writes each data point as one CloudWatch Embedded Metric Format log
// line through Log.
type EMF struct {
	Log *slog.Logger
	// Now stamps the line (default time.Now).
	Now func() time.Time
}

// Record implements Sink.
func (e EMF) Record(ctx context.Context, name string, d Dims, value float64) {
	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	pairs := d.pairs()
	dims := make([]string, len(pairs))
	attrs := []slog.Attr{slog.Any("_aws", map[string]any{
		"Timestamp": now().UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace":  Namespace,
			"Dimensions": [][]string{dims},
			"Metrics":    []any{map[string]string{"Name": name, "Unit": string(Units[name])}},
		}},
	})}
	for i, p := range pairs {
		dims[i] = p[0]
		attrs = append(attrs, slog.String(p[0], p[1]))
	}
	attrs = append(attrs, slog.Float64(name, value))
	e.Log.LogAttrs(ctx, slog.LevelInfo, "metric", attrs...)
}
