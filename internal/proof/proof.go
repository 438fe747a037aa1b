// Package proof is Lethe's certificate of erasure: the claims a completed
// request is certified with, signed as a compact JWS with ES256 (RFC 7515,
// RFC 7518 §3.4), and checked against the region's public keys as a JWK set
// (RFC 7517), offline. The signer is a P-256 key: KMS's on AWS (the private
// half never leaves KMS), a key file in the data directory under lethe local.
//
// The certificate names the subject by a salted commitment only
// (erasure.Commitment): the person, who knows their id, can check that a
// certificate is theirs, and nobody can list whom a region's certificates
// name.
package proof

import (
	"time"

	"github.com/lethe-erasure/lethe/internal/erasure"
)

// Version is the claims' version.
const Version = 1

// Claims is what a certificate of erasure asserts.
type Claims struct {
	Version    int       `json:"version"`
	RequestID  string    `json:"requestId"`
	Region     string    `json:"region"`
	Source     string    `json:"source"`
	ReceivedAt time.Time `json:"receivedAt"`
	// Deadline is the request's deadline when it closed, extensions
	// included.
	Deadline time.Time `json:"deadline"`
	// Extension is null, or the deadline's extension under GDPR Art. 12(3).
	Extension         *Extension         `json:"extension"`
	ClosedAt          time.Time          `json:"closedAt"`
	Subsystems        []Subsystem        `json:"subsystems"`
	SubjectCommitment erasure.Commitment `json:"subjectCommitment"`
	Issuer            string             `json:"issuer"`
}

// Extension is the deadline's extension: by how many months in total, from
// which original deadline, and why (each extension's reason, oldest first).
type Extension struct {
	Months           int       `json:"months"`
	OriginalDeadline time.Time `json:"originalDeadline"`
	Reasons          []string  `json:"reasons"`
}

// Subsystem is one subsystem's part of the erasure. Outcome is deleted or
// not_found; attestedBy and attestationNote are set when an operator
// settled it by hand.
type Subsystem struct {
	Name            string                  `json:"name"`
	Mode            string                  `json:"mode"`
	Outcome         erasure.SubsystemStatus `json:"outcome"`
	Attempts        int                     `json:"attempts"`
	FinishedAt      *time.Time              `json:"finishedAt"`
	AttestedBy      string                  `json:"attestedBy,omitempty"`
	AttestationNote string                  `json:"attestationNote,omitempty"`
}

// Issuer is how a region's certificates name their issuer: Lethe, the
// region, and its AWS region.
func Issuer(region, awsRegion string) string { return "lethe:" + region + ":" + awsRegion }

// NewClaims is the certificate of a completed request r of region, closed
// at closedAt. r carries no subject id at that point; c is its commitment.
func NewClaims(r erasure.Request, region, issuer string, closedAt time.Time, c erasure.Commitment) Claims {
	cl := Claims{
		Version: Version, RequestID: r.ID, Region: region, Source: r.Source,
		ReceivedAt: r.ReceivedAt.UTC(), Deadline: r.Deadline.UTC(), ClosedAt: closedAt.UTC(),
		Subsystems: make([]Subsystem, 0, len(r.Subsystems)), SubjectCommitment: c, Issuer: issuer,
	}
	if len(r.Extensions) > 0 {
		ext := &Extension{Months: r.ExtendedMonths(), OriginalDeadline: r.Extensions[0].OldDeadline.UTC()}
		for _, e := range r.Extensions {
			ext.Reasons = append(ext.Reasons, e.Reason)
		}
		cl.Extension = ext
	}
	for _, s := range r.Subsystems {
		sub := Subsystem{Name: s.Name, Mode: s.Mode, Outcome: s.Status, Attempts: s.Attempts}
		if s.FinishedAt != nil {
			at := s.FinishedAt.UTC()
			sub.FinishedAt = &at
		}
		if a := s.Attestation; a != nil {
			sub.AttestedBy, sub.AttestationNote = a.By, a.Note
		}
		cl.Subsystems = append(cl.Subsystems, sub)
	}
	return cl
}
