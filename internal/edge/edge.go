// Package edge is Lethe's edge: the one URL integrations post webhooks to,
// the tenant directory (tenant key -> home region), the region redirect, the
// quarantine of unknown tenants' deliveries and global erasures filed with
// every region that owns one of a subject's tenants. It serves two Lambda
// functions behind API Gateway HTTP APIs (payload format 2.0): Fanout
// (public: POST /webhooks/{provider}, GET /t/{tenant}/...) and API (IAM
// authorised: /tenants, /quarantine, /erasures, /receipts).
//
// The rule the package exists for: a webhook body, which may carry personal
// data, reaches the tenant's home region and no other. A tenant the
// directory does not know is never broadcast; its delivery is held in the
// edge's own encrypted quarantine (short TTL) until an operator registers
// the tenant and releases it. Only topics configured as carrying no
// personal data (edge.multicastTopics), of a tenant the directory does not
// know yet and whose signature the edge could verify, go to every region;
// a known tenant's deliveries go to its home region whatever their topic.
//
// What the edge keeps: the directory (no personal data), one residency
// receipt per delivery (ids, a hash of the tenant key, where it was
// received and where it went; never a body or a header), quarantined
// deliveries (body and signature headers, until released or expired) and
// global erasure records (ids and states; never the subject id, which goes
// to the regions that own one of the tenants and nowhere else).
//
// Decisions the issue leaves open, taken here:
//   - The signature is verified before anything is written, with the edge's
//     own copy of the tenant's secret (Secrets Manager,
//     lethe/edge/webhooks/<provider>/<tenant>). A known tenant without one
//     is a deployment fault: 503 and an ops alert, so the provider retries
//     once it is fixed. An unknown tenant usually has no secret at the edge
//     either: its delivery cannot be verified, so it is quarantined
//     unverified (the receipt and the listing say so); the home region
//     re-verifies it with its own secret when it is released (by the
//     receiver's IAM-authorised release route, SigV4-signed, where the
//     signed timestamp may be as old as the quarantine). One with a
//     secret at the edge is verified like any other, and a bad signature is
//     a 401 with nothing stored.
//   - De-duplication is a conditional write on the delivery's receipt:
//     claimed -> forwarded | quarantined, or released when no region took
//     it. A duplicate of a forwarded delivery answers 200 and forwards
//     nothing; of a quarantined one 202; one still in flight 409 with
//     Retry-After. A claim whose invocation died is taken over after its
//     lease (a little longer than the function's timeout).
//   - A region that is down after the forwarder's bounded retries gets
//     nothing stored: the claim is released, ops are alerted and the
//     provider gets 503 with Retry-After; its own retry schedule is the
//     durable retry. A region answering 409 (it does not own the tenant:
//     the directory is wrong) or another 4xx (it refused the signature) is
//     a 502 with an alert; the claim is released too, so a fixed directory
//     or secret lets the provider's next retry through.
//   - A duplicate of a quarantined delivery stays quarantined (202) even if
//     the tenant has been registered since: release is the one way out, so
//     that an operator sees every held delivery go.
//   - Changing a registered tenant's home region needs {"move": true}: a
//     move re-routes personal data, and re-running a registration script
//     with a typo must not do that silently.
package edge

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// Tenant is one entry of the tenant directory. It holds no personal data:
// a tenant key is a shop domain, a help desk subdomain or a Lethe tenant id.
type Tenant struct {
	// Key is the tenant key as providers name it (eu-shop.myshopify.com).
	Key string
	// Region is the short name of the tenant's home region.
	Region       string
	RegisteredAt time.Time
	UpdatedAt    time.Time
}

// State is where a delivery's receipt stands.
type State string

// Receipt states. A receipt moves claimed -> forwarded | quarantined, or
// claimed -> released when no region accepted it (a later retry of the
// provider claims it again), or claimed -> rejected when the home region
// refused it with a 4xx (a retry would be refused again: it is answered
// from the receipt, and not forwarded or alerted on again).
const (
	StateClaimed     State = "claimed"
	StateForwarded   State = "forwarded"
	StateQuarantined State = "quarantined"
	StateReleased    State = "released"
	StateRejected    State = "rejected"
)

// Outcomes recorded on receipts: what happened to the delivery the last
// time the edge handled it.
const (
	OutcomeForwarded         = "forwarded"
	OutcomeQuarantined       = "quarantined"
	OutcomeReleased          = "released_from_quarantine"
	OutcomeRegionUnavailable = "region_unavailable"
	OutcomeMisrouted         = "misrouted"
	OutcomeRegionRejected    = "region_rejected"
	OutcomeNotHeld           = "quarantine_unavailable"
	// OutcomeAlerted settles an hour's alert receipt (firstThisHour).
	OutcomeAlerted = "alerted"
)

// ForwardedToQuarantine is the forwarded-to value of a quarantined
// delivery's receipt.
const ForwardedToQuarantine = "quarantine"

// Receipt is the residency receipt of one delivery and its de-duplication
// record at once: which delivery, of which tenant (hashed), received in
// which AWS region, forwarded to which Lethe region(s). It never holds a
// body or a header.
type Receipt struct {
	// Key identifies the delivery: DeliveryKey(provider, tenant, id).
	Key        string
	Provider   string
	DeliveryID string
	TenantHash string
	// ReceivedIn is the AWS region of the edge that took the delivery.
	ReceivedIn string
	// ForwardedTo lists the Lethe regions that accepted the delivery, or
	// ForwardedToQuarantine.
	ForwardedTo []string
	State       State
	Outcome     string
	ReceivedAt  time.Time
	UpdatedAt   time.Time
	// Claim is the token of the invocation holding a claimed delivery;
	// LeaseUntil is when another invocation may take the claim over.
	Claim      string
	LeaseUntil time.Time
	// Attempts counts the claims, i.e. how often the provider sent it
	// before it was settled.
	Attempts int
	// ExpiresAt is when the receipt is deleted (DynamoDB TTL).
	ExpiresAt time.Time
}

// Held is a delivery held in the quarantine: the one place the edge keeps
// a webhook body, for an unknown tenant, until it is released or expires.
type Held struct {
	// ID is what operators release it by: QuarantineID(delivery key).
	ID          string
	DeliveryKey string
	Provider    string
	// Tenant is the tenant key the delivery names; kept (encrypted with
	// the table) so that a release can look it up in the directory, but
	// never listed: listings show TenantHash.
	Tenant     string
	TenantHash string
	DeliveryID string
	Topic      string
	// Verified says whether the edge could check the signature (it had a
	// secret for the tenant). An unverified delivery is re-verified by the
	// home region on release.
	Verified bool
	Body     []byte
	// Header holds the headers the region needs to verify the delivery
	// again, unchanged; RawQuery the forwarded query parameters.
	Header     http.Header
	RawQuery   string
	ReceivedAt time.Time
	ExpiresAt  time.Time
}

// Global is the edge's record of a global erasure: which regional
// erasure it became in each region involved. It never holds the subject id
// (nor a hash of it) nor the tenants.
type Global struct {
	ID        string
	CreatedAt time.Time
	Regions   []GlobalRegion
	UpdatedAt time.Time
}

// GlobalRegion is one regional erasure of a global one.
type GlobalRegion struct {
	Region    string
	RequestID string
	// Status is the last state the region reported ("" until read).
	Status string
}

// Directory is the tenant directory. The DynamoDB adapter
// (internal/store/edgedynamo) implements it; tests use an in-memory fake.
type Directory interface {
	// Tenant returns the tenant or ErrNotFound.
	Tenant(ctx context.Context, key string) (Tenant, error)
	// PutTenant registers key in region. Registering it again in the same
	// region changes nothing (changed=false). A tenant registered in
	// another region is moved only when move is true, else the error is a
	// *TenantConflict naming the current region.
	PutTenant(ctx context.Context, key, region string, move bool, now time.Time) (stored Tenant, created, changed bool, err error)
	// ListTenants returns up to limit tenants in tenant key order, from
	// the start ("" cursor) or after where the page that handed out cursor
	// ended, and the cursor of the next page ("" after the last). A
	// cursor the store did not hand out is ErrInvalidCursor.
	ListTenants(ctx context.Context, limit int, cursor string) (page []Tenant, next string, err error)
}

// Deliveries is the de-duplication and receipt store.
type Deliveries interface {
	// Claim takes the delivery r.Key for the invocation r.Claim, unless it
	// was forwarded or quarantined already or another invocation's claim
	// holds it until after now: then claimed is false and current is the
	// receipt as stored.
	Claim(ctx context.Context, r Receipt, now time.Time) (current Receipt, claimed bool, err error)
	// Settle records the end of a claimed delivery (State forwarded,
	// quarantined or released, Outcome, ForwardedTo) if r.Claim still
	// holds it, else ErrClaimLost.
	Settle(ctx context.Context, r Receipt) error
	// Released records that a quarantined delivery was forwarded to
	// regions on an operator's release. It is idempotent, and a receipt
	// that is gone is no error.
	Released(ctx context.Context, key string, regions []string, now time.Time) error
	// ListReceipts returns up to limit receipts, newest first (by
	// ReceivedAt), paged as Directory.ListTenants. The hour alerts'
	// throttle receipts (OutcomeAlerted), which share the table, and
	// receipts past their expiry are left out. The listing may lag the
	// writes by a moment (DynamoDB: an index).
	ListReceipts(ctx context.Context, limit int, cursor string) (page []Receipt, next string, err error)
}

// Quarantine holds unknown tenants' deliveries.
type Quarantine interface {
	// Hold stores h unless a delivery with its ID is held already (then it
	// does nothing: retries converge).
	Hold(ctx context.Context, h Held) error
	// Held returns the held delivery, body and headers included, or
	// ErrNotFound.
	Held(ctx context.Context, id string) (Held, error)
	// List returns up to limit held deliveries, newest first, without body,
	// headers or tenant key.
	List(ctx context.Context, limit int) ([]Held, error)
	// Drop deletes a held delivery; dropping one that is gone is no error.
	Drop(ctx context.Context, id string) error
}

// Globals stores global erasure records.
type Globals interface {
	// CreateGlobal stores g. Storing the same id again overwrites nothing
	// but the regions' request ids, which a replay finds unchanged.
	CreateGlobal(ctx context.Context, g Global) error
	// Global returns the record or ErrNotFound.
	Global(ctx context.Context, id string) (Global, error)
	// RecordStates stores the regions' last known states.
	RecordStates(ctx context.Context, id string, regions []GlobalRegion, now time.Time) error
	// ClaimIdempotencyKey binds an Idempotency-Key's hash to globalID and
	// the hash of what was asked (the tenants, not the subject). When the
	// key was bound before, it returns that binding with created=false.
	ClaimIdempotencyKey(ctx context.Context, keyHash, globalID, planHash string, expires time.Time) (boundID, boundPlan string, created bool, err error)
	// ListGlobals returns up to limit global erasure records by id,
	// highest first: newest first, since ids are eg_ and a UUIDv7
	// (NewGlobalID). Paged as Directory.ListTenants; the listing may lag
	// the writes by a moment.
	ListGlobals(ctx context.Context, limit int, cursor string) (page []Global, next string, err error)
}

// Errors of the stores that handlers map to HTTP answers.
var (
	// ErrNotFound means no such tenant, held delivery or global erasure.
	ErrNotFound = errors.New("not found")
	// ErrClaimLost means another invocation took a delivery's claim over
	// (this one outlived its lease).
	ErrClaimLost = errors.New("delivery claim lost to another invocation")
	// ErrInvalidCursor means a listing's cursor is not one the store
	// handed out in next (or one of another listing).
	ErrInvalidCursor = errors.New("invalid listing cursor")
)

// TenantConflict means a tenant is registered in another region and the
// registration did not ask to move it.
type TenantConflict struct {
	Tenant  string
	Current string
}

func (e *TenantConflict) Error() string {
	return fmt.Sprintf("tenant %s is registered in region %s", e.Tenant, e.Current)
}

// StoreUnavailable means an edge table could not be read or written for a
// reason that may pass (throttling, a network error, a DynamoDB fault).
type StoreUnavailable struct {
	Op  string
	Err error
}

func (e *StoreUnavailable) Error() string {
	return "edge table unavailable: " + e.Op + ": " + e.Err.Error()
}

// Unwrap exposes the cause.
func (e *StoreUnavailable) Unwrap() error { return e.Err }

// Hash returns hex(SHA-256(s)): how a tenant key appears in receipts,
// listings and alerts.
func Hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// DeliveryKey identifies a delivery across retries: a provider's delivery
// id is unique per provider and tenant.
func DeliveryKey(provider, tenant, deliveryID string) string {
	return Hash(provider + "\n" + tenant + "\n" + deliveryID)
}

// QuarantineID is the id an operator releases a held delivery by; derived
// from the delivery key so that holding it twice is one item.
func QuarantineID(deliveryKey string) string {
	if len(deliveryKey) > 32 {
		deliveryKey = deliveryKey[:32]
	}
	return "q_" + deliveryKey
}

var quarantineIDRE = regexp.MustCompile(`^q_[0-9a-f]{32}$`)

// regionURL joins a region's API base URL (no query or fragment, as
// config validates) and a path of already escaped segments.
func regionURL(base, escapedPath string) string {
	return strings.TrimRight(base, "/") + escapedPath
}
