package dynamo

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/go-cmp/cmp"

	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/webhook"
)

func TestRegisterTenant(t *testing.T) {
	s, _, _ := newTable(t)
	ctx := context.Background()
	s.now = func() time.Time { return t0 }

	got, created, err := s.RegisterTenant(ctx, "eu-shop.myshopify.com")
	if err != nil || !created {
		t.Fatalf("first RegisterTenant = %v, created=%v, %v", got, created, err)
	}
	want := t0
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("first RegisterTenant (-want +got):\n%s", diff)
	}

	// Again, later: nothing changes, the first registration is returned.
	s.now = func() time.Time { return t0.Add(time.Hour) }
	again, created, err := s.RegisterTenant(ctx, "eu-shop.myshopify.com")
	if err != nil || created {
		t.Fatalf("second RegisterTenant = %v, created=%v, %v; want created=false", again, created, err)
	}
	if diff := cmp.Diff(want, again); diff != "" {
		t.Errorf("second RegisterTenant (-want +got):\n%s", diff)
	}
	read, ok, err := s.TenantRegistration(ctx, "eu-shop.myshopify.com")
	if err != nil || !ok {
		t.Fatalf("TenantRegistration = %v, %v", ok, err)
	}
	if diff := cmp.Diff(want, read); diff != "" {
		t.Errorf("TenantRegistration (-want +got):\n%s", diff)
	}

	for key, want := range map[string]bool{
		"eu-shop.myshopify.com": true,
		"us-shop.myshopify.com": false,
		"EU-SHOP.myshopify.com": false, // keys are exact
		"":                      false,
		"tenant#x":              false,
	} {
		owns, err := s.OwnsTenant(ctx, key)
		if err != nil || owns != want {
			t.Errorf("OwnsTenant(%q) = %v, %v; want %v", key, owns, err, want)
		}
	}
}

func TestRegisterTenantRefusesBadKeys(t *testing.T) {
	s, client, name := newTable(t)
	ctx := context.Background()
	for _, key := range []string{"", "Acme", "a/b", "a b", "a:b", "-x"} {
		_, _, err := s.RegisterTenant(ctx, key)
		var inv *webhook.InvalidDelivery
		if !errors.As(err, &inv) || inv.Field != "tenant" {
			t.Errorf("RegisterTenant(%q) = %v, want *webhook.InvalidDelivery on tenant", key, err)
		}
	}
	if n := itemCount(t, client, name); n != 0 {
		t.Errorf("bad keys wrote %d items", n)
	}
}

// TestRegisterTenantConcurrent: many registrations of one tenant at once
// make one item and report exactly one creation.
func TestRegisterTenantConcurrent(t *testing.T) {
	s, client, name := newTable(t)
	ctx := context.Background()
	var createdN atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, created, err := s.RegisterTenant(ctx, "eu-help")
			if err != nil {
				t.Errorf("RegisterTenant: %v", err)
			}
			if created {
				createdN.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := createdN.Load(); n != 1 {
		t.Errorf("%d registrations reported created, want 1", n)
	}
	if n := itemCount(t, client, name); n != 1 {
		t.Errorf("table holds %d items, want 1", n)
	}
}

// TestTenantsStayOutOfRequests: tenant items are neither requests to Get
// or List, nor listed among requests; and requests are not tenants.
func TestTenantsStayOutOfRequests(t *testing.T) {
	s, _, _ := newTable(t)
	ctx := context.Background()
	req := mustCreate(t, s, newRequest(t, "alice@example.com"), "")
	for _, key := range []string{"us-help", "eu-help", "eu-shop.myshopify.com"} {
		if _, _, err := s.RegisterTenant(ctx, key); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.List(ctx, 0)
	if err != nil || len(list) != 1 || list[0].ID != req.ID {
		t.Errorf("List = %+v, %v; want only %s", list, err, req.ID)
	}
	if _, err := s.Get(ctx, "tenant#eu-help"); !errors.Is(err, erasure.ErrNotFound) {
		t.Errorf("Get(tenant item) = %v, want ErrNotFound", err)
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
	if owns, err := s.OwnsTenant(ctx, req.ID); err != nil || owns {
		t.Errorf("OwnsTenant(request id) = %v, %v", owns, err)
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
