// Package watch is the deadline watch: a scheduled task (hourly on AWS,
// on Lethe's clock under lethe local) that counts a region's open, at-risk
// and overdue erasure requests and the age of the oldest one, publishes
// them as metrics, and mails the region's ops topic a digest of the
// requests that became at risk or overdue: once per request per state,
// not every hour.
package watch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/lethe-erasure/lethe/internal/audit"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/metrics"
)

// Requests is the part of the requests table the watch reads and marks.
type Requests interface {
	OpenRequests(ctx context.Context) ([]erasure.Request, error)
	// HeldRequests lists the failed requests that still hold their subject
	// and whose deadline passed before the cutoff.
	HeldRequests(ctx context.Context, deadlineBefore time.Time) ([]erasure.Request, error)
	Change(ctx context.Context, id string, fn func(*erasure.Request) ([]audit.Record, error)) (erasure.Request, error)
}

// Mailer publishes the digest to the ops topic.
type Mailer interface {
	Publish(ctx context.Context, topicArn, subject, message string) error
}

// Watch watches one region.
type Watch struct {
	requests Requests
	mail     Mailer
	opsTopic string
	region   string
	deadline config.Deadline
	metrics  metrics.Sink
	now      func() time.Time
	log      *slog.Logger
}

// New returns the watch of a region; now is Lethe's clock.
func New(requests Requests, mail Mailer, opsTopic string, cfg *config.Config, region string, sink metrics.Sink, now func() time.Time, log *slog.Logger) *Watch {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if sink == nil {
		sink = metrics.EMF{Log: log, Now: now}
	}
	return &Watch{requests: requests, mail: mail, opsTopic: opsTopic, region: region, deadline: cfg.Deadline, metrics: sink, now: now, log: log}
}

// Summary is what one run found.
type Summary struct {
	Open            int     `json:"open"`
	AtRisk          int     `json:"atRisk"`
	Overdue         int     `json:"overdue"`
	OldestOpenHours float64 `json:"oldestOpenHours"`
	// Mailed lists the requests the digest told of.
	Mailed []string `json:"mailed"`
	// Forgotten lists the failed requests whose subject the run forgot.
	Forgotten []string `json:"forgotten,omitempty"`
}

// Actor is who the watch's audit records name.
const Actor = "lethe:deadline-watch"

// forget drops the subject of every failed request that nobody settled
// within forgetFailedAfterDays of its deadline. Its audit record names the
// subsystems that never erased, which the suppression list keeps too.
func (w *Watch) forget(ctx context.Context, now time.Time) ([]string, error) {
	held, err := w.requests.HeldRequests(ctx, now.Add(-w.deadline.ForgetFailedAfter()))
	if err != nil {
		return nil, err
	}
	var done []string
	for _, r := range held {
		_, err := w.requests.Change(ctx, r.ID, func(cur *erasure.Request) ([]audit.Record, error) {
			if cur.Status != erasure.StatusFailed || cur.ForgottenAt != nil {
				return nil, erasure.ErrUnchanged
			}
			cur.Forget(now)
			rec, err := audit.New(cur.ID, now, Actor, audit.ActionForgotten,
				map[string]string{"failed": strings.Join(erasure.NewErased(*cur).Failed, ",")})
			if err != nil {
				return nil, err
			}
			return []audit.Record{rec}, nil
		})
		if err != nil && !errors.Is(err, erasure.ErrNotFound) {
			w.log.WarnContext(ctx, "failed request not forgotten", "requestId", r.ID, "error", err.Error())
			continue
		}
		done = append(done, r.ID)
	}
	return done, nil
}

// Handle is the scheduled invocation (its input, the schedule's, is not
// read).
func (w *Watch) Handle(ctx context.Context, _ json.RawMessage) (Summary, error) {
	return w.Run(ctx)
}

// state is the watch's state of an open request now.
func (w *Watch) state(r erasure.Request, now time.Time) string {
	switch {
	case !now.Before(r.Deadline):
		return erasure.WatchOverdue
	case w.deadline.AtRisk(r.Deadline, now):
		return erasure.WatchAtRisk
	}
	return ""
}

// Run counts, publishes the metrics and mails the digest of the requests
// whose state changed since the last mail. A request is marked only once
// the digest went out, so a digest that could not be sent is sent again
// at the next run.
func (w *Watch) Run(ctx context.Context) (Summary, error) {
	now := w.now().UTC()
	open, err := w.requests.OpenRequests(ctx)
	if err != nil {
		return Summary{}, fmt.Errorf("deadline watch: %w", err)
	}
	var sum Summary
	if sum.Forgotten, err = w.forget(ctx, now); err != nil {
		return Summary{}, fmt.Errorf("deadline watch: %w", err)
	}
	var news []erasure.Request
	for _, r := range open {
		sum.Open++
		sum.OldestOpenHours = max(sum.OldestOpenHours, now.Sub(r.ReceivedAt).Hours())
		st := w.state(r, now)
		switch st {
		case erasure.WatchOverdue:
			sum.Overdue++
		case erasure.WatchAtRisk:
			sum.AtRisk++
		}
		if st != "" && st != r.Watch {
			news = append(news, r)
		}
	}
	dims := metrics.Dims{Region: w.region}
	metrics.Record(ctx, w.metrics, metrics.OpenRequests, dims, float64(sum.Open))
	metrics.Record(ctx, w.metrics, metrics.AtRiskRequests, dims, float64(sum.AtRisk))
	metrics.Record(ctx, w.metrics, metrics.OverdueRequests, dims, float64(sum.Overdue))
	metrics.Record(ctx, w.metrics, metrics.OldestOpenHours, dims, sum.OldestOpenHours)
	if len(news) == 0 {
		return sum, nil
	}
	subject, body := Digest(w.region, news, now, w.state)
	if err := w.mail.Publish(ctx, w.opsTopic, subject, body); err != nil {
		return sum, fmt.Errorf("deadline watch: publish the digest: %w", err)
	}
	for _, r := range news {
		st := w.state(r, now)
		_, err := w.requests.Change(ctx, r.ID, func(cur *erasure.Request) ([]audit.Record, error) {
			if !cur.Status.Open() || cur.Watch == st {
				return nil, erasure.ErrUnchanged
			}
			cur.Watch = st
			return nil, nil
		})
		if err != nil && !errors.Is(err, erasure.ErrNotFound) {
			// Told again at the next run: a second mail, never none.
			w.log.WarnContext(ctx, "deadline watch state not recorded", "requestId", r.ID, "error", err.Error())
			continue
		}
		sum.Mailed = append(sum.Mailed, r.ID)
	}
	w.log.InfoContext(ctx, "deadline watch", "region", w.region, "open", sum.Open, "atRisk", sum.AtRisk,
		"overdue", sum.Overdue, "mailed", len(sum.Mailed))
	return sum, nil
}

// Digest is the ops mail of requests that became at risk or overdue: one
// line per request (id, deadline, the subsystems still open), never a
// subject id.
func Digest(region string, reqs []erasure.Request, now time.Time, state func(erasure.Request, time.Time) string) (subject, body string) {
	var overdue, atRisk int
	var b strings.Builder
	for _, r := range reqs {
		if state(r, now) == erasure.WatchOverdue {
			overdue++
		} else {
			atRisk++
		}
	}
	fmt.Fprintf(&b, "Lethe's deadline watch of region %s, %s:\n", region, now.Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "%d erasure request(s) newly overdue, %d newly at risk.\n\n", overdue, atRisk)
	for _, r := range reqs {
		var pending []string
		for _, s := range r.Subsystems {
			if !s.Settled() {
				pending = append(pending, s.Name+" ("+string(s.Status)+")")
			}
		}
		if len(pending) == 0 {
			pending = []string{"none listed yet"}
		}
		label := "at risk"
		if state(r, now) == erasure.WatchOverdue {
			label = "OVERDUE"
		}
		fmt.Fprintf(&b, "  %s  %-8s deadline %s  open: %s\n", r.ID, label, r.Deadline.UTC().Format("2006-01-02 15:04 UTC"), strings.Join(pending, ", "))
	}
	b.WriteString("\nLook one up: lethe status <request id>. Settle it: lethe retry, lethe attest, or (within the first month) lethe extend.\n")
	b.WriteString("This mail names requests, never people.\n")
	return fmt.Sprintf("Lethe %s: %d overdue, %d at risk (deadline watch)", region, overdue, atRisk), b.String()
}
