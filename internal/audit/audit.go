// Package audit is the region's record of what operators did to erasure
// requests: retries, attestations, subject reads and deadline extensions.
// Records are appended, never changed, and never hold a subject id: the
// request id says which request, the detail says what was done.
package audit

import (
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Actions an audit record may name.
const (
	ActionRetry       = "retry"
	ActionAttestation = "attestation"
	ActionSubjectRead = "subject_read"
	ActionExtension   = "extension"
	// ActionForgotten: the deadline watch forgot the subject of a failed
	// request nobody settled in time.
	ActionForgotten = "forgotten"
	// ActionCertificateIssued: a completed request's certificate of
	// erasure was signed.
	ActionCertificateIssued = "certificate_issued"
)

// Record is one operator action on one request.
type Record struct {
	// ID is a UUIDv7: records sort by time within a request.
	ID        string    `json:"id"`
	RequestID string    `json:"requestId"`
	At        time.Time `json:"at"`
	// Actor is the caller's IAM ARN on AWS, the operator's name locally.
	Actor  string `json:"actor"`
	Action string `json:"action"`
	// Detail says what changed, e.g. the subsystems retried or the old and
	// new deadline; never a subject id.
	Detail map[string]string `json:"detail,omitempty"`
}

// New returns a record with a fresh id.
func New(requestID string, at time.Time, actor, action string, detail map[string]string) (Record, error) {
	u, err := uuid.NewV7()
	if err != nil {
		return Record{}, fmt.Errorf("audit record id: %w", err)
	}
	return Record{ID: u.String(), RequestID: requestID, At: at.UTC(), Actor: actor, Action: action, Detail: detail}, nil
}

// MaxList bounds one listing of audit records.
const MaxList = 100
