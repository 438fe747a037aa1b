package outcome

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/progress"
)

// recorder is where the failure report writes (progress.Tracker).
type recorder interface {
	Record(ctx context.Context, id string, target erasure.Target, s progress.Step, now time.Time) (progress.Decision, error)
}

// Reporter is the RecordFailure task of the deletion machines: a
// subsystem's erasure ended in an error; it writes the subsystem failed on
// the request (progress shows it before the request closes) and returns
// the plain-text mail UserDeletionFailed publishes to the subsystem's
// admins.
type Reporter struct {
	requests Requests
	progress recorder
	log      *slog.Logger
}

// NewReporter returns the RecordFailure handler of a region.
func NewReporter(requests Requests, progress recorder, log *slog.Logger) *Reporter {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Reporter{requests: requests, progress: progress, log: log}
}

// Handle records the failure and returns the admins' mail. The error's
// text is scrubbed of the subject id, should a subsystem have echoed it.
func (r *Reporter) Handle(ctx context.Context, in erasure.ReportFailureInput) (erasure.Mail, error) {
	if _, err := erasure.ParseID(in.RequestID); err != nil {
		return erasure.Mail{}, &InvalidInput{Field: "requestId", Reason: "is not a request id (er_<region>_<uuidv7>)"}
	}
	if in.Subsystem.Name == "" {
		return erasure.Mail{}, &InvalidInput{Field: "subsystem.name", Reason: "is missing"}
	}
	now := in.Now
	if now.IsZero() {
		now = time.Now()
	}
	cur, err := r.requests.Get(ctx, in.RequestID)
	if err != nil {
		if errors.Is(err, erasure.ErrNotFound) {
			return erasure.Mail{}, &RequestNotFound{RequestID: in.RequestID}
		}
		return erasure.Mail{}, &erasure.StoreUnavailable{Op: "report the failure of " + in.RequestID, Err: err}
	}
	why := "failed"
	if in.Error != nil {
		if d := describe(in.Error.Error, in.Error.Cause); d != "" {
			why = d
		}
	}
	why = clip(erasure.Redact(tidy(erasure.Redact(why, cur.SubjectID)), tidy(cur.SubjectID)))
	if _, err := r.progress.Record(ctx, in.RequestID, in.Subsystem, progress.Step{Answer: progress.Failed, Error: why, Detail: why}, now); err != nil {
		return erasure.Mail{}, err
	}
	cur, err = r.requests.Get(ctx, in.RequestID)
	if err != nil {
		return erasure.Mail{}, &erasure.StoreUnavailable{Op: "report the failure of " + in.RequestID, Err: err}
	}
	subject, message := progress.FailureMail(cur, in.Subsystem.Name, now)
	r.log.InfoContext(ctx, "subsystem failure recorded", "requestId", in.RequestID, "subsystem", in.Subsystem.Name)
	return erasure.Mail{Subject: subject, Message: message}, nil
}
