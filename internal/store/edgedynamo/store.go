// Package edgedynamo is the DynamoDB adapter of the edge's four tables:
// the tenant directory, the deliveries (de-duplication and residency
// receipts), the quarantine and the global erasures. It owns their item
// layouts (item.go). Every write is conditional or idempotent, so retried
// invocations, concurrent deliveries of one webhook and replayed operator
// calls converge.
package edgedynamo

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lethe-erasure/lethe/internal/edge"
	"github.com/lethe-erasure/lethe/internal/store/dynamo"
)

// API is the part of the DynamoDB client the store uses; *dynamodb.Client
// satisfies it, and a test may wrap one to inject faults.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

var (
	_ API             = (*dynamodb.Client)(nil)
	_ edge.Directory  = (*Store)(nil)
	_ edge.Deliveries = (*Store)(nil)
	_ edge.Quarantine = (*Store)(nil)
	_ edge.Globals    = (*Store)(nil)
)

// Tables names the edge's four tables (LETHE_TENANTS_TABLE,
// LETHE_DELIVERIES_TABLE, LETHE_QUARANTINE_TABLE, LETHE_GLOBAL_TABLE).
type Tables struct {
	Tenants    string
	Deliveries string
	Quarantine string
	Global     string
}

// Store reads and writes the edge's tables.
type Store struct {
	db     API
	tables Tables
	now    func() time.Time
}

// New returns a store over the tables; the client is built once by the
// function's main (or a test).
func New(client API, tables Tables) *Store {
	return &Store{db: client, tables: tables, now: time.Now}
}

// WithClock returns a copy of the store reading time from now (the
// quarantine hides deliveries past their expiry, which DynamoDB's TTL
// deletes only eventually).
func (s *Store) WithClock(now func() time.Time) *Store {
	c := *s
	c.now = now
	return &c
}

// classify wraps an SDK error with what the store was doing, as an
// *edge.StoreUnavailable when it is transient (dynamo.Transient), plainly
// otherwise.
func classify(op string, err error) error {
	if dynamo.Transient(err) {
		return &edge.StoreUnavailable{Op: op, Err: err}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// conditionFailed returns the condition failure of err, if it is one.
func conditionFailed(err error) (*types.ConditionalCheckFailedException, bool) {
	var cf *types.ConditionalCheckFailedException
	return cf, errors.As(err, &cf)
}

func key(pk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrPK: &types.AttributeValueMemberS{Value: pk}}
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: fmt.Sprint(n)}
}

func strList(ss []string) types.AttributeValue {
	l := make([]types.AttributeValue, len(ss))
	for i, s := range ss {
		l[i] = str(s)
	}
	return &types.AttributeValueMemberL{Value: l}
}

// get reads one item with a strongly consistent read; found is false when
// there is none.
func (s *Store) get(ctx context.Context, op, table, pk string, v any) (found bool, err error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: key(pk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return false, classify(op, err)
	}
	if out.Item == nil {
		return false, nil
	}
	if err := attributevalue.UnmarshalMap(out.Item, v); err != nil {
		return false, fmt.Errorf("%s: decode: %w", op, err)
	}
	return true, nil
}

// oldItem decodes the item a write's condition failed on: from the failure
// itself (ReturnValuesOnConditionCheckFailure ALL_OLD), or read again when
// the failure did not carry it.
func (s *Store) oldItem(ctx context.Context, cf *types.ConditionalCheckFailedException, op, table, pk string, v any) error {
	if cf.Item == nil {
		_, err := s.get(ctx, op, table, pk, v)
		return err
	}
	if err := attributevalue.UnmarshalMap(cf.Item, v); err != nil {
		return fmt.Errorf("%s: decode: %w", op, err)
	}
	return nil
}

// Tenant implements edge.Directory.
func (s *Store) Tenant(ctx context.Context, k string) (edge.Tenant, error) {
	var it tenantItem
	found, err := s.get(ctx, "get tenant", s.tables.Tenants, k, &it)
	if err != nil {
		return edge.Tenant{}, err
	}
	if !found || it.Kind != KindTenant {
		return edge.Tenant{}, edge.ErrNotFound
	}
	return it.tenant(), nil
}

// putTenantAttempts bounds the optimistic retries of a registration that
// raced another one.
const putTenantAttempts = 5

// PutTenant implements edge.Directory: a read, then a write conditional on
// what was read (absent, or the region read), so two registrations racing
// each other cannot both believe they won.
func (s *Store) PutTenant(ctx context.Context, k, region string, move bool, now time.Time) (edge.Tenant, bool, bool, error) {
	for range putTenantAttempts {
		var cur tenantItem
		found, err := s.get(ctx, "read tenant", s.tables.Tenants, k, &cur)
		if err != nil {
			return edge.Tenant{}, false, false, err
		}
		if found && cur.Region == region {
			return cur.tenant(), false, false, nil
		}
		if found && !move {
			return edge.Tenant{}, false, false, &edge.TenantConflict{Tenant: k, Current: cur.Region}
		}
		next := tenantItem{PK: k, Kind: KindTenant, Region: region, RegisteredAt: FormatTime(now), UpdatedAt: FormatTime(now)}
		cond := "attribute_not_exists(pk)"
		values := map[string]types.AttributeValue{}
		if found {
			next.RegisteredAt = cur.RegisteredAt
			cond = "#region = :old"
			values[":old"] = str(cur.Region)
		}
		item, err := attributevalue.MarshalMap(next)
		if err != nil {
			return edge.Tenant{}, false, false, fmt.Errorf("put tenant: %w", err)
		}
		in := &dynamodb.PutItemInput{TableName: &s.tables.Tenants, Item: item, ConditionExpression: &cond}
		if found {
			in.ExpressionAttributeNames = map[string]string{"#region": "region"}
			in.ExpressionAttributeValues = values
		}
		_, err = s.db.PutItem(ctx, in)
		if _, ok := conditionFailed(err); ok {
			continue // someone else registered it meanwhile: read again
		}
		if err != nil {
			return edge.Tenant{}, false, false, classify("put tenant", err)
		}
		return next.tenant(), !found, true, nil
	}
	return edge.Tenant{}, false, false, &edge.StoreUnavailable{Op: "put tenant", Err: errors.New("concurrent registrations kept racing")}
}

// Claim implements edge.Deliveries: one conditional update that succeeds
// for a new delivery, a released one, or one whose claim's lease ran out.
func (s *Store) Claim(ctx context.Context, r edge.Receipt, now time.Time) (edge.Receipt, bool, error) {
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.tables.Deliveries,
		Key:       key(r.Key),
		UpdateExpression: aws.String("SET kind = :kind, provider = :provider, deliveryId = :delivery, tenantHash = :tenant, " +
			"receivedIn = :in, receivedAt = if_not_exists(receivedAt, :received), updatedAt = :updated, #state = :claimed, " +
			"claim = :claim, leaseUntil = :lease, attempts = if_not_exists(attempts, :zero) + :one, expiresAt = :expires"),
		ConditionExpression:      aws.String("attribute_not_exists(pk) OR #state = :released OR (#state = :claimed AND leaseUntil < :now)"),
		ExpressionAttributeNames: map[string]string{"#state": "state"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":kind":     str(KindDelivery),
			":provider": str(r.Provider),
			":delivery": str(r.DeliveryID),
			":tenant":   str(r.TenantHash),
			":in":       str(r.ReceivedIn),
			":received": str(FormatTime(r.ReceivedAt)),
			":updated":  str(FormatTime(r.UpdatedAt)),
			":claimed":  str(string(edge.StateClaimed)),
			":released": str(string(edge.StateReleased)),
			":claim":    str(r.Claim),
			":lease":    num(r.LeaseUntil.UnixMilli()),
			":now":      num(now.UnixMilli()),
			":zero":     num(0),
			":one":      num(1),
			":expires":  num(r.ExpiresAt.Unix()),
		},
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if cf, ok := conditionFailed(err); ok {
		var it deliveryItem
		if err := s.oldItem(ctx, cf, "claim delivery", s.tables.Deliveries, r.Key, &it); err != nil {
			return edge.Receipt{}, false, err
		}
		return it.receipt(), false, nil
	}
	if err != nil {
		return edge.Receipt{}, false, classify("claim delivery", err)
	}
	var it deliveryItem
	if err := attributevalue.UnmarshalMap(out.Attributes, &it); err != nil {
		return edge.Receipt{}, false, fmt.Errorf("claim delivery: decode: %w", err)
	}
	return it.receipt(), true, nil
}

// Settle implements edge.Deliveries, conditional on the claim.
func (s *Store) Settle(ctx context.Context, r edge.Receipt) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                &s.tables.Deliveries,
		Key:                      key(r.Key),
		UpdateExpression:         aws.String("SET #state = :state, outcome = :outcome, forwardedTo = :to, updatedAt = :updated REMOVE claim, leaseUntil"),
		ConditionExpression:      aws.String("claim = :claim"),
		ExpressionAttributeNames: map[string]string{"#state": "state"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":state":   str(string(r.State)),
			":outcome": str(r.Outcome),
			":to":      strList(r.ForwardedTo),
			":updated": str(FormatTime(r.UpdatedAt)),
			":claim":   str(r.Claim),
		},
	})
	if _, ok := conditionFailed(err); ok {
		return edge.ErrClaimLost
	}
	if err != nil {
		return classify("settle delivery", err)
	}
	return nil
}

// Released implements edge.Deliveries.
func (s *Store) Released(ctx context.Context, k string, regions []string, now time.Time) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                &s.tables.Deliveries,
		Key:                      key(k),
		UpdateExpression:         aws.String("SET #state = :forwarded, outcome = :outcome, forwardedTo = :to, updatedAt = :updated"),
		ConditionExpression:      aws.String("attribute_exists(pk) AND (#state = :quarantined OR #state = :forwarded)"),
		ExpressionAttributeNames: map[string]string{"#state": "state"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":forwarded":   str(string(edge.StateForwarded)),
			":quarantined": str(string(edge.StateQuarantined)),
			":outcome":     str(edge.OutcomeReleased),
			":to":          strList(regions),
			":updated":     str(FormatTime(now)),
		},
	})
	if _, ok := conditionFailed(err); ok {
		return nil // the receipt expired, or was settled otherwise: nothing to record
	}
	if err != nil {
		return classify("record release", err)
	}
	return nil
}

// Hold implements edge.Quarantine: a put that only creates.
func (s *Store) Hold(ctx context.Context, h edge.Held) error {
	item, err := attributevalue.MarshalMap(newHeldItem(h))
	if err != nil {
		return fmt.Errorf("hold delivery: %w", err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           &s.tables.Quarantine,
		Item:                item,
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	if _, ok := conditionFailed(err); ok {
		return nil // held already
	}
	if err != nil {
		return classify("hold delivery", err)
	}
	return nil
}

// Held implements edge.Quarantine. A delivery past its expiry is gone even
// while DynamoDB has not deleted it yet.
func (s *Store) Held(ctx context.Context, id string) (edge.Held, error) {
	var it heldItem
	found, err := s.get(ctx, "get held delivery", s.tables.Quarantine, id, &it)
	if err != nil {
		return edge.Held{}, err
	}
	if !found || it.Kind != KindHeld || it.ExpiresAt <= s.now().Unix() {
		return edge.Held{}, edge.ErrNotFound
	}
	return it.held(), nil
}

// maxScanPages bounds the pages List reads: the quarantine is small by
// design (a short TTL, alerts on every entry).
const maxScanPages = 20

// List implements edge.Quarantine: a scan without body, headers or tenant
// key, sorted newest first.
func (s *Store) List(ctx context.Context, limit int) ([]edge.Held, error) {
	var items []heldItem
	var start map[string]types.AttributeValue
	for range maxScanPages {
		out, err := s.db.Scan(ctx, &dynamodb.ScanInput{
			TableName:                 &s.tables.Quarantine,
			ProjectionExpression:      aws.String("pk, kind, provider, tenantHash, deliveryId, topic, verified, receivedAt, expiresAt"),
			FilterExpression:          aws.String("kind = :kind AND expiresAt > :now"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":kind": str(KindHeld), ":now": num(s.now().Unix())},
			ExclusiveStartKey:         start,
		})
		if err != nil {
			return nil, classify("list held deliveries", err)
		}
		var page []heldItem
		if err := attributevalue.UnmarshalListOfMaps(out.Items, &page); err != nil {
			return nil, fmt.Errorf("list held deliveries: decode: %w", err)
		}
		items = append(items, page...)
		if start = out.LastEvaluatedKey; start == nil {
			break
		}
	}
	sort.Slice(items, func(i, j int) bool {
		if items[i].ReceivedAt != items[j].ReceivedAt {
			return items[i].ReceivedAt > items[j].ReceivedAt
		}
		return items[i].PK < items[j].PK
	})
	if limit > 0 && len(items) > limit {
		items = items[:limit]
	}
	out := make([]edge.Held, len(items))
	for i, it := range items {
		out[i] = it.held()
	}
	return out, nil
}

// Drop implements edge.Quarantine.
func (s *Store) Drop(ctx context.Context, id string) error {
	if _, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.tables.Quarantine, Key: key(id)}); err != nil {
		return classify("drop held delivery", err)
	}
	return nil
}

// CreateGlobal implements edge.Globals: a put that only creates; a replay
// that finds the same regional request ids is no error.
func (s *Store) CreateGlobal(ctx context.Context, g edge.Global) error {
	item, err := attributevalue.MarshalMap(newGlobalItem(g))
	if err != nil {
		return fmt.Errorf("create global erasure: %w", err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           &s.tables.Global,
		Item:                item,
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	if _, ok := conditionFailed(err); ok {
		cur, err := s.Global(ctx, g.ID)
		if err != nil {
			return err
		}
		if !SameRequests(cur.Regions, g.Regions) {
			return fmt.Errorf("create global erasure %s: stored with other regional requests", g.ID)
		}
		return nil
	}
	if err != nil {
		return classify("create global erasure", err)
	}
	return nil
}

// SameRequests reports whether two records of a global erasure name the
// same regional requests (their states aside): a replayed creation is
// accepted only then. Exported for the embedded edge store.
func SameRequests(a, b []edge.GlobalRegion) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Region != b[i].Region || a[i].RequestID != b[i].RequestID {
			return false
		}
	}
	return true
}

// Global implements edge.Globals.
func (s *Store) Global(ctx context.Context, id string) (edge.Global, error) {
	var it globalItem
	found, err := s.get(ctx, "get global erasure", s.tables.Global, id, &it)
	if err != nil {
		return edge.Global{}, err
	}
	if !found || it.Kind != KindGlobal {
		return edge.Global{}, edge.ErrNotFound
	}
	return it.global(), nil
}

// RecordStates implements edge.Globals: the states are set on the existing
// record (the same write twice is the same record).
func (s *Store) RecordStates(ctx context.Context, id string, regions []edge.GlobalRegion, now time.Time) error {
	rs, err := attributevalue.Marshal(newGlobalRegions(regions))
	if err != nil {
		return fmt.Errorf("record states: %w", err)
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           &s.tables.Global,
		Key:                 key(id),
		UpdateExpression:    aws.String("SET regions = :regions, updatedAt = :updated"),
		ConditionExpression: aws.String("attribute_exists(pk) AND kind = :kind"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":regions": rs, ":updated": str(FormatTime(now)), ":kind": str(KindGlobal),
		},
	})
	if _, ok := conditionFailed(err); ok {
		return edge.ErrNotFound
	}
	if err != nil {
		return classify("record states", err)
	}
	return nil
}

// ClaimIdempotencyKey implements edge.Globals: a put that only creates (or
// replaces a binding past its expiry); the existing binding otherwise.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, keyHash, globalID, planHash string, expires time.Time) (string, string, bool, error) {
	item, err := attributevalue.MarshalMap(idemItem{PK: IdempotencyPrefix + keyHash, Kind: KindIdempotency, GlobalID: globalID,
		PlanHash: planHash, ExpiresAt: expires.Unix()})
	if err != nil {
		return "", "", false, fmt.Errorf("claim idempotency key: %w", err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           &s.tables.Global,
		Item:                                item,
		ConditionExpression:                 aws.String("attribute_not_exists(pk) OR expiresAt < :now"),
		ExpressionAttributeValues:           map[string]types.AttributeValue{":now": num(s.now().Unix())},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if cf, ok := conditionFailed(err); ok {
		var cur idemItem
		if err := s.oldItem(ctx, cf, "claim idempotency key", s.tables.Global, IdempotencyPrefix+keyHash, &cur); err != nil {
			return "", "", false, err
		}
		return cur.GlobalID, cur.PlanHash, false, nil
	}
	if err != nil {
		return "", "", false, classify("claim idempotency key", err)
	}
	return globalID, planHash, true, nil
}
