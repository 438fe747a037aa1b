// Package erasure holds Lethe's domain: an erasure request, its lifecycle,
// its identifiers and the payloads that travel between the regional
// functions and the state machines. It knows nothing of AWS or of the local
// runtime.
package erasure

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/lethe-erasure/lethe/internal/subjectkey"
)

// Status is where a request stands.
type Status string

// Request statuses. A request is open while pending or running; completed
// means every subsystem deleted the subject or held nothing.
const (
	StatusPending   Status = "pending"
	StatusRunning   Status = "running"
	StatusCompleted Status = "completed"
	StatusFailed    Status = "failed"
)

// Open reports whether a request still holds its subject's lock.
func (s Status) Open() bool { return s == StatusPending || s == StatusRunning }

// SubsystemStatus is where one subsystem's erasure stands.
type SubsystemStatus string

// Subsystem statuses; not_found (the subsystem held nothing) counts as done.
const (
	SubsystemPending  SubsystemStatus = "pending"
	SubsystemDeleted  SubsystemStatus = "deleted"
	SubsystemNotFound SubsystemStatus = "not_found"
	SubsystemFailed   SubsystemStatus = "failed"
)

// Done reports whether the subsystem no longer holds the subject's data.
func (s SubsystemStatus) Done() bool { return s == SubsystemDeleted || s == SubsystemNotFound }

// Sources of a request. Webhook sources are "webhook:<provider>".
const (
	SourceAPI = "api"
	// SourceWebhookPrefix starts the source of a request filed by a
	// region's webhook receiver.
	SourceWebhookPrefix = "webhook:"
)

// WebhookSource is the source of a request filed from a provider's
// webhook, e.g. "webhook:shopify".
func WebhookSource(provider string) string { return SourceWebhookPrefix + provider }

// Request is one erasure request as stored in the region's requests table.
// SubjectID is personal data: it is stored here and sent to subsystems, and
// nowhere else (not in logs, executions, notifications or the edge). Lethe
// forgets it when the request closes as completed, or once a failed request
// can no longer be settled (Forget): then only SubjectHash, the subject's
// keyed hash (internal/subjectkey), and Commitment remain.
type Request struct {
	ID        string `json:"requestId"`
	SubjectID string `json:"-"`
	// SubjectHash is the subject's keyed hash, set at intake: it keys the
	// open-request lock and the suppression list, and outlives SubjectID.
	SubjectHash string `json:"-"`
	// Commitment is the salted hash of the subject drawn at intake, which
	// the request's certificate carries.
	Commitment *Commitment `json:"-"`
	// ForgottenAt is when Lethe forgot the subject id; nil while it holds it.
	ForgottenAt *time.Time `json:"forgottenAt,omitempty"`
	// Certificate is the signed certificate of erasure (a compact JWS),
	// issued once the request completed.
	Certificate string            `json:"-"`
	TenantID    string            `json:"tenantId,omitempty"`
	Source      string            `json:"source"`
	Status      Status            `json:"status"`
	ReceivedAt  time.Time         `json:"receivedAt"`
	Deadline    time.Time         `json:"deadline"`
	CompletedAt *time.Time        `json:"completedAt"`
	Subsystems  []SubsystemResult `json:"subsystems"`
	// Run counts the operators' retries: 0 for the first execution, n for
	// the execution named RunName(ID, n).
	Run int `json:"run,omitempty"`
	// RetryOnly, when set, limits the latest retry to these subsystems.
	RetryOnly []string `json:"retryOnly,omitempty"`
	// Extensions are the deadline's extensions under Art. 12(3), oldest
	// first.
	Extensions []Extension `json:"extensions,omitempty"`
	// Watch is what the deadline watch last told operators of the open
	// request: "" (nothing), WatchAtRisk or WatchOverdue; it tells them
	// once per state.
	Watch string `json:"watch,omitempty"`
	// Rev grows with every write of the request; stores write
	// conditionally on it, so that concurrent writers never lose an update.
	Rev int64 `json:"rev,omitempty"`
}

// Commitment is a salted SHA-256 of the subject id: the subject, who knows
// the id, can check that a certificate is theirs; nobody can list whom a
// region's certificates name. Salt is base64url (no padding) of 32 random
// bytes; SHA256 is hex of SHA-256 over the salt bytes and the UTF-8 id.
type Commitment struct {
	Salt   string `json:"salt"`
	SHA256 string `json:"sha256"`
}

// Forgets reports whether a request in this state must no longer hold its
// subject id: it completed, so there is nothing left to erase.
func (r Request) Forgets() bool { return r.Status == StatusCompleted }

// Forget drops the subject id, keeping its keyed hash, at now.
func (r *Request) Forget(now time.Time) {
	if r.SubjectID == "" && r.ForgottenAt != nil {
		return
	}
	r.SubjectID = ""
	at := now.UTC()
	r.ForgottenAt = &at
}

// SubsystemResult is one subsystem's part of a request: its live progress
// while the request runs, its result once it is settled.
type SubsystemResult struct {
	Name       string          `json:"name"`
	Mode       string          `json:"mode"`
	Status     SubsystemStatus `json:"status"`
	Attempts   int             `json:"attempts"`
	FinishedAt *time.Time      `json:"finishedAt"`
	Detail     string          `json:"detail,omitempty"`
	// LastError is the latest failed call's error, cleared by a success.
	LastError string `json:"lastError,omitempty"`
	// UnavailableSince is when the current run of unavailable answers
	// began; Streak counts them (the back-off's exponent).
	UnavailableSince *time.Time `json:"unavailableSince,omitempty"`
	Streak           int        `json:"streak,omitempty"`
	// NextAttemptAt is when Lethe calls the subsystem again.
	NextAttemptAt *time.Time `json:"nextAttemptAt,omitempty"`
	// Alerts are the escalation mails already sent for this request and
	// subsystem (AlertUnavailable, AlertAtRisk): each goes out once.
	Alerts []string `json:"alerts,omitempty"`
	// Attestation is set when an operator settled the subsystem by hand.
	Attestation *Attestation `json:"attestation,omitempty"`
	// TaskToken is the Step Functions task token of the machine waiting
	// for the subsystem's callback: kept with the request, never shown or
	// sent to the subsystem.
	TaskToken string `json:"-"`
	// Callback is the subsystem's callback, once it came.
	Callback *CallbackResult `json:"callback,omitempty"`
}

// CallbackResult is an async subsystem's callback: deleted or failed, its
// detail (scrubbed of the subject id), and when it came.
type CallbackResult struct {
	Status string    `json:"status"`
	Detail string    `json:"detail"`
	At     time.Time `json:"at"`
}

// Escalation mails, each sent at most once per request and subsystem.
const (
	AlertUnavailable = "unavailable"
	AlertAtRisk      = "at_risk"
)

// Alerted reports whether the escalation mail was already sent.
func (s SubsystemResult) Alerted(alert string) bool {
	for _, a := range s.Alerts {
		if a == alert {
			return true
		}
	}
	return false
}

// Settled reports whether the subsystem needs nothing more: its data is
// gone, or an operator attested it.
func (s SubsystemResult) Settled() bool { return s.Status.Done() }

// Attestation records an operator settling a subsystem by hand: who, when
// and why. Outcome is deleted or not_found.
type Attestation struct {
	By      string          `json:"by"`
	At      time.Time       `json:"at"`
	Outcome SubsystemStatus `json:"outcome"`
	Note    string          `json:"note"`
}

// Extension is one extension of a request's deadline (GDPR Art. 12(3)).
type Extension struct {
	By          string    `json:"by"`
	At          time.Time `json:"at"`
	Months      int       `json:"months"`
	Reason      string    `json:"reason"`
	OldDeadline time.Time `json:"oldDeadline"`
	NewDeadline time.Time `json:"newDeadline"`
}

// ExtendedMonths is how many months the deadline was extended in total.
func (r Request) ExtendedMonths() int {
	n := 0
	for _, e := range r.Extensions {
		n += e.Months
	}
	return n
}

// Subsystem returns the request's entry for a subsystem, and its index (-1
// when the request has none).
func (r Request) Subsystem(name string) (SubsystemResult, int) {
	for i, s := range r.Subsystems {
		if s.Name == name {
			return s, i
		}
	}
	return SubsystemResult{}, -1
}

// Clone returns a copy that shares no slice or pointer with r, for writers
// that change a request read from a store.
func (r Request) Clone() Request {
	c := r
	c.Subsystems = make([]SubsystemResult, len(r.Subsystems))
	for i, s := range r.Subsystems {
		s.Alerts = append([]string(nil), s.Alerts...)
		if s.Attestation != nil {
			a := *s.Attestation
			s.Attestation = &a
		}
		if s.Callback != nil {
			cb := *s.Callback
			s.Callback = &cb
		}
		c.Subsystems[i] = s
	}
	if r.Subsystems == nil {
		c.Subsystems = nil
	}
	if r.Commitment != nil {
		cm := *r.Commitment
		c.Commitment = &cm
	}
	if r.ForgottenAt != nil {
		f := *r.ForgottenAt
		c.ForgottenAt = &f
	}
	c.RetryOnly = append([]string(nil), r.RetryOnly...)
	c.Extensions = append([]Extension(nil), r.Extensions...)
	return c
}

// MaxRuns bounds the retries of one request: an execution name is at most
// 80 characters, and RunName's suffix must leave room for a subsystem name.
const MaxRuns = 99

// RunName is the execution name of a request's run: the request id for the
// first, "<id>-r<n>" for the n-th retry. Child executions append
// "-<subsystem>", so every run's children have names of their own.
func RunName(id string, run int) string {
	if run == 0 {
		return id
	}
	return fmt.Sprintf("%s-r%d", id, run)
}

// ParseRunName splits an execution name made by RunName.
func ParseRunName(name string) (id string, run int, err error) {
	id = name
	if i := strings.LastIndex(name, "-r"); i > 0 {
		if n, perr := strconv.Atoi(name[i+2:]); perr == nil && n > 0 && n <= MaxRuns && name[i+2] != '0' {
			id, run = name[:i], n
		}
	}
	if _, err := ParseID(id); err != nil {
		return "", 0, fmt.Errorf("execution name %q is not a request id or <id>-r<n>", name)
	}
	return id, run, nil
}

// ExecutionInput is the input of the main erasure state machine. It carries
// the request id, never the subject id: connectors look the subject up in
// the requests table, so execution history holds no personal data.
type ExecutionInput struct {
	RequestID  string    `json:"requestId"`
	Region     string    `json:"region"`
	ReceivedAt time.Time `json:"receivedAt"`
	Deadline   time.Time `json:"deadline"`
}

// The deadline watch's states of an open request (Request.Watch).
const (
	WatchAtRisk  = "at_risk"
	WatchOverdue = "overdue"
)

// MaxSubjectIDBytes bounds a subject id.
const MaxSubjectIDBytes = 256

// idRE matches request ids: er_<region>_<UUIDv7>.
var idRE = regexp.MustCompile(`^er_([a-z][a-z0-9]{0,9})_([0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})$`)

// NewID returns a new request id for the region. UUIDv7 ids sort by time,
// which lets the requests table list recent requests in id order, and the
// region in the id keeps ids unique across regions.
func NewID(region string) (string, error) {
	u, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("new request id: %w", err)
	}
	return "er_" + region + "_" + u.String(), nil
}

// ParseID checks a request id and returns the region it belongs to.
func ParseID(id string) (region string, err error) {
	m := idRE.FindStringSubmatch(id)
	if m == nil {
		return "", fmt.Errorf("%q is not a request id (er_<region>_<uuidv7>)", id)
	}
	return m[1], nil
}

// ValidateSubjectID checks a subject id as received from a caller.
func ValidateSubjectID(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("must not be empty")
	case len(s) > MaxSubjectIDBytes:
		return fmt.Errorf("must be at most %d bytes", MaxSubjectIDBytes)
	case !utf8.ValidString(s):
		return fmt.Errorf("must be valid UTF-8")
	case strings.TrimSpace(s) != s:
		return fmt.Errorf("must not start or end with white space")
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("must not contain control characters")
		}
	}
	return nil
}

// Outcome computes a request's final status from its subsystems' results.
func Outcome(results []SubsystemResult) Status {
	for _, r := range results {
		if !r.Settled() {
			return StatusFailed
		}
	}
	return StatusCompleted
}

// Errors a request store returns, for handlers to map to HTTP answers.
var (
	// ErrNotFound means no request has the id.
	ErrNotFound = errors.New("request not found")
	// ErrIdempotencyKeyReused means an Idempotency-Key was first used for
	// another subject.
	ErrIdempotencyKeyReused = errors.New("idempotency key already used for another request")
	// ErrUnchanged is what a Change function returns to leave the request
	// as it is: the store then writes nothing and answers the request read.
	ErrUnchanged = errors.New("request unchanged")
)

// StoreUnavailable means the requests table could not be read or written
// for a reason that may pass. Its type name is the ASL error name the state
// machines retry, so every task returns this one type for it.
type StoreUnavailable struct {
	// Op is what was being done, e.g. "record the outcome of er_eu_...".
	Op  string
	Err error
}

func (e *StoreUnavailable) Error() string {
	return fmt.Sprintf("requests table unavailable: %s: %v", e.Op, e.Err)
}

// Unwrap exposes the cause for errors.Is/As.
func (e *StoreUnavailable) Unwrap() error { return e.Err }

// Redact replaces the subject id in a text — in any letter case, and in its
// URL-path-escaped and JSON-escaped forms — with "[subject]". Error text
// from adapters and details echoed by subsystems pass through it before
// they reach a log line, an execution or a stored report.
func Redact(text, subject string) string {
	if subject == "" {
		return text
	}
	forms := []string{regexp.QuoteMeta(subject)}
	if esc := url.PathEscape(subject); esc != subject {
		forms = append(forms, regexp.QuoteMeta(esc))
	}
	if q, err := json.Marshal(subject); err == nil {
		if s := strings.Trim(string(q), `"`); s != subject {
			forms = append(forms, regexp.QuoteMeta(s))
		}
	}
	sort.Slice(forms, func(i, j int) bool { return len(forms[i]) > len(forms[j]) })
	return regexp.MustCompile("(?i)(?:"+strings.Join(forms, "|")+")").ReplaceAllLiteralString(text, "[subject]")
}

// NewCommitment draws a fresh 32-byte salt and commits to the subject.
func NewCommitment(subject string) (Commitment, error) {
	salt := make([]byte, 32)
	if _, err := rand.Read(salt); err != nil {
		return Commitment{}, fmt.Errorf("commitment salt: %w", err)
	}
	return Commit(salt, subject), nil
}

// Commit is the commitment to the subject under salt: SHA-256 over the
// salt and the subject id in NFC (the form subjectkey hashes).
func Commit(salt []byte, subject string) Commitment {
	h := sha256.New()
	h.Write(salt)
	h.Write([]byte(subjectkey.Normalise(subject)))
	return Commitment{Salt: base64.RawURLEncoding.EncodeToString(salt), SHA256: hex.EncodeToString(h.Sum(nil))}
}

// Matches reports whether the commitment is to this subject id.
func (c Commitment) Matches(subject string) bool {
	salt, err := base64.RawURLEncoding.DecodeString(c.Salt)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(Commit(salt, subject).SHA256), []byte(c.SHA256)) == 1
}

// SubjectHasher names a subject without holding its id: the region's keyed
// hash (internal/subjectkey).
type SubjectHasher interface {
	Hash(subject string) string
}

// SetSubject gives a new request its subject: the id, its keyed hash under
// the region's key, and a fresh commitment for the certificate.
func (r *Request) SetSubject(key SubjectHasher, subject string) error {
	c, err := NewCommitment(subject)
	if err != nil {
		return err
	}
	r.SubjectID, r.SubjectHash, r.Commitment = subject, key.Hash(subject), &c
	return nil
}

// Erased is one forgotten request of a subject on the suppression list:
// what a restore or a re-import must erase again, and when it was erased.
type Erased struct {
	RequestID  string     `dynamodbav:"requestId" json:"requestId"`
	Status     string     `dynamodbav:"status" json:"status"`
	ReceivedAt time.Time  `dynamodbav:"receivedAt" json:"receivedAt"`
	ClosedAt   *time.Time `dynamodbav:"closedAt,omitempty" json:"closedAt,omitempty"`
	// Failed names the subsystems that did not erase, for a request
	// forgotten as failed.
	Failed []string `dynamodbav:"failed,omitempty" json:"failed,omitempty"`
}

// NewErased is the suppression entry of a request that forgot its subject.
func NewErased(r Request) Erased {
	e := Erased{RequestID: r.ID, Status: string(r.Status), ReceivedAt: r.ReceivedAt.UTC()}
	if r.CompletedAt != nil {
		at := r.CompletedAt.UTC()
		e.ClosedAt = &at
	}
	for _, sub := range r.Subsystems {
		if !sub.Settled() {
			e.Failed = append(e.Failed, sub.Name)
		}
	}
	return e
}
