// Package progress writes each subsystem's progress on its erasure request
// while the request runs — every call made, its answer, the back-off while
// the subsystem is unavailable — and decides, from the request's current
// deadline, how long to wait before the next call and when to give up. It
// sends the subsystem's admins the two escalation mails, each at most once
// per request and subsystem: when the subsystem has been unavailable for
// its alertAfter, and when the request becomes at risk.
//
// The connectors, LoadSubsystems, the failure report and RecordOutcome all
// write through it, so the API, `lethe status --watch` and the console show
// progress before the request closes.
package progress

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/lethe-erasure/lethe/internal/audit"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
)

// Requests is the part of the requests table progress writes through:
// a conditional read-change-write (internal/store/dynamo and embedded).
type Requests interface {
	Change(ctx context.Context, id string, fn func(*erasure.Request) ([]audit.Record, error)) (erasure.Request, error)
}

// Mailer publishes a plain-text mail to an SNS topic (a subsystem's admins).
type Mailer interface {
	Publish(ctx context.Context, topicArn, subject, message string) error
}

// Answer is what one step of a subsystem's erasure came to.
type Answer string

// Answers a connector records.
const (
	// Done: the subsystem deleted the data or held none (Status says which).
	Done Answer = "done"
	// Accepted: an async subsystem took the erasure (the first check
	// follows at once).
	Accepted Answer = "accepted"
	// Pending: an async subsystem is still at it.
	Pending Answer = "pending"
	// Unavailable: 429, 5xx, a timeout or a refused connection; Lethe
	// persists with the subsystem's retry policy.
	Unavailable Answer = "unavailable"
	// Refused: a permanent answer (another 4xx, a broken contract); the
	// machine fails the subsystem.
	Refused Answer = "refused"
	// Failed: the subsystem's erasure ended failed.
	Failed Answer = "failed"
)

// Step is one recorded step.
type Step struct {
	// Called is set when a call reached out to the subsystem (it counts as
	// an attempt), unset when none was made (e.g. no token).
	Called bool
	Answer Answer
	// Status is deleted or not_found for Done.
	Status erasure.SubsystemStatus
	Detail string
	// Error is the failed call's error (never a subject id).
	Error string
	// PollCount is the number of status checks before this one (Pending).
	PollCount int
}

// Decision is what the state machine does next.
type Decision struct {
	// Attempts is how many calls Lethe made to the subsystem for the
	// request so far.
	Attempts int
	// WaitSeconds is how long to wait before the next call.
	WaitSeconds int
	// GiveUp is set once an unavailable subsystem reached its give-up
	// point (deadline minus giveUpBefore).
	GiveUp bool
	// PastDeadline is set once a pending async erasure's deadline passed.
	PastDeadline bool
	// Deadline is the request's current deadline (it may have been
	// extended since the execution started).
	Deadline time.Time
	// Attested is the outcome an operator attested for the subsystem while
	// Lethe was still at it (deleted or not_found): the loop ends there.
	Attested erasure.SubsystemStatus
	// Execution is the name of the request's current execution
	// (erasure.RunName), for log lines.
	Execution string
}

// Tracker records steps for one region.
type Tracker struct {
	requests Requests
	mail     Mailer
	region   config.Region
	deadline config.Deadline
	log      *slog.Logger
}

// New returns the tracker of a region. mail may be nil where no step can
// escalate (LoadSubsystems, RecordOutcome).
func New(requests Requests, mail Mailer, cfg *config.Config, region config.Region, log *slog.Logger) *Tracker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Tracker{requests: requests, mail: mail, region: region, deadline: cfg.Deadline, log: log}
}

// StoreUnavailable wraps a failed write of progress as the error the
// state machines retry.
func storeError(id string, err error) error {
	if errors.Is(err, erasure.ErrNotFound) {
		return fmt.Errorf("record progress of %s: %w", id, err)
	}
	var se *erasure.StoreUnavailable
	if errors.As(err, &se) {
		return err
	}
	return &erasure.StoreUnavailable{Op: "record progress of " + id, Err: err}
}

// retryPolicy is the subsystem's retry policy, defaults filled.
func (t *Tracker) retryPolicy(name string) config.RetryPolicy {
	s, _ := t.region.Subsystem(name)
	return s.RetryPolicy()
}

// Record writes one step of a subsystem's erasure on the request and
// decides what comes next. A closed request is left as it is. Escalation
// mails due at this step are sent after the write, each once.
func (t *Tracker) Record(ctx context.Context, id string, target erasure.Target, s Step, now time.Time) (Decision, error) {
	var d Decision
	var due []string
	retry := t.retryPolicy(target.Name)
	req, err := t.requests.Change(ctx, id, func(r *erasure.Request) ([]audit.Record, error) {
		d, due = Decision{Deadline: r.Deadline, Execution: erasure.RunName(r.ID, r.Run)}, nil
		i := entry(r, target.Name, string(target.Mode))
		sub := &r.Subsystems[i]
		if s.Called {
			sub.Attempts++
		}
		d.Attempts = sub.Attempts
		if sub.Attestation != nil && sub.Settled() {
			// An operator settled it by hand meanwhile: that stands.
			d.Attested = sub.Status
			return nil, nil
		}
		if s.Answer == Accepted || s.Answer == Pending || s.Answer == Unavailable {
			// Still at it, in this run: a failure of an earlier run is over.
			sub.Status, sub.FinishedAt = erasure.SubsystemPending, nil
		}
		switch s.Answer {
		case Done:
			sub.Status, sub.Detail, sub.FinishedAt = s.Status, s.Detail, &now
			sub.LastError, sub.UnavailableSince, sub.Streak, sub.NextAttemptAt = "", nil, 0, nil
		case Accepted:
			sub.Status, sub.Detail = erasure.SubsystemPending, s.Detail
			sub.LastError, sub.UnavailableSince, sub.Streak, sub.NextAttemptAt = "", nil, 0, nil
		case Pending:
			sub.Status, sub.Detail = erasure.SubsystemPending, s.Detail
			sub.LastError, sub.UnavailableSince, sub.Streak = "", nil, 0
			policy := config.PollPolicy{}
			if target.Poll != nil {
				policy = *target.Poll
			}
			d.PastDeadline = !now.Before(r.Deadline)
			if !d.PastDeadline {
				d.WaitSeconds = policy.NextPollSeconds(s.PollCount, now, r.Deadline)
				next := now.Add(time.Duration(d.WaitSeconds) * time.Second)
				sub.NextAttemptAt = &next
			}
		case Unavailable:
			sub.LastError = s.Error
			if sub.UnavailableSince == nil {
				sub.UnavailableSince = &now
			}
			sub.Streak++
			giveUpAt := retry.GiveUpAt(r.Deadline)
			d.GiveUp = !now.Before(giveUpAt)
			sub.NextAttemptAt = nil
			if !d.GiveUp {
				d.WaitSeconds = retry.Wait(sub.Streak-1, now, giveUpAt)
				next := now.Add(time.Duration(d.WaitSeconds) * time.Second)
				sub.NextAttemptAt = &next
			}
			if now.Sub(*sub.UnavailableSince) >= retry.AlertAfter() && !sub.Alerted(erasure.AlertUnavailable) {
				due = append(due, erasure.AlertUnavailable)
			}
		case Refused:
			sub.LastError, sub.NextAttemptAt = s.Error, nil
		case Failed:
			sub.Status, sub.FinishedAt, sub.NextAttemptAt = erasure.SubsystemFailed, &now, nil
			if s.Error != "" {
				sub.LastError = s.Error
			}
			sub.Detail = s.Detail
		default:
			return nil, fmt.Errorf("record progress: unknown answer %q", s.Answer)
		}
		// The at-risk mail goes to the admins of a subsystem Lethe is
		// persisting through an outage; a slow but answering subsystem is
		// the deadline watch's business.
		if s.Answer == Unavailable && t.deadline.AtRisk(r.Deadline, now) && !sub.Alerted(erasure.AlertAtRisk) {
			due = append(due, erasure.AlertAtRisk)
		}
		sub.Alerts = append(sub.Alerts, due...)
		if !r.Status.Open() {
			return nil, erasure.ErrUnchanged
		}
		return nil, nil
	})
	if err != nil {
		return Decision{}, storeError(id, err)
	}
	if !req.Status.Open() {
		return d, nil
	}
	for _, alert := range due {
		t.escalate(ctx, req, target, alert, now)
	}
	return d, nil
}

// entry returns the index of the subsystem's entry on r, adding a pending
// one when r has none.
func entry(r *erasure.Request, name, mode string) int {
	if _, i := r.Subsystem(name); i >= 0 {
		return i
	}
	r.Subsystems = append(r.Subsystems, erasure.SubsystemResult{Name: name, Mode: mode, Status: erasure.SubsystemPending})
	return len(r.Subsystems) - 1
}

// escalate mails the subsystem's admins. The alert was marked sent in the
// same write that found it due; if the mail cannot be published the mark
// is taken back, so the next step tries again (a mail is late, never lost
// and never sent per attempt).
func (t *Tracker) escalate(ctx context.Context, req erasure.Request, target erasure.Target, alert string, now time.Time) {
	var subject, body string
	switch alert {
	case erasure.AlertUnavailable:
		subject, body = UnavailableMail(req, target.Name, t.retryPolicy(target.Name), now)
	default:
		subject, body = AtRiskMail(req, target.Name, now)
	}
	err := errors.New("no mailer")
	if t.mail != nil {
		err = t.mail.Publish(ctx, target.TopicArn, subject, body)
	}
	if err == nil {
		t.log.InfoContext(ctx, "subsystem admins mailed", "requestId", req.ID, "subsystem", target.Name, "alert", alert)
		return
	}
	t.log.WarnContext(ctx, "escalation mail not sent; will try again", "requestId", req.ID, "subsystem", target.Name,
		"alert", alert, "error", err.Error())
	if _, uerr := t.requests.Change(ctx, req.ID, func(r *erasure.Request) ([]audit.Record, error) {
		sub, i := r.Subsystem(target.Name)
		if i < 0 || !sub.Alerted(alert) {
			return nil, erasure.ErrUnchanged
		}
		kept := sub.Alerts[:0]
		for _, a := range sub.Alerts {
			if a != alert {
				kept = append(kept, a)
			}
		}
		r.Subsystems[i].Alerts = kept
		return nil, nil
	}); uerr != nil {
		t.log.WarnContext(ctx, "escalation mark not taken back", "requestId", req.ID, "subsystem", target.Name, "error", uerr.Error())
	}
}

// Start makes sure the request lists every subsystem of a run, pending
// where it has no entry yet, so that progress shows them all from the
// start; for a retry (run > 0) it marks the request running in that run,
// should the API's own write have been lost. It returns the request.
func (t *Tracker) Start(ctx context.Context, id string, run int, targets []erasure.Target) (erasure.Request, error) {
	req, err := t.requests.Change(ctx, id, func(r *erasure.Request) ([]audit.Record, error) {
		changed := false
		if run > r.Run && r.Status == erasure.StatusFailed {
			r.Run, r.Status, r.CompletedAt, changed = run, erasure.StatusRunning, nil, true
		}
		if !r.Status.Open() {
			return nil, erasure.ErrUnchanged
		}
		for _, tg := range targets {
			if _, i := r.Subsystem(tg.Name); i < 0 {
				entry(r, tg.Name, string(tg.Mode))
				changed = true
			}
		}
		if !changed {
			return nil, erasure.ErrUnchanged
		}
		return nil, nil
	})
	if err != nil {
		return erasure.Request{}, storeError(id, err)
	}
	return req, nil
}
