package dynamo

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/go-cmp/cmp"
)

// TestTenantItems: a refused tenant key writes no item, and concurrent
// registrations of one tenant write one (the contract suite checks what the
// calls answer; this checks the table).
func TestTenantItems(t *testing.T) {
	s, client, name := newTable(t)
	ctx := context.Background()
	for _, key := range []string{"", "Acme", "a/b", "a b", "a:b", "-x"} {
		if _, _, err := s.RegisterTenant(ctx, key); err == nil {
			t.Errorf("RegisterTenant(%q) succeeded", key)
		}
	}
	if n := itemCount(t, client, name); n != 0 {
		t.Errorf("bad keys wrote %d items", n)
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, _, err := s.RegisterTenant(ctx, "eu-help"); err != nil {
				t.Errorf("RegisterTenant: %v", err)
			}
		})
	}
	wg.Wait()
	if n := itemCount(t, client, name); n != 1 {
		t.Errorf("table holds %d items, want 1", n)
	}
}

// TestListTenants: the operator's listing holds tenants only, in key
// order, up to the limit.
func TestListTenants(t *testing.T) {
	s, _, _ := newTable(t)
	ctx := context.Background()
	mustCreate(t, s, newRequest(t, "alice@example.com"), "")
	for _, key := range []string{"us-help", "eu-help", "eu-shop.myshopify.com"} {
		if _, _, err := s.RegisterTenant(ctx, key); err != nil {
			t.Fatal(err)
		}
	}
	tenants, err := s.ListTenants(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, tn := range tenants {
		keys = append(keys, tn.Key)
	}
	if diff := cmp.Diff([]string{"eu-help", "eu-shop.myshopify.com", "us-help"}, keys); diff != "" {
		t.Errorf("ListTenants keys (-want +got):\n%s", diff)
	}
	if two, err := s.ListTenants(ctx, 2); err != nil || len(two) != 2 {
		t.Errorf("ListTenants(2) = %d, %v", len(two), err)
	}
}

// itemCount scans the whole table (a test table holds a handful of items).
func itemCount(t *testing.T, client *dynamodb.Client, table string) int {
	t.Helper()
	out, err := client.Scan(context.Background(), &dynamodb.ScanInput{TableName: &table, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Items)
}

// apiGrants is the DynamoDB client as the api function's role sees it in
// AWS: infra.TableActions grants it GetItem, PutItem (which also authorises
// TransactWriteItems of Puts) and Query, and nothing else, so any other
// call fails there with AccessDenied.
type apiGrants struct{ *dynamodb.Client }

func (apiGrants) UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return nil, errors.New("AccessDeniedException: the api role may not dynamodb:UpdateItem")
}

// TestRegisterTenantWithTheAPIsGrants: PUT /tenants/{tenant} on the
// regional API registers (and re-registers) a tenant with the calls the api
// function's role is granted.
func TestRegisterTenantWithTheAPIsGrants(t *testing.T) {
	_, client, name := newTable(t)
	s := New(apiGrants{client}, name)
	s.now = func() time.Time { return t0 }
	ctx := context.Background()
	at, created, err := s.RegisterTenant(ctx, "eu-help")
	if err != nil || !created || !at.Equal(t0) {
		t.Fatalf("RegisterTenant = %v, created=%v, %v; want %v, created", at, created, err, t0)
	}
	s.now = func() time.Time { return t0.Add(time.Hour) }
	at, created, err = s.RegisterTenant(ctx, "eu-help")
	if err != nil || created || !at.Equal(t0) {
		t.Fatalf("RegisterTenant again = %v, created=%v, %v; want %v, not created", at, created, err, t0)
	}
	if owns, err := s.OwnsTenant(ctx, "eu-help"); err != nil || !owns {
		t.Errorf("OwnsTenant = %v, %v", owns, err)
	}
}
