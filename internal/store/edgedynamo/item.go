package edgedynamo

import (
	"net/http"
	"time"

	"github.com/lethe-erasure/lethe/internal/edge"
)

// The tables' layouts. Each table has the partition key pk (S) only and the
// TTL attribute expiresAt (epoch seconds) where items expire.
//
//	tenants     kind=tenant       pk = tenant key; region, registeredAt, updatedAt (no TTL)
//	deliveries  kind=delivery     pk = edge.DeliveryKey(provider, tenant, delivery id);
//	                              provider, deliveryId, tenantHash, receivedIn, forwardedTo,
//	                              state, outcome, receivedAt, updatedAt, claim, leaseUntil
//	                              (epoch ms), attempts, expiresAt
//	quarantine  kind=held         pk = edge.QuarantineID(delivery key); the delivery's body (B),
//	                              forwarded headers and query, tenant key and hash, ids,
//	                              verified, receivedAt, expiresAt
//	global      kind=global       pk = global id (eg_<uuidv7>); createdAt, updatedAt,
//	                              regions [{region, requestId, status}] (never a subject)
//	            kind=idempotency  pk = "idem#" + hex(SHA-256(Idempotency-Key)); globalId,
//	                              planHash (of the tenants), expiresAt
//
// The tenants, deliveries and global tables have one global secondary
// index each, "listing" (IndexListing, every attribute projected), which
// the operator listings query a page at a time (list.go says why this
// shape):
//
//	tenants     partition kind, sort pk          (tenant key order)
//	deliveries  partition kind, sort receivedAt  (newest first, read backwards)
//	global      partition kind, sort pk          (eg_<uuidv7>: newest first, read backwards)
//
// DynamoDB refuses an empty string as an index key, so a receipt is always
// claimed with its receipt time (the fan-out's are).
const (
	// AttrPK is every table's partition key.
	AttrPK = "pk"
	// AttrKind is every item's kind: the listing index's partition key.
	AttrKind = "kind"
	// AttrReceivedAt is a receipt's first receipt time: the listing
	// index's sort key on the deliveries table.
	AttrReceivedAt = "receivedAt"
	// IndexListing is the listing index of the tenants, deliveries and
	// global tables.
	IndexListing = "listing"
	// AttrExpiresAt is the TTL attribute.
	AttrExpiresAt = "expiresAt"

	// Item kinds.
	KindTenant      = "tenant"
	KindDelivery    = "delivery"
	KindHeld        = "held"
	KindGlobal      = "global"
	KindIdempotency = "idempotency"

	// IdempotencyPrefix starts the key of an Idempotency-Key binding in the
	// global table ("idem#" + hex(SHA-256(key))), which global ids (eg_...)
	// never start with.
	IdempotencyPrefix = "idem#"
)

// timeFormat is RFC 3339 in UTC with milliseconds: fixed width, sorts as
// text.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

// FormatTime is how the edge tables store a time: RFC 3339 in UTC with
// milliseconds, "" for the zero time. Exported so that the embedded edge
// store (internal/store/edgeembedded) writes the same values.
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeFormat)
}

// ParseTime reads a time FormatTime wrote; "" or anything unreadable is the
// zero time.
func ParseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// FromUnixMilli reads an epoch-milliseconds attribute (a delivery's lease);
// 0 is the zero time.
func FromUnixMilli(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// FromUnix reads an epoch-seconds attribute (the TTL attribute expiresAt);
// 0 is the zero time.
func FromUnix(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0).UTC()
}

type tenantItem struct {
	PK           string `dynamodbav:"pk"`
	Kind         string `dynamodbav:"kind"`
	Region       string `dynamodbav:"region"`
	RegisteredAt string `dynamodbav:"registeredAt"`
	UpdatedAt    string `dynamodbav:"updatedAt"`
}

func (it tenantItem) tenant() edge.Tenant {
	return edge.Tenant{Key: it.PK, Region: it.Region, RegisteredAt: ParseTime(it.RegisteredAt), UpdatedAt: ParseTime(it.UpdatedAt)}
}

type deliveryItem struct {
	PK          string   `dynamodbav:"pk"`
	Kind        string   `dynamodbav:"kind"`
	Provider    string   `dynamodbav:"provider"`
	DeliveryID  string   `dynamodbav:"deliveryId"`
	TenantHash  string   `dynamodbav:"tenantHash"`
	ReceivedIn  string   `dynamodbav:"receivedIn"`
	ForwardedTo []string `dynamodbav:"forwardedTo"`
	State       string   `dynamodbav:"state"`
	Outcome     string   `dynamodbav:"outcome"`
	ReceivedAt  string   `dynamodbav:"receivedAt"`
	UpdatedAt   string   `dynamodbav:"updatedAt"`
	Claim       string   `dynamodbav:"claim"`
	LeaseUntil  int64    `dynamodbav:"leaseUntil"`
	Attempts    int      `dynamodbav:"attempts"`
	ExpiresAt   int64    `dynamodbav:"expiresAt"`
}

func (it deliveryItem) receipt() edge.Receipt {
	return edge.Receipt{
		Key:         it.PK,
		Provider:    it.Provider,
		DeliveryID:  it.DeliveryID,
		TenantHash:  it.TenantHash,
		ReceivedIn:  it.ReceivedIn,
		ForwardedTo: it.ForwardedTo,
		State:       edge.State(it.State),
		Outcome:     it.Outcome,
		ReceivedAt:  ParseTime(it.ReceivedAt),
		UpdatedAt:   ParseTime(it.UpdatedAt),
		Claim:       it.Claim,
		LeaseUntil:  FromUnixMilli(it.LeaseUntil),
		Attempts:    it.Attempts,
		ExpiresAt:   FromUnix(it.ExpiresAt),
	}
}

type heldItem struct {
	PK          string              `dynamodbav:"pk"`
	Kind        string              `dynamodbav:"kind"`
	DeliveryKey string              `dynamodbav:"deliveryKey,omitempty"`
	Provider    string              `dynamodbav:"provider"`
	Tenant      string              `dynamodbav:"tenant,omitempty"`
	TenantHash  string              `dynamodbav:"tenantHash"`
	DeliveryID  string              `dynamodbav:"deliveryId"`
	Topic       string              `dynamodbav:"topic"`
	Verified    bool                `dynamodbav:"verified"`
	Body        []byte              `dynamodbav:"body,omitempty"`
	Header      map[string][]string `dynamodbav:"header,omitempty"`
	RawQuery    string              `dynamodbav:"rawQuery,omitempty"`
	ReceivedAt  string              `dynamodbav:"receivedAt"`
	ExpiresAt   int64               `dynamodbav:"expiresAt"`
}

func newHeldItem(h edge.Held) heldItem {
	return heldItem{
		PK: h.ID, Kind: KindHeld, DeliveryKey: h.DeliveryKey, Provider: h.Provider, Tenant: h.Tenant, TenantHash: h.TenantHash,
		DeliveryID: h.DeliveryID, Topic: h.Topic, Verified: h.Verified, Body: h.Body, Header: h.Header, RawQuery: h.RawQuery,
		ReceivedAt: FormatTime(h.ReceivedAt), ExpiresAt: h.ExpiresAt.Unix(),
	}
}

func (it heldItem) held() edge.Held {
	var h http.Header
	if it.Header != nil {
		h = http.Header(it.Header)
	}
	return edge.Held{
		ID: it.PK, DeliveryKey: it.DeliveryKey, Provider: it.Provider, Tenant: it.Tenant, TenantHash: it.TenantHash,
		DeliveryID: it.DeliveryID, Topic: it.Topic, Verified: it.Verified, Body: it.Body, Header: h, RawQuery: it.RawQuery,
		ReceivedAt: ParseTime(it.ReceivedAt), ExpiresAt: FromUnix(it.ExpiresAt),
	}
}

type globalRegionItem struct {
	Region    string `dynamodbav:"region"`
	RequestID string `dynamodbav:"requestId"`
	Status    string `dynamodbav:"status,omitempty"`
}

type globalItem struct {
	PK        string             `dynamodbav:"pk"`
	Kind      string             `dynamodbav:"kind"`
	CreatedAt string             `dynamodbav:"createdAt"`
	UpdatedAt string             `dynamodbav:"updatedAt,omitempty"`
	Regions   []globalRegionItem `dynamodbav:"regions"`
}

func newGlobalRegions(rs []edge.GlobalRegion) []globalRegionItem {
	out := make([]globalRegionItem, len(rs))
	for i, r := range rs {
		out[i] = globalRegionItem(r)
	}
	return out
}

func newGlobalItem(g edge.Global) globalItem {
	return globalItem{PK: g.ID, Kind: KindGlobal, CreatedAt: FormatTime(g.CreatedAt), UpdatedAt: FormatTime(g.UpdatedAt), Regions: newGlobalRegions(g.Regions)}
}

func (it globalItem) global() edge.Global {
	g := edge.Global{ID: it.PK, CreatedAt: ParseTime(it.CreatedAt), UpdatedAt: ParseTime(it.UpdatedAt)}
	for _, r := range it.Regions {
		g.Regions = append(g.Regions, edge.GlobalRegion(r))
	}
	return g
}

type idemItem struct {
	PK        string `dynamodbav:"pk"`
	Kind      string `dynamodbav:"kind"`
	GlobalID  string `dynamodbav:"globalId"`
	PlanHash  string `dynamodbav:"planHash"`
	ExpiresAt int64  `dynamodbav:"expiresAt"`
}
