package dynamo

// These tests run against a real DynamoDB-API server: DynamoDB Local, which
// `make test` starts (scripts/dynamodb-local.sh) and points
// LETHE_DYNAMODB_ENDPOINT at. Each test gets a fresh table with the CDK
// stack's schema.

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
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/google/go-cmp/cmp"

	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/store/storetest"
)

// EnvEndpoint names the DynamoDB Local endpoint the tests use.
const envEndpoint = "LETHE_DYNAMODB_ENDPOINT"

func awsConfig(t *testing.T) aws.Config {
	t.Helper()
	endpoint := os.Getenv(envEndpoint)
	if endpoint == "" {
		t.Skipf("DynamoDB Local is not running: set %s (e.g. http://127.0.0.1:8000 after scripts/dynamodb-local.sh start) or run make test", envEndpoint)
	}
	return aws.Config{
		Region:       "eu-west-1",
		Credentials:  credentials.NewStaticCredentialsProvider("lethe", "local", ""),
		BaseEndpoint: aws.String(endpoint),
	}
}

// newTable creates a table with the regional stack's schema and returns a
// store over it and the raw client.
func newTable(t *testing.T) (*Store, *dynamodb.Client, string) {
	t.Helper()
	cfg := awsConfig(t)
	client := dynamodb.NewFromConfig(cfg)
	name := fmt.Sprintf("lethe-test-%s-%d", strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()), time.Now().UnixNano())
	if len(name) > 255 {
		name = name[len(name)-255:]
	}
	ctx := context.Background()
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   &name,
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(AttrPK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttrKind), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttrOpen), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("deadline"), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{{AttributeName: aws.String(AttrPK), KeyType: types.KeyTypeHash}},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName: aws.String(IndexRecent),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(AttrKind), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(AttrPK), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}, {
			IndexName: aws.String(IndexOpen),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(AttrOpen), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String("deadline"), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}},
		StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewImage},
	})
	if err != nil {
		t.Fatalf("create table at %s: %v", os.Getenv(envEndpoint), err)
	}
	t.Cleanup(func() {
		_, _ = client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &name})
	})
	if err := dynamodb.NewTableExistsWaiter(client).Wait(ctx, &dynamodb.DescribeTableInput{TableName: &name}, 30*time.Second); err != nil {
		t.Fatalf("table %s: %v", name, err)
	}
	return New(client, name), client, name
}

// t0 is the receipt time of the requests the tests file.
var t0 = storetest.T0

// newRequest returns a pending request as the API handler builds it.
func newRequest(t *testing.T, subject string) erasure.Request {
	t.Helper()
	return storetest.NewRequest(t, subject)
}

func mustCreate(t *testing.T, s *Store, req erasure.Request, key string) erasure.Request {
	t.Helper()
	return storetest.MustCreate(t, s, req, key)
}

// The behaviours every requests store shares (create, idempotency, open
// subject, outcomes, tenants) are in the contract suite (contract_test.go);
// what follows is this adapter's own: the table's stream.

// TestStreamInsertRecord reads a created request's INSERT record back
// through the DynamoDB Streams API and decodes it with the starter's code.
func TestStreamInsertRecord(t *testing.T) {
	s, client, table := newTable(t)
	ctx := context.Background()
	req := newRequest(t, "heidi@example.com")
	req.TenantID = "tenant-9"
	mustCreate(t, s, req, "idem-9")

	desc, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &table})
	if err != nil {
		t.Fatal(err)
	}
	if desc.Table.LatestStreamArn == nil {
		t.Fatal("table has no stream")
	}
	streams := dynamodbstreams.NewFromConfig(awsConfig(t))
	stream, err := streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: desc.Table.LatestStreamArn})
	if err != nil {
		t.Fatal(err)
	}
	if vt := stream.StreamDescription.StreamViewType; vt != streamtypes.StreamViewTypeNewImage {
		t.Errorf("stream view type = %s, want NEW_IMAGE", vt)
	}
	var records []streamtypes.Record
	for _, shard := range stream.StreamDescription.Shards {
		it, err := streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
			StreamArn:         desc.Table.LatestStreamArn,
			ShardId:           shard.ShardId,
			ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon,
		})
		if err != nil {
			t.Fatal(err)
		}
		iter := it.ShardIterator
		for range 5 {
			if iter == nil {
				break
			}
			out, err := streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				t.Fatal(err)
			}
			records = append(records, out.Records...)
			if len(out.Records) == 0 {
				break
			}
			iter = out.NextShardIterator
		}
	}
	kinds := map[string]int{}
	found := false
	for _, rec := range records {
		if rec.EventName != streamtypes.OperationTypeInsert {
			t.Errorf("unexpected %s record", rec.EventName)
			continue
		}
		item, err := attributevalue.FromDynamoDBStreamsMap(rec.Dynamodb.NewImage)
		if err != nil {
			t.Fatal(err)
		}
		image, err := EventImage(item)
		if err != nil {
			t.Fatal(err)
		}
		kinds[image[AttrKind].String()]++
		got, err := RequestFromImage(image)
		if errors.Is(err, ErrNotRequest) {
			continue
		}
		if err != nil {
			t.Fatalf("RequestFromImage: %v", err)
		}
		found = true
		want := req
		want.SubjectID = "" // the stream decoder drops it
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("decoded INSERT record (-created +decoded):\n%s", diff)
		}
	}
	if !found {
		t.Fatalf("no INSERT record of the request among %d records", len(records))
	}
	if want := map[string]int{KindRequest: 1, KindSubject: 1, KindIdempotency: 1}; !cmp.Equal(want, kinds) {
		t.Errorf("INSERT records by kind = %v, want %v (the starter's event source filter keeps only kind=request)", kinds, want)
	}
}
