// Package audit is the region's record of what operators and Lethe did to
// erasure requests — retries, attestations, subject reads, deadline
// extensions, certificates issued, subjects forgotten — and to the region —
// tenant registrations, quarantine releases, suppression checks. Records
// are appended to a hash chain (chain.go), never changed, and never hold a
// subject id: the request id says which request, the detail what was done.
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
	// Region records (no request id).
	ActionTenantRegistered  = "tenant_registered"
	ActionQuarantineRelease = "quarantine_release"
	ActionSuppressionCheck  = "suppression_check"
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
	// Seq, Prev and Hash place the record in the region's hash chain
	// (chain.go); stores set them when they append it.
	Seq  int64  `json:"seq,omitempty"`
	Prev string `json:"prev,omitempty"`
	Hash string `json:"hash,omitempty"`
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
