package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lethe-erasure/lethe/internal/webhook"
)

// Tenant ownership: the tenants whose webhooks this region accepts. One
// item per tenant, in the requests table:
//
//	kind=tenant  pk = "tenant#" + tenant key; tenant, registeredAt
//
// A tenant key holds no personal data (a shop domain, a help desk
// subdomain). The starter's stream filter (kind = request) ignores these
// items; the "recent" index lists them under kind = tenant.
const (
	// KindTenant is the kind of a tenant ownership item.
	KindTenant   = "tenant"
	tenantPrefix = "tenant#"
	// MaxTenantList caps one ListTenants call.
	MaxTenantList = 1000
)

// Tenant is a tenant this region owns.
type Tenant struct {
	Key          string    `json:"tenant"`
	RegisteredAt time.Time `json:"registeredAt"`
}

type tenantItem struct {
	PK           string `dynamodbav:"pk"`
	Kind         string `dynamodbav:"kind"`
	Tenant       string `dynamodbav:"tenant"`
	RegisteredAt string `dynamodbav:"registeredAt"`
}

func tenantKey(key string) string { return tenantPrefix + key }

// RegisterTenant records that this region owns the tenant. It is
// idempotent: registering again changes nothing and returns the first
// registration's time with created=false. One conditional PutItem (the
// call the api function's role is granted), no read first; the item it
// found is read from the refusal. (Plain values in and out, so that the
// API's small interface is as easy for the local runtime's store to
// implement.)
func (s *Store) RegisterTenant(ctx context.Context, tenant string) (registeredAt time.Time, created bool, err error) {
	if err := webhook.ValidateTenant("tenant", tenant); err != nil {
		return time.Time{}, false, fmt.Errorf("register tenant: %w", err)
	}
	now := s.now().UTC().Round(0) // as read back: UTC, no monotonic reading
	item, err := attributevalue.MarshalMap(tenantItem{PK: tenantKey(tenant), Kind: KindTenant, Tenant: tenant, RegisteredAt: FormatTime(now)})
	if err != nil {
		return time.Time{}, false, fmt.Errorf("register tenant: %w", err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           &s.table,
		Item:                item,
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
		// The old item tells a first registration from a repeated one.
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return now, true, nil
	}
	var cf *types.ConditionalCheckFailedException
	if !errors.As(err, &cf) {
		return time.Time{}, false, classify("register tenant "+tenant, err)
	}
	old := cf.Item
	if old == nil {
		at, ok, err := s.TenantRegistration(ctx, tenant)
		if err != nil || !ok {
			return time.Time{}, false, fmt.Errorf("register tenant %s: registered meanwhile, then not readable: %v", tenant, err)
		}
		return at, false, nil
	}
	t, err := decodeTenant(old)
	if err != nil {
		return time.Time{}, false, err
	}
	return t.RegisteredAt, false, nil
}

// TenantRegistration returns when the tenant was registered; ok is false
// when this region does not own it (a malformed key is owned by no
// region).
func (s *Store) TenantRegistration(ctx context.Context, tenant string) (registeredAt time.Time, ok bool, err error) {
	if !webhook.ValidTenant(tenant) {
		return time.Time{}, false, nil
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &s.table,
		Key:            key(tenantKey(tenant)),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return time.Time{}, false, classify("get tenant "+tenant, err)
	}
	if out.Item == nil {
		return time.Time{}, false, nil
	}
	t, err := decodeTenant(out.Item)
	if err != nil {
		return time.Time{}, false, err
	}
	return t.RegisteredAt, true, nil
}

// OwnsTenant reports whether this region registered the tenant; the
// webhook receiver asks it for every delivery (strongly consistent, so a
// tenant registered a moment ago is owned).
func (s *Store) OwnsTenant(ctx context.Context, tenant string) (bool, error) {
	_, ok, err := s.TenantRegistration(ctx, tenant)
	return ok, err
}

// ListTenants returns up to limit registered tenants in key order (0 or
// less: MaxTenantList).
func (s *Store) ListTenants(ctx context.Context, limit int) ([]Tenant, error) {
	if limit <= 0 || limit > MaxTenantList {
		limit = MaxTenantList
	}
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:                 &s.table,
		IndexName:                 aws.String(IndexRecent),
		KeyConditionExpression:    aws.String("#kind = :kind"),
		ExpressionAttributeNames:  map[string]string{"#kind": AttrKind},
		ExpressionAttributeValues: map[string]types.AttributeValue{":kind": &types.AttributeValueMemberS{Value: KindTenant}},
		Limit:                     aws.Int32(int32(limit)),
	})
	if err != nil {
		return nil, classify("list tenants", err)
	}
	tenants := make([]Tenant, 0, len(out.Items))
	for _, item := range out.Items {
		t, err := decodeTenant(item)
		if err != nil {
			return nil, err
		}
		tenants = append(tenants, t)
	}
	return tenants, nil
}

func decodeTenant(item map[string]types.AttributeValue) (Tenant, error) {
	var it tenantItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return Tenant{}, fmt.Errorf("decode tenant: %w", err)
	}
	if it.Kind != KindTenant {
		return Tenant{}, fmt.Errorf("item %s is not a tenant", it.PK)
	}
	at, err := time.Parse(time.RFC3339Nano, it.RegisteredAt)
	if err != nil {
		return Tenant{}, fmt.Errorf("tenant %s: registeredAt is not an RFC 3339 time", it.Tenant)
	}
	return Tenant{Key: it.Tenant, RegisteredAt: at}, nil
}
