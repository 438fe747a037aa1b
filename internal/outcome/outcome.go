// Package outcome is the RecordOutcome task of the Erasure state machine:
// it turns what the Map state produced (one child execution's result or one
// caught failure per subsystem) into the request's per-subsystem report,
// marks every subsystem that produced nothing as failed, and closes the
// request in the requests table with its final status. The report it
// returns is what the execution ends with and what NotifyFailure mails.
package outcome

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/metrics"
	"github.com/lethe-erasure/lethe/internal/progress"
)

// Requests is the part of the requests table RecordOutcome uses.
type Requests interface {
	Get(ctx context.Context, id string) (erasure.Request, error)
	RecordOutcome(ctx context.Context, id string, status erasure.Status, completedAt time.Time, results []erasure.SubsystemResult) (erasure.Request, error)
}

// Recorder is the RecordOutcome task's handler for one region.
type Recorder struct {
	requests   Requests
	subsystems []config.Subsystem
	region     string
	now        func() time.Time
	log        *slog.Logger
	metrics    metrics.Sink
}

// New returns the RecordOutcome handler of a region. The region's
// subsystems are the ones every request must have a result for.
func New(requests Requests, region config.Region, log *slog.Logger) *Recorder {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Recorder{requests: requests, subsystems: region.Subsystems, region: region.Name, now: time.Now, log: log,
		metrics: metrics.EMF{Log: log}}
}

// WithMetrics sets where the recorder counts closed requests (default:
// EMF lines in its log).
func (r *Recorder) WithMetrics(s metrics.Sink) *Recorder {
	r.metrics = s
	return r
}

// count records a request this call closed: its outcome, each
// subsystem's outcome and attempts, and for a completed one the hours
// from receipt.
func (r *Recorder) count(ctx context.Context, req erasure.Request) {
	region := metrics.Dims{Region: r.region}
	switch req.Status {
	case erasure.StatusCompleted:
		metrics.Record(ctx, r.metrics, metrics.ErasuresCompleted, region, 1)
		if req.CompletedAt != nil {
			metrics.Record(ctx, r.metrics, metrics.TimeToErasureHours, region, req.CompletedAt.Sub(req.ReceivedAt).Hours())
		}
	default:
		metrics.Record(ctx, r.metrics, metrics.ErasuresFailed, region, 1)
	}
	for _, s := range req.Subsystems {
		metrics.Record(ctx, r.metrics, metrics.SubsystemOutcomes, metrics.Dims{Region: r.region, Subsystem: s.Name, Outcome: string(s.Status)}, 1)
		metrics.Record(ctx, r.metrics, metrics.SubsystemAttempts, metrics.Dims{Region: r.region, Subsystem: s.Name}, float64(s.Attempts))
	}
}

// DetailNoResult is the detail of a subsystem the Map state produced no
// result for (LoadSubsystems or the Map itself failed).
const DetailNoResult = "no result"

// Handle records the outcome. It is idempotent: once the request is closed
// it returns the stored report unchanged, so a retried task neither fails
// nor rewrites history.
func (r *Recorder) Handle(ctx context.Context, in erasure.RecordOutcomeInput) (erasure.RecordOutcomeOutput, error) {
	if _, err := erasure.ParseID(in.RequestID); err != nil {
		return erasure.RecordOutcomeOutput{}, &InvalidInput{Field: "requestId", Reason: "is not a request id (er_<region>_<uuidv7>)"}
	}
	cur, err := r.requests.Get(ctx, in.RequestID)
	if err != nil {
		return erasure.RecordOutcomeOutput{}, r.storeError(in.RequestID, err)
	}
	if !cur.Status.Open() {
		r.log.Info("outcome already recorded", "requestId", cur.ID, "status", string(cur.Status))
		return report(cur), nil
	}
	completedAt := in.CompletedAt
	if completedAt.IsZero() {
		completedAt = r.now()
	}
	results := r.results(in, cur, completedAt)
	status := erasure.Outcome(results)
	stored, err := r.requests.RecordOutcome(ctx, cur.ID, status, completedAt, results)
	if err != nil {
		return erasure.RecordOutcomeOutput{}, r.storeError(in.RequestID, err)
	}
	failed := 0
	for _, s := range stored.Subsystems {
		if !s.Status.Done() {
			failed++
		}
	}
	if stored.CompletedAt != nil && stored.CompletedAt.Equal(completedAt) {
		r.count(ctx, stored) // this call closed it (not a concurrent one)
	}
	r.log.Info("outcome recorded", "requestId", stored.ID, "execution", erasure.RunName(stored.ID, stored.Run), "status", string(stored.Status),
		"subsystems", len(stored.Subsystems), "failed", failed)
	return report(stored), nil
}

func (r *Recorder) storeError(id string, err error) error {
	if errors.Is(err, erasure.ErrNotFound) {
		return &RequestNotFound{RequestID: id}
	}
	return &erasure.StoreUnavailable{Op: "record the outcome of " + id, Err: err}
}

// report is the execution's output; a failed request's carries the ops
// mail that NotifyFailure publishes.
func report(req erasure.Request) erasure.RecordOutcomeOutput {
	subs := req.Subsystems
	if subs == nil {
		subs = []erasure.SubsystemResult{}
	}
	out := erasure.RecordOutcomeOutput{RequestID: req.ID, Status: req.Status, Deadline: req.Deadline, Subsystems: subs}
	if req.Status == erasure.StatusFailed {
		at := req.Deadline
		if req.CompletedAt != nil {
			at = *req.CompletedAt
		}
		subject, message := progress.OpsFailureMail(req, at)
		out.Mail = &erasure.Mail{Subject: subject, Message: message}
	}
	return out
}

// results builds the report: the region's subsystems in configuration
// order, then any other subsystem the request or the Map named; each with
// its normalised result, or failed with DetailNoResult.
func (r *Recorder) results(in erasure.RecordOutcomeInput, cur erasure.Request, completedAt time.Time) []erasure.SubsystemResult {
	byName := map[string]erasure.SubsystemResult{}
	stored := map[string]erasure.SubsystemResult{}
	var order []string
	add := func(name, mode string) {
		if _, ok := byName[name]; !ok {
			byName[name] = erasure.SubsystemResult{Name: name, Mode: mode, Status: erasure.SubsystemFailed, Detail: DetailNoResult}
			order = append(order, name)
		}
	}
	for _, s := range r.subsystems {
		add(s.Name, string(s.Mode))
	}
	for _, s := range cur.Subsystems {
		add(s.Name, s.Mode)
		stored[s.Name] = s
		// What this run did not touch keeps its progress: settled in an
		// earlier run or by an operator, or failed and not retried.
		if s.Settled() || s.Status == erasure.SubsystemFailed {
			byName[s.Name] = s
			continue
		}
		// Loaded but without a result: failed, its attempts and last error kept.
		res := s
		res.Status, res.Detail, res.NextAttemptAt, res.UnavailableSince, res.Streak = erasure.SubsystemFailed, DetailNoResult, nil, nil, 0
		if res.FinishedAt == nil {
			at := completedAt
			res.FinishedAt = &at
		}
		byName[s.Name] = res
	}
	got := map[string]bool{}
	for i, m := range in.Results {
		name := strings.TrimSpace(m.Name)
		if name == "" {
			r.log.Warn("map result without a subsystem name ignored", "requestId", cur.ID, "index", i)
			continue
		}
		if got[name] {
			r.log.Warn("second map result for a subsystem ignored", "requestId", cur.ID, "subsystem", name)
			continue
		}
		got[name] = true
		add(name, m.Mode)
		if prev, ok := stored[name]; ok && prev.Settled() {
			continue // settled by an operator while this run ran: it stands
		}
		res := normalise(m, byName[name].Mode, completedAt, cur.SubjectID)
		res.Name = name
		if prev, ok := stored[name]; ok {
			// The progress written while it ran counts the calls really made.
			res.Attempts = max(res.Attempts, prev.Attempts)
			res.LastError, res.Alerts = prev.LastError, prev.Alerts
			// The subsystem's callback stays on record (a repeat of it is
			// answered, not refused); the task token is spent.
			res.Callback = prev.Callback
			if res.Status.Done() {
				res.LastError = ""
			}
			// A failure carries no time through the Map: it is when the
			// failure report wrote it, not when the request closed.
			if m.FinishedAt == nil && prev.FinishedAt != nil && prev.Status == res.Status {
				res.FinishedAt = prev.FinishedAt
			}
		}
		byName[name] = res
	}
	out := make([]erasure.SubsystemResult, 0, len(order))
	for _, name := range order {
		out = append(out, byName[name])
	}
	return out
}

// normalise turns one Map result into a subsystem result. A caught failure
// becomes failed with a short human detail; a status other than deleted,
// not_found or failed becomes failed too, since the child execution ended
// without finishing the erasure. The detail never carries the subject id,
// should a subsystem have echoed it into an error message: the report goes
// to execution history and to mail.
func normalise(m erasure.MapResult, mode string, completedAt time.Time, subject string) erasure.SubsystemResult {
	res := m.SubsystemResult
	if res.Mode == "" {
		res.Mode = mode
	}
	if res.Attempts < 0 {
		res.Attempts = 0
	}
	if res.FinishedAt == nil || res.FinishedAt.IsZero() {
		at := completedAt
		res.FinishedAt = &at
	}
	switch {
	case m.Error != nil:
		res.Status = erasure.SubsystemFailed
		res.Detail = describe(m.Error.Error, m.Error.Cause)
		if res.Detail == "" {
			res.Detail = "failed"
		}
	case res.Status.Done():
	case res.Status == erasure.SubsystemFailed:
		if res.Detail == "" {
			res.Detail = "failed"
		}
	default:
		res.Detail = "the deletion ended with status " + quote(string(res.Status))
		res.Status = erasure.SubsystemFailed
	}
	res.Detail = clip(erasure.Redact(tidy(erasure.Redact(res.Detail, subject)), tidy(subject)))
	return res
}
