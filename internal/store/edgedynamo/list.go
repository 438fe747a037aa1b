package edgedynamo

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lethe-erasure/lethe/internal/edge"
)

// The operator listings (GET /tenants, /erasures, /receipts) read the
// listing index of their table: partition kind, so that one Query in
// index order returns a page and reads about as much as it returns, and
// ExclusiveStartKey is the cursor. Why this shape:
//
//   - A Scan reads in hash order, not in the order a listing promises (by
//     tenant key, newest first), so each page would have to scan the
//     whole table and sort it: every page of a directory of a Shopify
//     app's thousands of shops would read all of them.
//   - Every item already has kind, so DynamoDB fills the index from the
//     items there when it is added: the receipts and records written
//     before the listings are listed too. The partition holds only what
//     its listing shows (kind=global leaves the Idempotency-Key bindings
//     out), but for the deliveries table's hour alert receipts (at most
//     one per tenant, kind of alert and hour) and receipts past their
//     expiry that the TTL has not deleted yet, which a filter drops.
//   - A receipt's receivedAt is kept from its first claim (if_not_exists),
//     so its place in the index never moves while the provider retries; a
//     global id is eg_ and a UUIDv7, so pk is the creation order.
//   - No day partitions ("day#2026-05-04"): they would not spread the
//     writes (all of a day's claims and settles go to that day's
//     partition, as here to the one), and a walk back over the receipts'
//     35 days would pay a Query per quiet day. One index partition takes
//     1,000 writes a second; the edge stage's throttle (100 requests a
//     second, bursts of 200, a claim and a settle each) keeps deliveries
//     below half of that. What a page reads is bounded instead: at most
//     maxListQueries queries of at most limit+1 items each, however long
//     the table.
//   - Eventually consistent, as every GSI: a delivery of the last second
//     may be missing or show its previous state.

// Cursor names of the listings: a cursor of one listing is refused by the
// others.
const (
	CursorTenants  = "tenants"
	CursorReceipts = "receipts"
	CursorGlobals  = "globals"
)

// Cursor is where a page of a listing ended, as both edge stores hand it
// out in next (base64url of its JSON): the listing, the pk of the last
// item read and, for receipts, that item's receivedAt as stored. It names
// only what the listing showed its caller; a forged one starts a page
// wherever it points, in a listing the caller may read whole anyway.
// Exported for the embedded edge store, so that its cursors read alike.
type Cursor struct {
	List string `json:"l"`
	PK   string `json:"k"`
	At   string `json:"t,omitempty"`
}

// maxCursorPK bounds a cursor's pk: tenant keys, delivery keys and global
// ids are far shorter.
const maxCursorPK = 512

// Encode is the cursor as next carries it.
func (c Cursor) Encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor reads a cursor of list; anything else, a cursor of another
// listing included, is edge.ErrInvalidCursor.
func DecodeCursor(s, list string) (Cursor, error) {
	bad := func(why string) (Cursor, error) { return Cursor{}, fmt.Errorf("%w: %s", edge.ErrInvalidCursor, why) }
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return bad("not base64url")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var c Cursor
	if err := dec.Decode(&c); err != nil {
		return bad("not a cursor")
	}
	if _, err := dec.Token(); err != io.EOF {
		return bad("not a cursor")
	}
	switch {
	case c.List != list:
		return bad("not a cursor of this listing")
	case c.PK == "" || len(c.PK) > maxCursorPK || !utf8.ValidString(c.PK):
		return bad("no position")
	case list == CursorReceipts && (c.At == "" || FormatTime(ParseTime(c.At)) != c.At):
		return bad("no receipt time")
	case list != CursorReceipts && c.At != "":
		return bad("a receipt time in another listing")
	}
	return c, nil
}

// maxListQueries bounds the queries of one page: only the receipts'
// filter (hour alerts, receipts past their expiry that DynamoDB has not
// deleted yet) makes a page take more than one. A page that reaches the
// bound is answered short, with the cursor of where it stopped.
const maxListQueries = 10

// maxListLimit bounds a page whatever the caller asks (the API asks
// edge.MaxListLimit at most).
const maxListLimit = 1000

// listing is one listing's part of a table's listing index.
type listing struct {
	op, cursor, table, kind string
	// sortKey is the index's sort key when it is not pk.
	sortKey     string
	newestFirst bool
	// filter drops items after they are read, with its values.
	filter string
	names  map[string]string
	values map[string]types.AttributeValue
}

// start is the ExclusiveStartKey of a cursor: the index's keys and pk.
func (l listing) start(c Cursor) map[string]types.AttributeValue {
	k := map[string]types.AttributeValue{AttrKind: str(l.kind), AttrPK: str(c.PK)}
	if l.sortKey != "" {
		k[l.sortKey] = str(c.At)
	}
	return k
}

// cursorAt is the cursor of an item or of a LastEvaluatedKey, which hold
// the same key attributes.
func (l listing) cursorAt(item map[string]types.AttributeValue) string {
	c := Cursor{List: l.cursor}
	if v, ok := item[AttrPK].(*types.AttributeValueMemberS); ok {
		c.PK = v.Value
	}
	if v, ok := item[l.sortKey].(*types.AttributeValueMemberS); ok && l.sortKey != "" {
		c.At = v.Value
	}
	return c.Encode()
}

// page reads up to limit items after cursor, and the cursor of the next
// page: one more item is read to know whether there is one, so the last
// page has none.
func (s *Store) page(ctx context.Context, l listing, limit int, cursor string) ([]map[string]types.AttributeValue, string, error) {
	limit = min(max(limit, 1), maxListLimit)
	in := &dynamodb.QueryInput{
		TableName:                 &l.table,
		IndexName:                 aws.String(IndexListing),
		KeyConditionExpression:    aws.String("#kind = :kind"),
		ExpressionAttributeNames:  map[string]string{"#kind": AttrKind},
		ExpressionAttributeValues: map[string]types.AttributeValue{":kind": str(l.kind)},
		ScanIndexForward:          aws.Bool(!l.newestFirst),
	}
	if l.filter != "" {
		in.FilterExpression = aws.String(l.filter)
		for k, v := range l.names {
			in.ExpressionAttributeNames[k] = v
		}
		for k, v := range l.values {
			in.ExpressionAttributeValues[k] = v
		}
	}
	var start map[string]types.AttributeValue
	if cursor != "" {
		c, err := DecodeCursor(cursor, l.cursor)
		if err != nil {
			return nil, "", err
		}
		start = l.start(c)
	}
	var out []map[string]types.AttributeValue
	for range maxListQueries {
		in.ExclusiveStartKey = start
		in.Limit = aws.Int32(int32(limit + 1 - len(out)))
		page, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, "", classify(l.op, err)
		}
		for _, it := range page.Items {
			if len(out) == limit {
				return out, l.cursorAt(out[limit-1]), nil
			}
			out = append(out, it)
		}
		if len(page.LastEvaluatedKey) == 0 {
			return out, "", nil
		}
		start = page.LastEvaluatedKey
	}
	return out, l.cursorAt(start), nil
}

// decodePage decodes a page's items and makes each what the edge reads.
func decodePage[I, T any](op string, items []map[string]types.AttributeValue, conv func(I) T) ([]T, error) {
	var its []I
	if err := attributevalue.UnmarshalListOfMaps(items, &its); err != nil {
		return nil, fmt.Errorf("%s: decode: %w", op, err)
	}
	out := make([]T, len(its))
	for i, it := range its {
		out[i] = conv(it)
	}
	return out, nil
}

// ListTenants implements edge.Directory: the tenants partition of the
// listing index, in key order.
func (s *Store) ListTenants(ctx context.Context, limit int, cursor string) ([]edge.Tenant, string, error) {
	const op = "list tenants"
	items, next, err := s.page(ctx, listing{op: op, cursor: CursorTenants, table: s.tables.Tenants, kind: KindTenant}, limit, cursor)
	if err != nil {
		return nil, "", err
	}
	out, err := decodePage(op, items, tenantItem.tenant)
	return out, next, err
}

// ListReceipts implements edge.Deliveries: the deliveries partition of the
// listing index backwards, hour alert receipts and receipts past their
// expiry (by the store's clock, as Held reads the quarantine) dropped.
func (s *Store) ListReceipts(ctx context.Context, limit int, cursor string) ([]edge.Receipt, string, error) {
	const op = "list receipts"
	l := listing{op: op, cursor: CursorReceipts, table: s.tables.Deliveries, kind: KindDelivery, sortKey: AttrReceivedAt, newestFirst: true,
		filter: "(attribute_not_exists(#outcome) OR #outcome <> :alerted) AND " + AttrExpiresAt + " >= :now",
		names:  map[string]string{"#outcome": "outcome"},
		values: map[string]types.AttributeValue{":alerted": str(edge.OutcomeAlerted), ":now": num(s.now().Unix())},
	}
	items, next, err := s.page(ctx, l, limit, cursor)
	if err != nil {
		return nil, "", err
	}
	out, err := decodePage(op, items, deliveryItem.receipt)
	return out, next, err
}

// ListGlobals implements edge.Globals: the global erasures' partition of
// the listing index backwards (the Idempotency-Key bindings have a
// partition of their own).
func (s *Store) ListGlobals(ctx context.Context, limit int, cursor string) ([]edge.Global, string, error) {
	const op = "list global erasures"
	l := listing{op: op, cursor: CursorGlobals, table: s.tables.Global, kind: KindGlobal, newestFirst: true}
	items, next, err := s.page(ctx, l, limit, cursor)
	if err != nil {
		return nil, "", err
	}
	out, err := decodePage(op, items, globalItem.global)
	return out, next, err
}
