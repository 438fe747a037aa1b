// Package certify is the IssueCertificate task of the Erasure state machine
// and the issuer of certificates for requests that complete outside an
// execution (an attestation): it signs a completed request's certificate of
// erasure and stores it on the request, with an audit record, once. It is
// the one function that may use the region's signing key.
package certify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/lethe-erasure/lethe/internal/audit"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/proof"
)

// Requests is the part of the requests table the issuer uses.
type Requests interface {
	Get(ctx context.Context, id string) (erasure.Request, error)
	Change(ctx context.Context, id string, fn func(*erasure.Request) ([]audit.Record, error)) (erasure.Request, error)
}

// IssueFunc signs the certificate of a completed request (which no longer
// holds its subject id, only its commitment) as a compact JWS; it returns
// the JWS and the id of the key that signed it.
type IssueFunc func(ctx context.Context, r erasure.Request) (jws, keyID string, err error)

// Actor is who the issuance's audit record names.
const Actor = "lethe:certify"

// Input is the task's payload: the request id only.
type Input struct {
	RequestID string `json:"requestId"`
}

// Output says what the task did.
type Output struct {
	RequestID string `json:"requestId"`
	// Issued is true when this call signed the certificate, false when it
	// was issued before (a retried task).
	Issued bool   `json:"issued"`
	KeyID  string `json:"keyId"`
}

// SigningUnavailable is a signing failure that may pass (KMS throttled or
// unreachable): the machine retries it by this type name.
type SigningUnavailable struct{ Err error }

func (e *SigningUnavailable) Error() string { return "signing key unavailable: " + e.Err.Error() }

// Unwrap exposes the cause.
func (e *SigningUnavailable) Unwrap() error { return e.Err }

// NotCompleted means the request is not completed: there is nothing to
// certify. The machine calls the task only after a completed outcome.
type NotCompleted struct {
	RequestID string
	Status    erasure.Status
}

func (e *NotCompleted) Error() string {
	return fmt.Sprintf("request %s is %s: only a completed request is certified", e.RequestID, e.Status)
}

// RequestNotFound means the requests table holds no such request.
type RequestNotFound struct{ RequestID string }

func (e *RequestNotFound) Error() string {
	return fmt.Sprintf("certify: no request %s in the requests table", e.RequestID)
}

// InvalidInput means the input is not what erasure.asl.json sends.
type InvalidInput struct{ Reason string }

func (e *InvalidInput) Error() string { return "certify: requestId " + e.Reason }

// Issuer issues a region's certificates.
type Issuer struct {
	requests Requests
	issue    IssueFunc
	now      func() time.Time
	log      *slog.Logger
}

// New returns the issuer; now dates the audit record.
func New(requests Requests, issue IssueFunc, now func() time.Time, log *slog.Logger) *Issuer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	return &Issuer{requests: requests, issue: issue, now: now, log: log}
}

// Handle issues the request's certificate unless it has one. Concurrent or
// repeated calls store one certificate: the write is conditional on the
// request having none.
func (i *Issuer) Handle(ctx context.Context, in Input) (Output, error) {
	if _, err := erasure.ParseID(in.RequestID); err != nil {
		return Output{}, &InvalidInput{Reason: "must look like er_<region>_<uuidv7>"}
	}
	r, err := i.requests.Get(ctx, in.RequestID)
	if errors.Is(err, erasure.ErrNotFound) {
		return Output{}, &RequestNotFound{RequestID: in.RequestID}
	}
	if err != nil {
		return Output{}, err
	}
	if r.Status != erasure.StatusCompleted {
		return Output{}, &NotCompleted{RequestID: r.ID, Status: r.Status}
	}
	if r.Certificate != "" {
		return Output{RequestID: r.ID}, nil
	}
	if r.Commitment == nil || r.CompletedAt == nil {
		return Output{}, fmt.Errorf("request %s has no subject commitment or completion time to certify", r.ID)
	}
	jws, kid, err := i.issue(ctx, r)
	if err != nil {
		return Output{}, err
	}
	issued := false
	_, err = i.requests.Change(ctx, r.ID, func(cur *erasure.Request) ([]audit.Record, error) {
		if cur.Certificate != "" {
			return nil, erasure.ErrUnchanged
		}
		cur.Certificate, issued = jws, true
		rec, err := audit.New(cur.ID, i.now(), Actor, audit.ActionCertificateIssued, map[string]string{"keyId": kid})
		if err != nil {
			return nil, err
		}
		return []audit.Record{rec}, nil
	})
	if err != nil && !errors.Is(err, erasure.ErrUnchanged) {
		return Output{}, err
	}
	i.log.InfoContext(ctx, "certificate of erasure", "requestId", r.ID, "issued", issued, "keyId", kid)
	return Output{RequestID: r.ID, Issued: issued, KeyID: kid}, nil
}

// Certify issues the request's certificate in the background, for the API
// under lethe local (on AWS the API invokes the certify function
// asynchronously instead). Failures are logged; the request stays
// completed, and GET /erasures/{id}/certificate says it is pending.
func (i *Issuer) Certify(ctx context.Context, requestID string) error {
	go func() {
		if _, err := i.Handle(context.WithoutCancel(ctx), Input{RequestID: requestID}); err != nil {
			i.log.ErrorContext(ctx, "certificate not issued", "requestId", requestID, "error", err.Error())
		}
	}()
	return nil
}

// Signing is the IssueFunc of a region whose certificates s signs: the
// claims of the request (internal/proof) as a compact JWS. A failure of the
// signer that may pass is a SigningUnavailable, which the machine retries.
func Signing(s proof.Signer, region, awsRegion string) IssueFunc {
	issuer := proof.Issuer(region, awsRegion)
	return func(ctx context.Context, r erasure.Request) (string, string, error) {
		jws, kid, err := proof.Issue(ctx, s, proof.NewClaims(r, region, issuer, *r.CompletedAt, *r.Commitment))
		if err != nil && proof.Transient(err) {
			return "", "", &SigningUnavailable{Err: err}
		}
		return jws, kid, err
	}
}

// Keys is the region's public keys as GET /keys answers them (api.KeySet).
type Keys struct{ signers []proof.Signer }

// KeysOf is the key set of the signers.
func KeysOf(signers ...proof.Signer) Keys { return Keys{signers: signers} }

// JWKS is the key set as JSON.
func (k Keys) JWKS(ctx context.Context) ([]byte, error) {
	set, err := proof.KeySet(ctx, k.signers...)
	if err != nil {
		return nil, err
	}
	return json.Marshal(set)
}
