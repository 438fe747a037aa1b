package dynamo

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/lethe-erasure/lethe/internal/erasure"
)

// The table's layout. One table, partition key pk only:
//
//	kind=request      pk = request id (er_<region>_<uuidv7>, sorts by time)
//	kind=subject      pk = "subject#" + subjectHash; requestId of the open request
//	kind=idempotency  pk = "idem#" + hex(SHA-256(key)); requestId, subjectHash, expiresAt (TTL)
//	kind=erased       pk = "erased#" + subjectHash; requests: the subject's closed and forgotten
//	                  requests (the suppression list)
//
// subjectHash is the subject's keyed hash (internal/subjectkey), never the
// subject id. GSI "recent" (kind, pk) lists requests newest first.
const (
	// AttrPK is the table's partition key.
	AttrPK = "pk"
	// AttrKind tells the item kinds apart and partitions the GSI.
	AttrKind = "kind"
	// AttrExpiresAt is the table's TTL attribute (epoch seconds).
	AttrExpiresAt = "expiresAt"
	// IndexRecent is the GSI that lists requests newest first.
	IndexRecent = "recent"
	// IndexOpen is the sparse GSI (open, deadline) of the open requests,
	// soonest deadline first; AttrOpen is its partition key, which holds
	// OpenPartition while a request is open.
	IndexOpen     = "open"
	AttrOpen      = "open"
	OpenPartition = "open"
	// HeldPartition holds the failed requests that still hold their
	// subject id, soonest deadline first: the deadline watch forgets each
	// once it can no longer be settled.
	HeldPartition = "held"

	// KindRequest is the kind of request items, the only kind the starter
	// acts on (its event source filters on NewImage.kind.S).
	KindRequest = "request"
	// KindSubject is the kind of a subject's open-request lock.
	KindSubject = "subject"
	// KindIdempotency is the kind of an Idempotency-Key record.
	KindIdempotency = "idempotency"
	// KindErased is the kind of a subject's suppression record.
	KindErased = "erased"

	subjectPrefix = "subject#"
	idemPrefix    = "idem#"
	erasedPrefix  = "erased#"
	// IdempotencyTTL is how long an Idempotency-Key keeps returning its
	// request: longer than any provider retries a webhook (Shopify: 48 h),
	// so that a delivery whose answer was lost never files a second
	// request, however late its retry comes.
	IdempotencyTTL = 7 * 24 * time.Hour
)

// requestFields are a request item's attributes other than the subject id.
// The stream decoder reads only these, so nothing it returns or reports
// can carry the subject.
type requestFields struct {
	PK          string          `dynamodbav:"pk" json:"pk"`
	Kind        string          `dynamodbav:"kind" json:"-"`
	TenantID    string          `dynamodbav:"tenantId,omitempty" json:"tenantId,omitempty"`
	Source      string          `dynamodbav:"source" json:"source"`
	Status      string          `dynamodbav:"status" json:"status"`
	ReceivedAt  string          `dynamodbav:"receivedAt" json:"receivedAt"`
	Deadline    string          `dynamodbav:"deadline" json:"deadline"`
	CompletedAt string          `dynamodbav:"completedAt,omitempty" json:"completedAt,omitempty"`
	Subsystems  []subsystemItem `dynamodbav:"subsystems,omitempty" json:"subsystems,omitempty"`
	Run         int             `dynamodbav:"run,omitempty" json:"run,omitempty"`
	RetryOnly   []string        `dynamodbav:"retryOnly,omitempty" json:"retryOnly,omitempty"`
	Extensions  []extensionItem `dynamodbav:"extensions,omitempty" json:"extensions,omitempty"`
	Watch       string          `dynamodbav:"watch,omitempty" json:"watch,omitempty"`
	Rev         int64           `dynamodbav:"rev,omitempty" json:"rev,omitempty"`
	// Open is OpenPartition while the request is open, HeldPartition while
	// it failed and still holds its subject, absent otherwise: the sparse
	// GSI "open" holds exactly those requests.
	Open        string          `dynamodbav:"open,omitempty" json:"-"`
	SubjectHash string          `dynamodbav:"subjectHash,omitempty" json:"subjectHash,omitempty"`
	Commitment  *commitmentItem `dynamodbav:"commitment,omitempty" json:"commitment,omitempty"`
	ForgottenAt string          `dynamodbav:"forgottenAt,omitempty" json:"forgottenAt,omitempty"`
	Certificate string          `dynamodbav:"certificate,omitempty" json:"certificate,omitempty"`
}

type commitmentItem struct {
	Salt   string `dynamodbav:"salt" json:"salt"`
	SHA256 string `dynamodbav:"sha256" json:"sha256"`
}

type extensionItem struct {
	By          string `dynamodbav:"by" json:"by"`
	At          string `dynamodbav:"at" json:"at"`
	Months      int    `dynamodbav:"months" json:"months"`
	Reason      string `dynamodbav:"reason" json:"reason"`
	OldDeadline string `dynamodbav:"oldDeadline" json:"oldDeadline"`
	NewDeadline string `dynamodbav:"newDeadline" json:"newDeadline"`
}

type attestationItem struct {
	By      string `dynamodbav:"by" json:"by"`
	At      string `dynamodbav:"at" json:"at"`
	Outcome string `dynamodbav:"outcome" json:"outcome"`
	Note    string `dynamodbav:"note" json:"note"`
}

// RequestItem is a request as stored, subject id included. The embedded
// store of `lethe local` (internal/store/embedded) stores the same
// attributes as JSON (without kind, which its buckets imply), so that a
// request reads back alike from either store.
type RequestItem struct {
	requestFields
	SubjectID string `dynamodbav:"subjectId,omitempty" json:"subjectId,omitempty"`
}

// NewRequestItem is the item that stores r.
func NewRequestItem(r erasure.Request) RequestItem {
	return RequestItem{requestFields: toFields(r), SubjectID: r.SubjectID}
}

// Request turns a stored item back into the request, subject id included.
// Errors name the attribute, never its value.
func (it RequestItem) Request() (erasure.Request, error) {
	r, err := it.request()
	if err != nil {
		return erasure.Request{}, err
	}
	r.SubjectID = it.SubjectID
	return r, nil
}

type subsystemItem struct {
	Name       string `dynamodbav:"name" json:"name"`
	Mode       string `dynamodbav:"mode" json:"mode"`
	Status     string `dynamodbav:"status" json:"status"`
	Attempts   int    `dynamodbav:"attempts" json:"attempts"`
	FinishedAt string `dynamodbav:"finishedAt,omitempty" json:"finishedAt,omitempty"`
	Detail     string `dynamodbav:"detail,omitempty" json:"detail,omitempty"`

	LastError        string           `dynamodbav:"lastError,omitempty" json:"lastError,omitempty"`
	UnavailableSince string           `dynamodbav:"unavailableSince,omitempty" json:"unavailableSince,omitempty"`
	Streak           int              `dynamodbav:"streak,omitempty" json:"streak,omitempty"`
	NextAttemptAt    string           `dynamodbav:"nextAttemptAt,omitempty" json:"nextAttemptAt,omitempty"`
	Alerts           []string         `dynamodbav:"alerts,omitempty" json:"alerts,omitempty"`
	Attestation      *attestationItem `dynamodbav:"attestation,omitempty" json:"attestation,omitempty"`
	TaskToken        string           `dynamodbav:"taskToken,omitempty" json:"taskToken,omitempty"`
	Callback         *callbackResult  `dynamodbav:"callback,omitempty" json:"callback,omitempty"`
}

type callbackResult struct {
	Status string `dynamodbav:"status" json:"status"`
	Detail string `dynamodbav:"detail" json:"detail"`
	At     string `dynamodbav:"at" json:"at"`
}

type lockItem struct {
	PK        string `dynamodbav:"pk"`
	Kind      string `dynamodbav:"kind"`
	RequestID string `dynamodbav:"requestId"`
}

type idemItem struct {
	PK          string `dynamodbav:"pk"`
	Kind        string `dynamodbav:"kind"`
	RequestID   string `dynamodbav:"requestId"`
	SubjectHash string `dynamodbav:"subjectHash"`
	ExpiresAt   int64  `dynamodbav:"expiresAt"`
}

// Hash is how the layout keys an Idempotency-Key: hex(SHA-256), so that it
// is not stored in clear. The embedded store keys its keys the same way.
// (Subjects are keyed by their keyed hash, Request.SubjectHash.)
func Hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func subjectKey(subjectHash string) string { return subjectPrefix + subjectHash }

func erasedKey(subjectHash string) string { return erasedPrefix + subjectHash }

func idemKey(key string) string { return idemPrefix + Hash(key) }

// FormatTime is how a request's times are stored: RFC 3339 in UTC with
// nanoseconds. Shared with the embedded store, so that both store (and
// round) alike.
func FormatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func formatTimePtr(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return FormatTime(*t)
}

func parseTimePtr(s string) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

func toSubsystemItems(rs []erasure.SubsystemResult) []subsystemItem {
	if len(rs) == 0 {
		return nil
	}
	out := make([]subsystemItem, len(rs))
	for i, r := range rs {
		out[i] = subsystemItem{
			Name:       r.Name,
			Mode:       r.Mode,
			Status:     string(r.Status),
			Attempts:   r.Attempts,
			FinishedAt: formatTimePtr(r.FinishedAt),
			Detail:     r.Detail,

			LastError:        r.LastError,
			UnavailableSince: formatTimePtr(r.UnavailableSince),
			Streak:           r.Streak,
			NextAttemptAt:    formatTimePtr(r.NextAttemptAt),
			Alerts:           r.Alerts,
		}
		if a := r.Attestation; a != nil {
			out[i].Attestation = &attestationItem{By: a.By, At: FormatTime(a.At), Outcome: string(a.Outcome), Note: a.Note}
		}
		out[i].TaskToken = r.TaskToken
		if cb := r.Callback; cb != nil {
			out[i].Callback = &callbackResult{Status: cb.Status, Detail: cb.Detail, At: FormatTime(cb.At)}
		}
	}
	return out
}

func toExtensionItems(es []erasure.Extension) []extensionItem {
	var out []extensionItem
	for _, e := range es {
		out = append(out, extensionItem{By: e.By, At: FormatTime(e.At), Months: e.Months, Reason: e.Reason,
			OldDeadline: FormatTime(e.OldDeadline), NewDeadline: FormatTime(e.NewDeadline)})
	}
	return out
}

func toFields(r erasure.Request) requestFields {
	return requestFields{
		PK:          r.ID,
		Kind:        KindRequest,
		TenantID:    r.TenantID,
		Source:      r.Source,
		Status:      string(r.Status),
		ReceivedAt:  FormatTime(r.ReceivedAt),
		Deadline:    FormatTime(r.Deadline),
		CompletedAt: formatTimePtr(r.CompletedAt),
		Subsystems:  toSubsystemItems(r.Subsystems),
		Run:         r.Run,
		RetryOnly:   r.RetryOnly,
		Extensions:  toExtensionItems(r.Extensions),
		Watch:       r.Watch,
		Rev:         r.Rev,
		Open:        openPartition(r),
		SubjectHash: r.SubjectHash,
		Commitment:  toCommitmentItem(r.Commitment),
		ForgottenAt: formatTimePtr(r.ForgottenAt),
		Certificate: r.Certificate,
	}
}

func toCommitmentItem(c *erasure.Commitment) *commitmentItem {
	if c == nil {
		return nil
	}
	return &commitmentItem{Salt: c.Salt, SHA256: c.SHA256}
}

// openPartition is the open attribute of a request: OpenPartition while it
// is open, HeldPartition while it failed and holds its subject.
func openPartition(r erasure.Request) string {
	switch {
	case r.Status.Open():
		return OpenPartition
	case r.Status == erasure.StatusFailed && r.ForgottenAt == nil:
		return HeldPartition
	}
	return ""
}

// request turns stored fields back into a request (without its subject).
// Errors name the attribute, never its value.
func (f requestFields) request() (erasure.Request, error) {
	r := erasure.Request{
		ID:        f.PK,
		TenantID:  f.TenantID,
		Source:    f.Source,
		Status:    erasure.Status(f.Status),
		Run:       f.Run,
		RetryOnly: f.RetryOnly,
		Watch:     f.Watch,
		Rev:       f.Rev,

		SubjectHash: f.SubjectHash,
		Certificate: f.Certificate,
	}
	if c := f.Commitment; c != nil {
		r.Commitment = &erasure.Commitment{Salt: c.Salt, SHA256: c.SHA256}
	}
	var err error
	if r.ForgottenAt, err = parseTimePtr(f.ForgottenAt); err != nil {
		return erasure.Request{}, fmt.Errorf("request %s: forgottenAt is not an RFC 3339 time", f.PK)
	}
	if r.ReceivedAt, err = time.Parse(time.RFC3339Nano, f.ReceivedAt); err != nil {
		return erasure.Request{}, fmt.Errorf("request %s: receivedAt is not an RFC 3339 time", f.PK)
	}
	if r.Deadline, err = time.Parse(time.RFC3339Nano, f.Deadline); err != nil {
		return erasure.Request{}, fmt.Errorf("request %s: deadline is not an RFC 3339 time", f.PK)
	}
	if r.CompletedAt, err = parseTimePtr(f.CompletedAt); err != nil {
		return erasure.Request{}, fmt.Errorf("request %s: completedAt is not an RFC 3339 time", f.PK)
	}
	for i, s := range f.Subsystems {
		fin, err := parseTimePtr(s.FinishedAt)
		if err != nil {
			return erasure.Request{}, fmt.Errorf("request %s: subsystems[%d].finishedAt is not an RFC 3339 time", f.PK, i)
		}
		sub := erasure.SubsystemResult{
			Name:       s.Name,
			Mode:       s.Mode,
			Status:     erasure.SubsystemStatus(s.Status),
			Attempts:   s.Attempts,
			FinishedAt: fin,
			Detail:     s.Detail,
			LastError:  s.LastError,
			Streak:     s.Streak,
			Alerts:     s.Alerts,
		}
		if sub.UnavailableSince, err = parseTimePtr(s.UnavailableSince); err != nil {
			return erasure.Request{}, fmt.Errorf("request %s: subsystems[%d].unavailableSince is not an RFC 3339 time", f.PK, i)
		}
		if sub.NextAttemptAt, err = parseTimePtr(s.NextAttemptAt); err != nil {
			return erasure.Request{}, fmt.Errorf("request %s: subsystems[%d].nextAttemptAt is not an RFC 3339 time", f.PK, i)
		}
		if a := s.Attestation; a != nil {
			at, err := time.Parse(time.RFC3339Nano, a.At)
			if err != nil {
				return erasure.Request{}, fmt.Errorf("request %s: subsystems[%d].attestation.at is not an RFC 3339 time", f.PK, i)
			}
			sub.Attestation = &erasure.Attestation{By: a.By, At: at, Outcome: erasure.SubsystemStatus(a.Outcome), Note: a.Note}
		}
		sub.TaskToken = s.TaskToken
		if cb := s.Callback; cb != nil {
			at, err := time.Parse(time.RFC3339Nano, cb.At)
			if err != nil {
				return erasure.Request{}, fmt.Errorf("request %s: subsystems[%d].callback.at is not an RFC 3339 time", f.PK, i)
			}
			sub.Callback = &erasure.CallbackResult{Status: cb.Status, Detail: cb.Detail, At: at}
		}
		r.Subsystems = append(r.Subsystems, sub)
	}
	for i, e := range f.Extensions {
		ext := erasure.Extension{By: e.By, Months: e.Months, Reason: e.Reason}
		for _, t := range []struct {
			dst  *time.Time
			src  string
			name string
		}{{&ext.At, e.At, "at"}, {&ext.OldDeadline, e.OldDeadline, "oldDeadline"}, {&ext.NewDeadline, e.NewDeadline, "newDeadline"}} {
			if *t.dst, err = time.Parse(time.RFC3339Nano, t.src); err != nil {
				return erasure.Request{}, fmt.Errorf("request %s: extensions[%d].%s is not an RFC 3339 time", f.PK, i, t.name)
			}
		}
		r.Extensions = append(r.Extensions, ext)
	}
	return r, nil
}
