package dynamodb_test

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

	"github.com/lethe-erasure/lethe/internal/connector"
	ddbconn "github.com/lethe-erasure/lethe/internal/connector/dynamodb"
)

// localTable creates, on DynamoDB Local, a table keyed (pk, sk) with an
// index "byEmail" on email, as an application's user table might be.
func localTable(t testing.TB) (*dynamodb.Client, string) {
	t.Helper()
	endpoint := os.Getenv("LETHE_DYNAMODB_ENDPOINT")
	if endpoint == "" {
		t.Skip("DynamoDB Local is not running: set LETHE_DYNAMODB_ENDPOINT (scripts/dynamodb-local.sh start) or run make test")
	}
	client := dynamodb.NewFromConfig(aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("lethe", "local", "")})
	name := fmt.Sprintf("app-users-%d", time.Now().UnixNano())
	s := func(n string) *string { return aws.String(n) }
	_, err := client.CreateTable(context.Background(), &dynamodb.CreateTableInput{
		TableName: &name, BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: s("pk"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: s("sk"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: s("email"), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{{AttributeName: s("pk"), KeyType: types.KeyTypeHash}, {AttributeName: s("sk"), KeyType: types.KeyTypeRange}},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName: s("byEmail"), KeySchema: []types.KeySchemaElement{{AttributeName: s("email"), KeyType: types.KeyTypeHash}},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &name}) })
	return client, name
}

// seed writes n items of one user (orders) and one profile item.
func seed(t testing.TB, client *dynamodb.Client, table, user string, n int) {
	t.Helper()
	var reqs []types.WriteRequest
	put := func(item map[string]types.AttributeValue) {
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
		if len(reqs) == 25 {
			flush(t, client, table, reqs)
			reqs = nil
		}
	}
	put(map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "USER#" + user}, "sk": &types.AttributeValueMemberS{Value: "PROFILE"},
		"email": &types.AttributeValueMemberS{Value: user}})
	for i := range n {
		put(map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: fmt.Sprintf("ORDER#%s#%05d", user, i)}, "sk": &types.AttributeValueMemberS{Value: "ORDER"},
			"email": &types.AttributeValueMemberS{Value: user}, "total": &types.AttributeValueMemberN{Value: "12"}})
	}
	if len(reqs) > 0 {
		flush(t, client, table, reqs)
	}
}

func flush(t testing.TB, client *dynamodb.Client, table string, reqs []types.WriteRequest) {
	for len(reqs) > 0 {
		out, err := client.BatchWriteItem(context.Background(), &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: reqs}})
		if err != nil {
			t.Fatal(err)
		}
		reqs = out.UnprocessedItems[table]
	}
}

func count(t testing.TB, client *dynamodb.Client, table string) int {
	out, err := client.Scan(context.Background(), &dynamodb.ScanInput{TableName: &table, Select: types.SelectCount})
	if err != nil {
		t.Fatal(err)
	}
	return int(out.Count)
}

func TestKeyTemplateDeletesTheItem(t *testing.T) {
	client, table := localTable(t)
	seed(t, client, table, "alice@example.com", 0)
	seed(t, client, table, "bob@example.com", 0)
	e := ddbconn.New(ddbconn.Config{Table: table, Key: map[string]string{"pk": "USER#{subject}", "sk": "PROFILE"}}, client)
	if got, err := e.Erase(t.Context(), "alice@example.com"); err != nil || got != connector.Deleted {
		t.Fatalf("Erase = %s, %v", got, err)
	}
	if got, err := e.Erase(t.Context(), "alice@example.com"); err != nil || got != connector.NotFound {
		t.Fatalf("second Erase = %s, %v; want not_found", got, err)
	}
	if n := count(t, client, table); n != 1 {
		t.Fatalf("%d items left, want bob's 1", n)
	}
}

// TestIndexQueryDeletesThousands: 3,000 items of one subject found by an
// index are deleted in batches; another subject's stay.
func TestIndexQueryDeletesThousands(t *testing.T) {
	client, table := localTable(t)
	seed(t, client, table, "alice@example.com", 3000)
	seed(t, client, table, "bob@example.com", 10)
	e := ddbconn.New(ddbconn.Config{Table: table, Index: "byEmail", IndexKey: map[string]string{"email": "{subject}"}, TableKey: []string{"pk", "sk"}}, client)
	got, err := e.Erase(t.Context(), "alice@example.com")
	if err != nil || got != connector.Deleted {
		t.Fatalf("Erase = %s, %v", got, err)
	}
	if n := count(t, client, table); n != 11 {
		t.Fatalf("%d items left, want bob's 11", n)
	}
	if got, err := e.Erase(t.Context(), "alice@example.com"); err != nil || got != connector.NotFound {
		t.Fatalf("second Erase = %s, %v", got, err)
	}
}

// TestBudgetStopsWithMore: a call whose time runs short deletes one batch
// (so every call gets on) and reports More, and the next call goes on
// until everything is deleted.
func TestBudgetStopsWithMore(t *testing.T) {
	client, table := localTable(t)
	seed(t, client, table, "carol@example.com", 600)
	e := ddbconn.New(ddbconn.Config{Table: table, Index: "byEmail", IndexKey: map[string]string{"email": "{subject}"}, TableKey: []string{"pk", "sk"}}, client)
	e.Margin = time.Hour // always short of time
	before := count(t, client, table)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if got, err := e.Erase(ctx, "carol@example.com"); err != nil || got != connector.More {
		t.Fatalf("Erase short of time = %s, %v; want more", got, err)
	}
	if n := count(t, client, table); n != before-25 {
		t.Fatalf("%d items left after a call short of time, want %d: one batch deleted", n, before-25)
	}
	if got, err := e.Erase(t.Context(), "carol@example.com"); err != nil || got != connector.Deleted {
		t.Fatalf("Erase = %s, %v", got, err)
	}
	if n := count(t, client, table); n != 0 {
		t.Fatalf("%d items left", n)
	}
}

func TestMissingTableIsPermanent(t *testing.T) {
	client, _ := localTable(t)
	e := ddbconn.New(ddbconn.Config{Table: "no-such-table", Key: map[string]string{"pk": "USER#{subject}"}}, client)
	_, err := e.Erase(t.Context(), "alice@example.com")
	var ce *connector.Error
	if !errors.As(err, &ce) || ce.Retryable || ce.Code != "ResourceNotFoundException" || strings.Contains(ce.Error(), "alice") {
		t.Fatalf("err = %v", err)
	}
}

// throttling answers the scripted errors, then DynamoDB Local's answers.
type throttling struct {
	ddbconn.API
	errs []error
}

func (f *throttling) next() error {
	if len(f.errs) == 0 {
		return nil
	}
	err := f.errs[0]
	f.errs = f.errs[1:]
	return err
}

func (f *throttling) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	if err := f.next(); err != nil {
		return nil, err
	}
	return f.API.DeleteItem(ctx, in, o...)
}

func (f *throttling) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	if err := f.next(); err != nil {
		return nil, err
	}
	return f.API.BatchWriteItem(ctx, in, o...)
}

// TestThrottlingIsRetried: throttled calls are retried with back-off; a
// denial is permanent and its detail says what the role lacks.
func TestThrottlingIsRetried(t *testing.T) {
	client, table := localTable(t)
	seed(t, client, table, "dave@example.com", 60)
	throttle := &smithy.GenericAPIError{Code: "ProvisionedThroughputExceededException", Fault: smithy.FaultClient}
	f := &throttling{API: client, errs: []error{throttle, throttle, throttle}}
	e := ddbconn.New(ddbconn.Config{Table: table, Index: "byEmail", IndexKey: map[string]string{"email": "{subject}"}, TableKey: []string{"pk", "sk"}}, f)
	if got, err := e.Erase(t.Context(), "dave@example.com"); err != nil || got != connector.Deleted {
		t.Fatalf("Erase through throttling = %s, %v", got, err)
	}
	if n := count(t, client, table); n != 0 {
		t.Fatalf("%d items left", n)
	}
	denied := &throttling{API: client, errs: []error{&smithy.GenericAPIError{Code: "AccessDeniedException", Fault: smithy.FaultClient}}}
	e = ddbconn.New(ddbconn.Config{Table: table, Key: map[string]string{"pk": "USER#{subject}", "sk": "PROFILE"}}, denied)
	_, err := e.Erase(t.Context(), "dave@example.com")
	var ce *connector.Error
	if !errors.As(err, &ce) || ce.Retryable || !strings.Contains(ce.Detail, "denied") {
		t.Fatalf("denied: %v", err)
	}
}

func TestValidateNamesTheKey(t *testing.T) {
	for _, tc := range []struct {
		cfg  ddbconn.Config
		want string
	}{
		{ddbconn.Config{}, "c.table"},
		{ddbconn.Config{Table: "t"}, "c.key"},
		{ddbconn.Config{Table: "t", Key: map[string]string{"pk": "USER#"}}, "c.key.pk"},
		{ddbconn.Config{Table: "t", Index: "i", IndexKey: map[string]string{"email": "{subject}"}}, "c.tableKey"},
		{ddbconn.Config{Table: "t", Index: "i", TableKey: []string{"pk"}}, "c.indexKey"},
		{ddbconn.Config{Table: "t", Key: map[string]string{"pk": "{subject}"}, Index: "i"}, "c.index"},
	} {
		if err := tc.cfg.Validate("c"); err == nil || !strings.HasPrefix(err.Error(), tc.want+":") {
			t.Errorf("%+v: %v, want an error naming %s", tc.cfg, err, tc.want)
		}
	}
	if err := (ddbconn.Config{Table: "t", Key: map[string]string{"pk": "USER#{subject}"}}).Validate("c"); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkIndexErase measures items deleted per second on DynamoDB Local.
func BenchmarkIndexErase(b *testing.B) {
	client, table := localTable(b)
	e := ddbconn.New(ddbconn.Config{Table: table, Index: "byEmail", IndexKey: map[string]string{"email": "{subject}"}, TableKey: []string{"pk", "sk"}}, client)
	const n = 2000
	var took time.Duration
	for i := range b.N {
		user := fmt.Sprintf("bench-%d@example.com", i)
		seed(b, client, table, user, n-1)
		start := time.Now()
		if _, err := e.Erase(context.Background(), user); err != nil {
			b.Fatal(err)
		}
		took += time.Since(start)
	}
	b.ReportMetric(float64(n*b.N)/took.Seconds(), "items/s")
}
