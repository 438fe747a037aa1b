package edgedynamo

// These tests run against a real DynamoDB-API server: DynamoDB Local, which
// `make test` starts (scripts/dynamodb-local.sh) and points
// LETHE_DYNAMODB_ENDPOINT at. Each test gets fresh tables with the edge
// stack's schema: pk (S), and the listing index where the stack has one
// (listingSortKeys).

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/lethe-erasure/lethe/internal/edge"
	"github.com/lethe-erasure/lethe/internal/store/edgestoretest"
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
	listingSortKeys := map[string]string{tables.Tenants: AttrPK, tables.Deliveries: AttrReceivedAt, tables.Global: AttrPK}
	for _, name := range []string{tables.Tenants, tables.Deliveries, tables.Quarantine, tables.Global} {
		in := &dynamodb.CreateTableInput{
			TableName:            aws.String(name),
			BillingMode:          types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(AttrPK), AttributeType: types.ScalarAttributeTypeS}},
			KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(AttrPK), KeyType: types.KeyTypeHash}},
		}
		if sortKey, ok := listingSortKeys[name]; ok {
			in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{AttributeName: aws.String(AttrKind), AttributeType: types.ScalarAttributeTypeS})
			if sortKey != AttrPK {
				in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{AttributeName: aws.String(sortKey), AttributeType: types.ScalarAttributeTypeS})
			}
			in.GlobalSecondaryIndexes = []types.GlobalSecondaryIndex{{
				IndexName: aws.String(IndexListing),
				KeySchema: []types.KeySchemaElement{
					{AttributeName: aws.String(AttrKind), KeyType: types.KeyTypeHash},
					{AttributeName: aws.String(sortKey), KeyType: types.KeyTypeRange},
				},
				Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
			}}
		}
		_, err := client.CreateTable(ctx, in)
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

// t0 is the tests' epoch, the contract suite's.
var t0 = edgestoretest.T0

// The behaviours both edge stores share are in the contract suite
// (contract_test.go); what follows is this adapter's own: the items'
// attributes and DynamoDB's errors.

// TestReceiptItem: a delivery receipt holds no body, no header and no
// tenant key in clear, and has a numeric TTL attribute.
func TestReceiptItem(t *testing.T) {
	s, client := newStore(t)
	ctx := context.Background()
	k := edge.DeliveryKey("shopify", "eu-shop.myshopify.com", "d-1")
	got, claimed, err := s.Claim(ctx, edgestoretest.Receipt(k, "c1", t0), t0)
	if err != nil || !claimed {
		t.Fatalf("Claim = %v, %v", claimed, err)
	}
	got.State, got.Outcome, got.ForwardedTo, got.UpdatedAt = edge.StateForwarded, edge.OutcomeForwarded, []string{"eu"}, t0.Add(time.Second)
	if err := s.Settle(ctx, got); err != nil {
		t.Fatal(err)
	}
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

// TestGlobalItem: a global erasure's record holds ids and states only.
func TestGlobalItem(t *testing.T) {
	s, client := newStore(t)
	ctx := context.Background()
	g := edge.Global{ID: "eg_0196a0a0-0000-7000-8000-000000000001", CreatedAt: t0, Regions: []edge.GlobalRegion{
		{Region: "eu", RequestID: "er_eu_0196a0a0-0000-7000-8000-00000000000a"},
		{Region: "us", RequestID: "er_us_0196a0a0-0000-7000-8000-00000000000b"},
	}}
	if err := s.CreateGlobal(ctx, g); err != nil {
		t.Fatal(err)
	}
	states := []edge.GlobalRegion{{Region: "eu", RequestID: g.Regions[0].RequestID, Status: "completed"}, {Region: "us", RequestID: g.Regions[1].RequestID, Status: "running"}}
	if err := s.RecordStates(ctx, g.ID, states, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
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
func (f failing) Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return nil, throttled{}
}

func TestFailuresAreStoreUnavailable(t *testing.T) {
	s := New(failing{}, Tables{"t", "d", "q", "g"})
	ctx := context.Background()
	var su *edge.StoreUnavailable
	checks := map[string]error{}
	_, checks["Tenant"] = s.Tenant(ctx, "x")
	_, _, _, checks["PutTenant"] = s.PutTenant(ctx, "x", "eu", false, t0)
	_, _, checks["Claim"] = s.Claim(ctx, edgestoretest.Receipt("k", "c", t0), t0)
	checks["Hold"] = s.Hold(ctx, edge.Held{ID: "q"})
	_, checks["List"] = s.List(ctx, 5)
	_, checks["Global"] = s.Global(ctx, "g")
	_, _, checks["ListTenants"] = s.ListTenants(ctx, 5, "")
	_, _, checks["ListReceipts"] = s.ListReceipts(ctx, 5, "")
	_, _, checks["ListGlobals"] = s.ListGlobals(ctx, 5, "")
	for name, err := range checks {
		if !errors.As(err, &su) {
			t.Errorf("%s error = %v, want *edge.StoreUnavailable", name, err)
		}
	}
}

// counting counts the adapter's queries.
type counting struct {
	API
	queries int
}

func (c *counting) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.queries++
	if aws.ToString(in.IndexName) != IndexListing {
		return nil, fmt.Errorf("query of index %q", aws.ToString(in.IndexName))
	}
	return c.API.Query(ctx, in, opts...)
}

// TestListReceiptsBoundedQueries: however many receipts the filter drops
// (here the hour alerts' throttle receipts), one page makes at most
// maxListQueries queries; a page that stops there is short and hands out
// the cursor of where it stopped, from which the next pages go on.
func TestListReceiptsBoundedQueries(t *testing.T) {
	s, client := newStore(t)
	ctx := context.Background()
	claimAt := func(id string, at time.Time, outcome string) {
		t.Helper()
		r := edgestoretest.Receipt(edge.DeliveryKey("shopify", "eu-shop.myshopify.com", id), "c", at)
		r.DeliveryID = id
		if _, _, err := s.Claim(ctx, r, at); err != nil {
			t.Fatal(err)
		}
		r.State, r.Outcome = edge.StateForwarded, outcome
		if err := s.Settle(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	claimAt("d-old", t0, edge.OutcomeForwarded)
	hidden := 3 * maxListQueries
	for i := range hidden {
		claimAt(fmt.Sprint("alert-", i), t0.Add(time.Duration(i+1)*time.Second), edge.OutcomeAlerted)
	}
	c := &counting{API: client}
	s = New(c, s.tables).WithClock(func() time.Time { return t0 })
	var got []string
	pages := 0
	for cursor := ""; ; pages++ {
		before := c.queries
		rs, next, err := s.ListReceipts(ctx, 1, cursor)
		if err != nil {
			t.Fatal(err)
		}
		if n := c.queries - before; n > maxListQueries {
			t.Fatalf("one page made %d queries", n)
		}
		for _, r := range rs {
			got = append(got, r.DeliveryID)
		}
		if next == "" {
			break
		}
		if pages > hidden {
			t.Fatal("next never ends")
		}
		cursor = next
	}
	if len(got) != 1 || got[0] != "d-old" || pages < 1 {
		t.Errorf("listed %v over %d pages, want d-old after short pages", got, pages+1)
	}
}
