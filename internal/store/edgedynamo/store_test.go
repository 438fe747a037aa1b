package edgedynamo

// These tests run against a real DynamoDB-API server: DynamoDB Local, which
// `make test` starts (scripts/dynamodb-local.sh) and points
// LETHE_DYNAMODB_ENDPOINT at. Each test gets fresh tables with the edge
// stack's schema (pk (S) only).

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/lethe-erasure/lethe/internal/edge"
)

const envEndpoint = "LETHE_DYNAMODB_ENDPOINT"

func newStore(t *testing.T) (*Store, *dynamodb.Client) {
	t.Helper()
	endpoint := os.Getenv(envEndpoint)
	if endpoint == "" {
		t.Skipf("DynamoDB Local is not running: set %s (e.g. http://127.0.0.1:8000 after scripts/dynamodb-local.sh start) or run make test", envEndpoint)
	}
	client := dynamodb.NewFromConfig(aws.Config{
		Region:       "eu-central-1",
		Credentials:  credentials.NewStaticCredentialsProvider("lethe", "local", ""),
		BaseEndpoint: aws.String(endpoint),
	})
	base := fmt.Sprintf("lethe-edge-test-%s-%d", strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()), time.Now().UnixNano())
	if len(base) > 200 {
		base = base[len(base)-200:]
	}
	tables := Tables{Tenants: base + "-tenants", Deliveries: base + "-deliveries", Quarantine: base + "-quarantine", Global: base + "-global"}
	ctx := context.Background()
	for _, name := range []string{tables.Tenants, tables.Deliveries, tables.Quarantine, tables.Global} {
		_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
			TableName:            aws.String(name),
			BillingMode:          types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(AttrPK), AttributeType: types.ScalarAttributeTypeS}},
			KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(AttrPK), KeyType: types.KeyTypeHash}},
		})
		if err != nil {
			t.Fatalf("create table at %s: %v", endpoint, err)
		}
		t.Cleanup(func() {
			_, _ = client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
		})
		if err := dynamodb.NewTableExistsWaiter(client).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 30*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	return New(client, tables), client
}

var t0 = time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)

func TestTenants(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	if _, err := s.Tenant(ctx, "eu-shop.myshopify.com"); !errors.Is(err, edge.ErrNotFound) {
		t.Fatalf("Tenant of an empty directory: %v, want ErrNotFound", err)
	}
	got, created, changed, err := s.PutTenant(ctx, "eu-shop.myshopify.com", "eu", false, t0)
	if err != nil || !created || !changed || got.Region != "eu" || !got.RegisteredAt.Equal(t0) {
		t.Fatalf("first PutTenant = %+v, created=%v changed=%v, %v", got, created, changed, err)
	}
	// Same region again: nothing changes, not even updatedAt.
	again, created, changed, err := s.PutTenant(ctx, "eu-shop.myshopify.com", "eu", false, t0.Add(time.Hour))
	if err != nil || created || changed || !again.UpdatedAt.Equal(t0) {
		t.Fatalf("repeated PutTenant = %+v, created=%v changed=%v, %v", again, created, changed, err)
	}
	// Another region without move: a conflict naming the current region.
	_, _, _, err = s.PutTenant(ctx, "eu-shop.myshopify.com", "us", false, t0.Add(time.Hour))
	var tc *edge.TenantConflict
	if !errors.As(err, &tc) || tc.Current != "eu" {
		t.Fatalf("PutTenant to us without move: %v, want TenantConflict{Current: eu}", err)
	}
	if cur, _ := s.Tenant(ctx, "eu-shop.myshopify.com"); cur.Region != "eu" {
		t.Fatalf("refused move changed the region to %s", cur.Region)
	}
	// With move: moved, registeredAt kept.
	moved, created, changed, err := s.PutTenant(ctx, "eu-shop.myshopify.com", "us", true, t0.Add(2*time.Hour))
	if err != nil || created || !changed || moved.Region != "us" || !moved.RegisteredAt.Equal(t0) || !moved.UpdatedAt.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("move = %+v, created=%v changed=%v, %v", moved, created, changed, err)
	}
	read, err := s.Tenant(ctx, "eu-shop.myshopify.com")
	if err != nil || read != moved {
		t.Fatalf("Tenant after move = %+v, %v; want %+v", read, err, moved)
	}
}

func TestPutTenantConcurrentFirstRegistrations(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	created, conflicts := 0, 0
	for i := range 12 {
		region := []string{"eu", "us"}[i%2]
		wg.Go(func() {
			_, c, _, err := s.PutTenant(ctx, "race.example", region, false, t0)
			mu.Lock()
			defer mu.Unlock()
			var tc *edge.TenantConflict
			switch {
			case err == nil && c:
				created++
			case errors.As(err, &tc):
				conflicts++
			case err != nil:
				t.Errorf("PutTenant: %v", err)
			}
		})
	}
	wg.Wait()
	if created != 1 {
		t.Errorf("%d registrations created the tenant, want exactly 1 (%d conflicts)", created, conflicts)
	}
	if conflicts != 6 {
		t.Errorf("%d conflicts, want the 6 registrations of the other region", conflicts)
	}
}

func receipt(key, claim string, now time.Time) edge.Receipt {
	return edge.Receipt{
		Key: key, Provider: "shopify", DeliveryID: "d-1", TenantHash: edge.Hash("eu-shop.myshopify.com"), ReceivedIn: "eu-central-1",
		State: edge.StateClaimed, ReceivedAt: now, UpdatedAt: now, Claim: claim, LeaseUntil: now.Add(time.Minute), ExpiresAt: now.Add(35 * 24 * time.Hour),
	}
}

func TestDeliveryClaimSettleAndDuplicates(t *testing.T) {
	s, client := newStore(t)
	ctx := context.Background()
	k := edge.DeliveryKey("shopify", "eu-shop.myshopify.com", "d-1")

	got, claimed, err := s.Claim(ctx, receipt(k, "c1", t0), t0)
	if err != nil || !claimed || got.Attempts != 1 || got.State != edge.StateClaimed {
		t.Fatalf("first Claim = %+v, %v, %v", got, claimed, err)
	}
	// In flight: a second invocation is told who holds it.
	cur, claimed, err := s.Claim(ctx, receipt(k, "c2", t0.Add(time.Second)), t0.Add(time.Second))
	if err != nil || claimed || cur.State != edge.StateClaimed || cur.Claim != "c1" {
		t.Fatalf("Claim while in flight = %+v, %v, %v; want c1's claim", cur, claimed, err)
	}
	// Settling with someone else's claim is refused.
	if err := s.Settle(ctx, edge.Receipt{Key: k, Claim: "c2", State: edge.StateForwarded}); !errors.Is(err, edge.ErrClaimLost) {
		t.Fatalf("Settle with a foreign claim: %v, want ErrClaimLost", err)
	}
	// The region was down: the claim is released with the outcome.
	rel := got
	rel.State, rel.Outcome, rel.UpdatedAt = edge.StateReleased, edge.OutcomeRegionUnavailable, t0.Add(2*time.Second)
	if err := s.Settle(ctx, rel); err != nil {
		t.Fatal(err)
	}
	// The provider's retry claims it again; attempts count, receivedAt stays.
	got, claimed, err = s.Claim(ctx, receipt(k, "c3", t0.Add(time.Hour)), t0.Add(time.Hour))
	if err != nil || !claimed || got.Attempts != 2 || !got.ReceivedAt.Equal(t0) || got.Outcome != edge.OutcomeRegionUnavailable {
		t.Fatalf("Claim after release = %+v, %v, %v", got, claimed, err)
	}
	fwd := got
	fwd.State, fwd.Outcome, fwd.ForwardedTo, fwd.UpdatedAt = edge.StateForwarded, edge.OutcomeForwarded, []string{"eu"}, t0.Add(time.Hour+time.Second)
	if err := s.Settle(ctx, fwd); err != nil {
		t.Fatal(err)
	}
	// A duplicate of a forwarded delivery is not claimed, even long after.
	cur, claimed, err = s.Claim(ctx, receipt(k, "c4", t0.Add(48*time.Hour)), t0.Add(48*time.Hour))
	if err != nil || claimed || cur.State != edge.StateForwarded {
		t.Fatalf("Claim of a forwarded delivery = %+v, %v, %v", cur, claimed, err)
	}
	want := edge.Receipt{
		Key: k, Provider: "shopify", DeliveryID: "d-1", TenantHash: edge.Hash("eu-shop.myshopify.com"), ReceivedIn: "eu-central-1",
		ForwardedTo: []string{"eu"}, State: edge.StateForwarded, Outcome: edge.OutcomeForwarded,
		ReceivedAt: t0, UpdatedAt: t0.Add(time.Hour + time.Second), Attempts: 2, ExpiresAt: t0.Add(time.Hour + 35*24*time.Hour),
	}
	if diff := cmp.Diff(want, cur); diff != "" {
		t.Errorf("stored receipt (-want +got):\n%s", diff)
	}
	// The receipt holds no body, no header, no tenant key in clear.
	out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.tables.Deliveries, Key: key(k)})
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range out.Item {
		if s, ok := v.(*types.AttributeValueMemberS); ok && strings.Contains(s.Value, "eu-shop") {
			t.Errorf("receipt attribute %s holds the tenant key in clear", name)
		}
		if name == "body" || name == "header" {
			t.Errorf("receipt has attribute %s", name)
		}
	}
	if _, ok := out.Item[AttrExpiresAt].(*types.AttributeValueMemberN); !ok {
		t.Errorf("receipt has no numeric TTL attribute: %v", out.Item[AttrExpiresAt])
	}
}

func TestClaimTakesOverAnExpiredLease(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	k := edge.DeliveryKey("zendesk", "eu-help", "inv-1")
	if _, claimed, err := s.Claim(ctx, receipt(k, "dead", t0), t0); err != nil || !claimed {
		t.Fatal(claimed, err)
	}
	later := t0.Add(61 * time.Second) // the lease was a minute
	got, claimed, err := s.Claim(ctx, receipt(k, "alive", later), later)
	if err != nil || !claimed || got.Claim != "alive" || got.Attempts != 2 {
		t.Fatalf("Claim after the lease = %+v, %v, %v", got, claimed, err)
	}
	if err := s.Settle(ctx, edge.Receipt{Key: k, Claim: "dead", State: edge.StateForwarded}); !errors.Is(err, edge.ErrClaimLost) {
		t.Fatalf("the dead invocation's settle: %v, want ErrClaimLost", err)
	}
}

func TestConcurrentClaimsOneWinner(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	k := edge.DeliveryKey("shopify", "eu-shop.myshopify.com", "burst")
	var wg sync.WaitGroup
	var mu sync.Mutex
	winners := 0
	for i := range 20 {
		wg.Go(func() {
			_, claimed, err := s.Claim(ctx, receipt(k, fmt.Sprint("c", i), t0), t0)
			if err != nil {
				t.Error(err)
			}
			if claimed {
				mu.Lock()
				winners++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if winners != 1 {
		t.Fatalf("%d concurrent claims won, want 1", winners)
	}
}

func TestQuarantine(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	s = s.WithClock(func() time.Time { return t0.Add(time.Hour) })
	k := edge.DeliveryKey("shopify", "new-shop.myshopify.com", "d-9")
	h := edge.Held{
		ID: edge.QuarantineID(k), DeliveryKey: k, Provider: "shopify", Tenant: "new-shop.myshopify.com",
		TenantHash: edge.Hash("new-shop.myshopify.com"), DeliveryID: "d-9", Topic: "customers/redact", Verified: false,
		Body:   []byte("{\"customer\":{\"id\":1,\"email\":\"a@example.com\"}}\x00\xff"),
		Header: http.Header{"X-Shopify-Hmac-Sha256": {"c2ln"}, "X-Shopify-Topic": {"customers/redact"}}, RawQuery: "",
		ReceivedAt: t0, ExpiresAt: t0.Add(72 * time.Hour),
	}
	if err := s.Hold(ctx, h); err != nil {
		t.Fatal(err)
	}
	changed := h
	changed.Body = []byte("other")
	if err := s.Hold(ctx, changed); err != nil {
		t.Fatalf("holding again: %v", err)
	}
	got, err := s.Held(ctx, h.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(h, got); diff != "" {
		t.Errorf("Held (-held +read; the second Hold must not overwrite):\n%s", diff)
	}

	older := h
	older.ID, older.DeliveryKey, older.ReceivedAt = edge.QuarantineID("ab"+k[2:]), "ab"+k[2:], t0.Add(-time.Minute)
	expired := h
	expired.ID, expired.ExpiresAt = edge.QuarantineID("cd"+k[2:]), t0.Add(30*time.Minute)
	for _, x := range []edge.Held{older, expired} {
		if err := s.Hold(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.List(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, l := range list {
		ids = append(ids, l.ID)
		if l.Body != nil || l.Header != nil || l.Tenant != "" {
			t.Errorf("List returned body, headers or tenant key: %+v", l)
		}
		if l.TenantHash == "" || l.Provider == "" || l.ReceivedAt.IsZero() {
			t.Errorf("List lacks what an operator reads: %+v", l)
		}
	}
	if diff := cmp.Diff([]string{h.ID, older.ID}, ids); diff != "" {
		t.Errorf("List ids, newest first, expired hidden (-want +got):\n%s", diff)
	}
	if _, err := s.Held(ctx, expired.ID); !errors.Is(err, edge.ErrNotFound) {
		t.Errorf("Held of an expired delivery: %v, want ErrNotFound", err)
	}
	if l, err := s.List(ctx, 1); err != nil || len(l) != 1 {
		t.Errorf("List(1) = %d items, %v", len(l), err)
	}
	for range 2 {
		if err := s.Drop(ctx, h.ID); err != nil {
			t.Fatalf("Drop: %v", err)
		}
	}
	if _, err := s.Held(ctx, h.ID); !errors.Is(err, edge.ErrNotFound) {
		t.Errorf("Held after Drop: %v", err)
	}
}

func TestReleasedReceipt(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	k := edge.DeliveryKey("shopify", "new-shop.myshopify.com", "d-9")
	r, _, err := s.Claim(ctx, receipt(k, "c1", t0), t0)
	if err != nil {
		t.Fatal(err)
	}
	r.State, r.Outcome, r.ForwardedTo = edge.StateQuarantined, edge.OutcomeQuarantined, []string{edge.ForwardedToQuarantine}
	if err := s.Settle(ctx, r); err != nil {
		t.Fatal(err)
	}
	if _, claimed, _ := s.Claim(ctx, receipt(k, "c2", t0.Add(time.Hour)), t0.Add(time.Hour)); claimed {
		t.Fatal("a quarantined delivery was claimed again")
	}
	for range 2 {
		if err := s.Released(ctx, k, []string{"eu"}, t0.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	cur, _, err := s.Claim(ctx, receipt(k, "c3", t0.Add(3*time.Hour)), t0.Add(3*time.Hour))
	if err != nil || cur.State != edge.StateForwarded || cur.Outcome != edge.OutcomeReleased || !cmp.Equal(cur.ForwardedTo, []string{"eu"}) {
		t.Fatalf("receipt after release = %+v, %v", cur, err)
	}
	if err := s.Released(ctx, edge.DeliveryKey("shopify", "x", "gone"), []string{"eu"}, t0); err != nil {
		t.Fatalf("Released of a receipt that is gone: %v", err)
	}
}

func TestGlobals(t *testing.T) {
	s, client := newStore(t)
	ctx := context.Background()
	g := edge.Global{ID: "eg_0196a0a0-0000-7000-8000-000000000001", CreatedAt: t0, Regions: []edge.GlobalRegion{
		{Region: "eu", RequestID: "er_eu_0196a0a0-0000-7000-8000-00000000000a"},
		{Region: "us", RequestID: "er_us_0196a0a0-0000-7000-8000-00000000000b"},
	}}
	if _, err := s.Global(ctx, g.ID); !errors.Is(err, edge.ErrNotFound) {
		t.Fatalf("Global before create: %v", err)
	}
	for range 2 {
		if err := s.CreateGlobal(ctx, g); err != nil {
			t.Fatalf("CreateGlobal (replay must pass): %v", err)
		}
	}
	other := g
	other.Regions = g.Regions[:1]
	if err := s.CreateGlobal(ctx, other); err == nil {
		t.Fatal("CreateGlobal with other regional requests under the same id passed")
	}
	got, err := s.Global(ctx, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(g, got); diff != "" {
		t.Errorf("Global (-want +got):\n%s", diff)
	}
	states := []edge.GlobalRegion{{Region: "eu", RequestID: g.Regions[0].RequestID, Status: "completed"}, {Region: "us", RequestID: g.Regions[1].RequestID, Status: "running"}}
	if err := s.RecordStates(ctx, g.ID, states, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Global(ctx, g.ID)
	if !cmp.Equal(got.Regions, states) || !got.UpdatedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("after RecordStates: %+v", got)
	}
	if err := s.RecordStates(ctx, "eg_0196a0a0-0000-7000-8000-0000000000ff", states, t0); !errors.Is(err, edge.ErrNotFound) {
		t.Errorf("RecordStates of an unknown id: %v, want ErrNotFound", err)
	}
	// The record holds ids and states only.
	out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.tables.Global, Key: key(g.ID)})
	if err != nil {
		t.Fatal(err)
	}
	for name := range out.Item {
		switch name {
		case "pk", "kind", "createdAt", "updatedAt", "regions":
		default:
			t.Errorf("global record has attribute %s", name)
		}
	}
}

func TestIdempotencyKey(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	s = s.WithClock(func() time.Time { return t0 })
	id, plan, created, err := s.ClaimIdempotencyKey(ctx, edge.Hash("k1"), "eg_a", "plan-1", t0.Add(24*time.Hour))
	if err != nil || !created || id != "eg_a" || plan != "plan-1" {
		t.Fatalf("first claim = %s %s %v %v", id, plan, created, err)
	}
	id, plan, created, err = s.ClaimIdempotencyKey(ctx, edge.Hash("k1"), "eg_b", "plan-2", t0.Add(24*time.Hour))
	if err != nil || created || id != "eg_a" || plan != "plan-1" {
		t.Fatalf("second claim = %s %s %v %v; want the first binding", id, plan, created, err)
	}
	// After its expiry the key may be bound anew.
	later := s.WithClock(func() time.Time { return t0.Add(25 * time.Hour) })
	id, _, created, err = later.ClaimIdempotencyKey(ctx, edge.Hash("k1"), "eg_c", "plan-3", t0.Add(49*time.Hour))
	if err != nil || !created || id != "eg_c" {
		t.Fatalf("claim after expiry = %s %v %v", id, created, err)
	}
}

// failing is a DynamoDB client whose every call fails as a throttled one.
type failing struct{ API }

type throttled struct{}

func (throttled) Error() string                 { return "ThrottlingException: slow down" }
func (throttled) ErrorCode() string             { return "ThrottlingException" }
func (throttled) ErrorMessage() string          { return "slow down" }
func (throttled) ErrorFault() smithy.ErrorFault { return smithy.FaultClient }
func (f failing) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return nil, throttled{}
}
func (f failing) UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return nil, throttled{}
}
func (f failing) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return nil, throttled{}
}
func (f failing) Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	return nil, errors.New("dial tcp: connection refused")
}

func TestFailuresAreStoreUnavailable(t *testing.T) {
	s := New(failing{}, Tables{"t", "d", "q", "g"})
	ctx := context.Background()
	var su *edge.StoreUnavailable
	checks := map[string]error{}
	_, checks["Tenant"] = s.Tenant(ctx, "x")
	_, _, _, checks["PutTenant"] = s.PutTenant(ctx, "x", "eu", false, t0)
	_, _, checks["Claim"] = s.Claim(ctx, receipt("k", "c", t0), t0)
	checks["Hold"] = s.Hold(ctx, edge.Held{ID: "q"})
	_, checks["List"] = s.List(ctx, 5)
	_, checks["Global"] = s.Global(ctx, "g")
	for name, err := range checks {
		if !errors.As(err, &su) {
			t.Errorf("%s error = %v, want *edge.StoreUnavailable", name, err)
		}
	}
}
