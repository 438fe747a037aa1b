package api

import (
	"time"

	"github.com/lethe-erasure/lethe/internal/erasure"
)

// timeFormat is RFC 3339 in UTC with milliseconds: fixed width, sorts as
// text, and what the intake clock records.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

func formatTimePtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := formatTime(*t)
	return &s
}

// The views below are what callers see: the API's contract, which the
// operator CLI (cmd/lethe erase and status) decodes with these very types.
// None has a subjectId: the caller knows whom it asked about, and answers
// are logged by proxies and clients.

// IntakeView answers POST /erasures and DELETE /api/user/{id}.
type IntakeView struct {
	RequestID  string         `json:"requestId"`
	Status     erasure.Status `json:"status"`
	ReceivedAt string         `json:"receivedAt"`
	Deadline   string         `json:"deadline"`
	StatusURL  string         `json:"statusUrl"`
	Source     string         `json:"source"`
	TenantID   string         `json:"tenantId,omitempty"`
}

// RequestView answers GET /erasures/{requestId} and is one item of
// GET /erasures.
type RequestView struct {
	RequestID   string          `json:"requestId"`
	Status      erasure.Status  `json:"status"`
	Source      string          `json:"source"`
	TenantID    string          `json:"tenantId,omitempty"`
	ReceivedAt  string          `json:"receivedAt"`
	Deadline    string          `json:"deadline"`
	CompletedAt *string         `json:"completedAt"`
	Subsystems  []SubsystemView `json:"subsystems"`
	// Run is how many times operators retried the request.
	Run        int             `json:"run,omitempty"`
	Extensions []ExtensionView `json:"extensions,omitempty"`
	// SubjectForgottenAt is when Lethe forgot the subject id (the request
	// completed, or failed and was never settled); absent while it holds it.
	SubjectForgottenAt *string `json:"subjectForgottenAt,omitempty"`
	// Certificate says whether the signed certificate of erasure is issued
	// (GET /erasures/{requestId}/certificate).
	Certificate bool `json:"certificate"`
	// AtRisk says the request is open and its deadline is near
	// (deadline.atRiskBeforeHours), as GET /erasures?atRisk=true selects.
	AtRisk bool `json:"atRisk"`
}

// ExtensionView is one extension of the deadline (GDPR Art. 12(3)).
type ExtensionView struct {
	By          string `json:"by"`
	At          string `json:"at"`
	Months      int    `json:"months"`
	Reason      string `json:"reason"`
	OldDeadline string `json:"oldDeadline"`
	NewDeadline string `json:"newDeadline"`
}

// AttestationView is an operator's attestation of a subsystem.
type AttestationView struct {
	By      string                  `json:"by"`
	At      string                  `json:"at"`
	Outcome erasure.SubsystemStatus `json:"outcome"`
	Note    string                  `json:"note"`
}

// SubsystemView is one subsystem's line of a RequestView: how its deletion
// went, so that an operator sees which system holds the request up.
type SubsystemView struct {
	Name       string                  `json:"name"`
	Mode       string                  `json:"mode"`
	Status     erasure.SubsystemStatus `json:"status"`
	Attempts   int                     `json:"attempts"`
	FinishedAt *string                 `json:"finishedAt"`
	Detail     string                  `json:"detail"`
	// LastError is the latest failed call's error while it runs.
	LastError        string           `json:"lastError,omitempty"`
	UnavailableSince *string          `json:"unavailableSince,omitempty"`
	NextAttemptAt    *string          `json:"nextAttemptAt,omitempty"`
	Attestation      *AttestationView `json:"attestation,omitempty"`
}

func newIntakeView(r erasure.Request, statusURL string) IntakeView {
	return IntakeView{
		RequestID:  r.ID,
		Status:     r.Status,
		ReceivedAt: formatTime(r.ReceivedAt),
		Deadline:   formatTime(r.Deadline),
		StatusURL:  statusURL,
		Source:     r.Source,
		TenantID:   r.TenantID,
	}
}

func newRequestView(r erasure.Request) RequestView {
	subs := make([]SubsystemView, len(r.Subsystems))
	for i, s := range r.Subsystems {
		subs[i] = SubsystemView{
			Name:             s.Name,
			Mode:             s.Mode,
			Status:           s.Status,
			Attempts:         s.Attempts,
			FinishedAt:       formatTimePtr(s.FinishedAt),
			Detail:           s.Detail,
			LastError:        s.LastError,
			UnavailableSince: formatTimePtr(s.UnavailableSince),
			NextAttemptAt:    formatTimePtr(s.NextAttemptAt),
		}
		if a := s.Attestation; a != nil {
			subs[i].Attestation = &AttestationView{By: a.By, At: formatTime(a.At), Outcome: a.Outcome, Note: a.Note}
		}
	}
	var exts []ExtensionView
	for _, e := range r.Extensions {
		exts = append(exts, ExtensionView{By: e.By, At: formatTime(e.At), Months: e.Months, Reason: e.Reason,
			OldDeadline: formatTime(e.OldDeadline), NewDeadline: formatTime(e.NewDeadline)})
	}
	return RequestView{
		SubjectForgottenAt: formatTimePtr(r.ForgottenAt),
		Certificate:        r.Certificate != "",
		RequestID:          r.ID,
		Status:             r.Status,
		Source:             r.Source,
		TenantID:           r.TenantID,
		ReceivedAt:         formatTime(r.ReceivedAt),
		Deadline:           formatTime(r.Deadline),
		CompletedAt:        formatTimePtr(r.CompletedAt),
		Subsystems:         subs,
		Run:                r.Run,
		Extensions:         exts,
	}
}
