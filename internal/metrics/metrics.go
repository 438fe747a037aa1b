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
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
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
	// The deadline watch's gauges (region): open requests, those at risk
	// (deadline within deadline.atRiskBeforeHours), those overdue, and the
	// oldest open request's age in hours.
	OpenRequests    = "OpenRequests"
	AtRiskRequests  = "AtRiskRequests"
	OverdueRequests = "OverdueRequests"
	OldestOpenHours = "OldestOpenHours"
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
	OpenRequests:       Count, AtRiskRequests: Count, OverdueRequests: Count, OldestOpenHours: Hours,
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
	attrs := make([]slog.Attr, 0, len(pairs)+2)
	keys := make([]string, len(pairs))
	for i, p := range pairs {
		keys[i] = `"` + p[0] + `"`
	}
	// The directive is built as text (names and keys are Lethe's own
	// constants, no escaping needed): a map through encoding/json cost as
	// much as the rest of an intake.
	directive := `{"Timestamp":` + strconv.FormatInt(now().UnixMilli(), 10) +
		`,"CloudWatchMetrics":[{"Namespace":"` + Namespace + `","Dimensions":[[` + strings.Join(keys, ",") + `]],` +
		`"Metrics":[{"Name":"` + name + `","Unit":"` + string(Units[name]) + `"}]}]}`
	attrs = append(attrs, slog.Any("_aws", json.RawMessage(directive)))
	for _, p := range pairs {
		attrs = append(attrs, slog.String(p[0], p[1]))
	}
	attrs = append(attrs, slog.Float64(name, value))
	e.Log.LogAttrs(ctx, slog.LevelInfo, "metric", attrs...)
}
