package edgeembedded

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/lethe-erasure/lethe/internal/edge"
	"github.com/lethe-erasure/lethe/internal/shred"
	"github.com/lethe-erasure/lethe/internal/store/edgedynamo"
)

// The file's layout: one bbolt bucket per edge table, keyed by the table's
// partition key, each value one JSON item with the attributes (names and
// encodings) of the DynamoDB adapter's items (internal/store/edgedynamo,
// item.go), so that the two stores read alike and a dump of one explains
// the other.
//
//	meta        "version" -> "2" (layout 1 held quarantined bodies in clear)
//	tenants     tenant key -> kind=tenant, region, registeredAt, updatedAt (no TTL)
//	deliveries  edge.DeliveryKey -> kind=delivery, provider, deliveryId, tenantHash,
//	            receivedIn, forwardedTo, state, outcome, receivedAt, updatedAt, claim,
//	            leaseUntil (epoch ms), attempts, expiresAt (epoch s; 0 = never)
//	quarantine  edge.QuarantineID -> kind=held, the delivery's body, forwarded headers
//	            and query, tenant key and hash, ids, verified, receivedAt, expiresAt
//	global      global id -> kind=global, createdAt, updatedAt, regions (never a subject)
//	            "idem#" + key hash -> kind=idempotency, globalId, planHash, expiresAt
//
// expiresAt stands in for DynamoDB's TTL: an item past it reads as absent
// at once (DynamoDB deletes within days; the adapter hides what it must),
// and a sweep deletes it later.
var (
	bucketMeta       = []byte("meta")
	bucketTenants    = []byte("tenants")
	bucketDeliveries = []byte("deliveries")
	bucketQuarantine = []byte("quarantine")
	bucketGlobal     = []byte("global")

	keyVersion = []byte("version")
)

// schemaVersion is the layout above; a file of another version is refused
// rather than misread.
const schemaVersion = "2"

// Item kinds, key prefixes and time encodings are the DynamoDB adapter's
// (edgedynamo.Kind*, edgedynamo.IdempotencyPrefix, edgedynamo.FormatTime and
// its readers), so that a field holds the same value in either store.

// unixOrZero is a receipt's expiresAt: 0 (never) for a zero time, which
// DynamoDB's TTL likewise never deletes (it skips dates years past).
func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

type tenantItem struct {
	Kind         string `json:"kind"`
	Region       string `json:"region"`
	RegisteredAt string `json:"registeredAt"`
	UpdatedAt    string `json:"updatedAt"`
}

func (it tenantItem) tenant(key string) edge.Tenant {
	return edge.Tenant{Key: key, Region: it.Region, RegisteredAt: edgedynamo.ParseTime(it.RegisteredAt), UpdatedAt: edgedynamo.ParseTime(it.UpdatedAt)}
}

type deliveryItem struct {
	Kind        string   `json:"kind"`
	Provider    string   `json:"provider"`
	DeliveryID  string   `json:"deliveryId"`
	TenantHash  string   `json:"tenantHash"`
	ReceivedIn  string   `json:"receivedIn"`
	ForwardedTo []string `json:"forwardedTo,omitempty"`
	State       string   `json:"state"`
	Outcome     string   `json:"outcome,omitempty"`
	ReceivedAt  string   `json:"receivedAt"`
	UpdatedAt   string   `json:"updatedAt"`
	Claim       string   `json:"claim,omitempty"`
	LeaseUntil  int64    `json:"leaseUntil,omitempty"`
	Attempts    int      `json:"attempts"`
	ExpiresAt   int64    `json:"expiresAt"`
}

// expired is DynamoDB's TTL rule: the item is gone once expiresAt is
// before now (epoch seconds).
func (it deliveryItem) expired(now time.Time) bool {
	return it.ExpiresAt != 0 && it.ExpiresAt < now.Unix()
}

func (it deliveryItem) receipt(key string) edge.Receipt {
	return edge.Receipt{
		Key:         key,
		Provider:    it.Provider,
		DeliveryID:  it.DeliveryID,
		TenantHash:  it.TenantHash,
		ReceivedIn:  it.ReceivedIn,
		ForwardedTo: it.ForwardedTo,
		State:       edge.State(it.State),
		Outcome:     it.Outcome,
		ReceivedAt:  edgedynamo.ParseTime(it.ReceivedAt),
		UpdatedAt:   edgedynamo.ParseTime(it.UpdatedAt),
		Claim:       it.Claim,
		LeaseUntil:  edgedynamo.FromUnixMilli(it.LeaseUntil),
		Attempts:    it.Attempts,
		ExpiresAt:   edgedynamo.FromUnix(it.ExpiresAt),
	}
}

type heldItem struct {
	Kind        string `json:"kind"`
	DeliveryKey string `json:"deliveryKey,omitempty"`
	Provider    string `json:"provider"`
	Tenant      string `json:"tenant,omitempty"`
	TenantHash  string `json:"tenantHash"`
	DeliveryID  string `json:"deliveryId"`
	Topic       string `json:"topic"`
	Verified    bool   `json:"verified"`
	// Sealed holds the body, headers and query (heldPayload) sealed under
	// the delivery's own key (internal/shred).
	Sealed     string `json:"sealed,omitempty"`
	ReceivedAt string `json:"receivedAt"`
	ExpiresAt  int64  `json:"expiresAt"`
}

// heldPayload is what a held delivery seals: what may carry personal data.
type heldPayload struct {
	Body     []byte              `json:"body,omitempty"`
	Header   map[string][]string `json:"header,omitempty"`
	RawQuery string              `json:"rawQuery,omitempty"`
}

// heldListing is what a listing decodes of a held item: no body, headers,
// query or tenant key (the fields of the adapter's scan projection).
type heldListing struct {
	Kind       string `json:"kind"`
	Provider   string `json:"provider"`
	TenantHash string `json:"tenantHash"`
	DeliveryID string `json:"deliveryId"`
	Topic      string `json:"topic"`
	Verified   bool   `json:"verified"`
	ReceivedAt string `json:"receivedAt"`
	ExpiresAt  int64  `json:"expiresAt"`
}

// heldGone is the adapter's rule for held deliveries: one whose expiry is
// now or past is gone (Held and List agree on the boundary).
func heldGone(expiresAt int64, now time.Time) bool { return expiresAt <= now.Unix() }

func newHeldItem(h edge.Held, keys *shred.Keys) (heldItem, error) {
	payload, err := json.Marshal(heldPayload{Body: h.Body, Header: h.Header, RawQuery: h.RawQuery})
	if err != nil {
		return heldItem{}, err
	}
	sealed, err := keys.Seal(h.ID, payload)
	if err != nil {
		return heldItem{}, err
	}
	return heldItem{
		Kind: edgedynamo.KindHeld, DeliveryKey: h.DeliveryKey, Provider: h.Provider, Tenant: h.Tenant, TenantHash: h.TenantHash,
		DeliveryID: h.DeliveryID, Topic: h.Topic, Verified: h.Verified, Sealed: sealed,
		ReceivedAt: edgedynamo.FormatTime(h.ReceivedAt), ExpiresAt: h.ExpiresAt.Unix(),
	}, nil
}

func (it heldItem) held(id string, keys *shred.Keys) (edge.Held, error) {
	var p heldPayload
	if it.Sealed != "" {
		raw, err := keys.Unseal(id, it.Sealed)
		if err != nil {
			return edge.Held{}, fmt.Errorf("held delivery %s: %w", id, err)
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			return edge.Held{}, fmt.Errorf("held delivery %s: %w", id, err)
		}
	}
	var h http.Header
	if p.Header != nil {
		h = http.Header(p.Header)
	}
	return edge.Held{
		ID: id, DeliveryKey: it.DeliveryKey, Provider: it.Provider, Tenant: it.Tenant, TenantHash: it.TenantHash,
		DeliveryID: it.DeliveryID, Topic: it.Topic, Verified: it.Verified, Body: p.Body, Header: h, RawQuery: p.RawQuery,
		ReceivedAt: edgedynamo.ParseTime(it.ReceivedAt), ExpiresAt: edgedynamo.FromUnix(it.ExpiresAt),
	}, nil
}

func (it heldListing) held(id string) edge.Held {
	return edge.Held{
		ID: id, Provider: it.Provider, TenantHash: it.TenantHash, DeliveryID: it.DeliveryID, Topic: it.Topic,
		Verified: it.Verified, ReceivedAt: edgedynamo.ParseTime(it.ReceivedAt), ExpiresAt: edgedynamo.FromUnix(it.ExpiresAt),
	}
}

type globalRegionItem struct {
	Region    string `json:"region"`
	RequestID string `json:"requestId"`
	Status    string `json:"status,omitempty"`
}

type globalItem struct {
	Kind      string             `json:"kind"`
	CreatedAt string             `json:"createdAt"`
	UpdatedAt string             `json:"updatedAt,omitempty"`
	Regions   []globalRegionItem `json:"regions"`
}

func newGlobalRegions(rs []edge.GlobalRegion) []globalRegionItem {
	out := make([]globalRegionItem, len(rs))
	for i, r := range rs {
		out[i] = globalRegionItem(r)
	}
	return out
}

func (it globalItem) global(id string) edge.Global {
	g := edge.Global{ID: id, CreatedAt: edgedynamo.ParseTime(it.CreatedAt), UpdatedAt: edgedynamo.ParseTime(it.UpdatedAt)}
	for _, r := range it.Regions {
		g.Regions = append(g.Regions, edge.GlobalRegion(r))
	}
	return g
}

type idemItem struct {
	Kind      string `json:"kind"`
	GlobalID  string `json:"globalId"`
	PlanHash  string `json:"planHash"`
	ExpiresAt int64  `json:"expiresAt"`
}

// idemGone is the adapter's rule for an Idempotency-Key binding: it may be
// bound anew once its expiry is before now.
func idemGone(expiresAt int64, now time.Time) bool { return expiresAt < now.Unix() }

// decode reads one item; a value that is not the layout's JSON is a
// damaged file, reported with the bucket and the operation.
func decode(op string, bucket []byte, raw []byte, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%s: decode %s item: %w", op, bucket, err)
	}
	return nil
}

// encode writes one item.
func encode(op string, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%s: encode: %w", op, err)
	}
	return b, nil
}
