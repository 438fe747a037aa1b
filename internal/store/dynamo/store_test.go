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
	"sync"
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
		},
		KeySchema: []types.KeySchemaElement{{AttributeName: aws.String(AttrPK), KeyType: types.KeyTypeHash}},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName: aws.String(IndexRecent),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(AttrKind), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(AttrPK), KeyType: types.KeyTypeRange},
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

var t0 = time.Date(2026, 3, 31, 9, 30, 0, 123456789, time.UTC)

// newRequest returns a pending request as the API handler builds it.
func newRequest(t *testing.T, subject string) erasure.Request {
	t.Helper()
	id, err := erasure.NewID("eu")
	if err != nil {
		t.Fatal(err)
	}
	return erasure.Request{
		ID:         id,
		SubjectID:  subject,
		Source:     erasure.SourceAPI,
		Status:     erasure.StatusPending,
		ReceivedAt: t0,
		Deadline:   t0.AddDate(0, 1, 0),
	}
}

func mustCreate(t *testing.T, s *Store, req erasure.Request, key string) erasure.Request {
	t.Helper()
	got, created, err := s.Create(context.Background(), req, key)
	if err != nil {
		t.Fatalf("Create(%s): %v", req.ID, err)
	}
	if !created || got.ID != req.ID {
		t.Fatalf("Create(%s) = %s, created=%v; want a new request", req.ID, got.ID, created)
	}
	return got
}

func TestCreateGetList(t *testing.T) {
	s, _, _ := newTable(t)
	ctx := context.Background()
	var reqs []erasure.Request
	for i := range 3 {
		r := newRequest(t, fmt.Sprintf("user-%d@example.com", i))
		r.TenantID = "tenant-1"
		reqs = append(reqs, mustCreate(t, s, r, ""))
	}
	for _, want := range reqs {
		got, err := s.Get(ctx, want.ID)
		if err != nil {
			t.Fatalf("Get(%s): %v", want.ID, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Get(%s) (-created +read):\n%s", want.ID, diff)
		}
		if got.SubjectID != want.SubjectID || got.Status != erasure.StatusPending || !got.ReceivedAt.Equal(t0) {
			t.Errorf("Get(%s) = %+v", want.ID, got)
		}
	}
	for _, tc := range []struct {
		limit int
		want  []string
	}{
		{2, []string{reqs[2].ID, reqs[1].ID}},
		{0, []string{reqs[2].ID, reqs[1].ID, reqs[0].ID}},
		{1000, []string{reqs[2].ID, reqs[1].ID, reqs[0].ID}},
	} {
		list, err := s.List(ctx, tc.limit)
		if err != nil {
			t.Fatalf("List(%d): %v", tc.limit, err)
		}
		var ids []string
		for _, r := range list {
			ids = append(ids, r.ID)
		}
		if diff := cmp.Diff(tc.want, ids); diff != "" {
			t.Errorf("List(%d) ids, newest first (-want +got):\n%s", tc.limit, diff)
		}
	}
	for _, id := range []string{"er_eu_0198f0a4-7b1c-7d2e-8f00-000000000000", "", "subject#" + hash("user-0@example.com")} {
		if _, err := s.Get(ctx, id); !errors.Is(err, erasure.ErrNotFound) {
			t.Errorf("Get(%q) error = %v, want ErrNotFound", id, err)
		}
	}
}

func TestCreateReturnsTheSubjectsOpenRequest(t *testing.T) {
	s, _, _ := newTable(t)
	ctx := context.Background()
	first := mustCreate(t, s, newRequest(t, "alice@example.com"), "")
	second := newRequest(t, "alice@example.com")
	got, created, err := s.Create(ctx, second, "")
	if err != nil || created || got.ID != first.ID {
		t.Fatalf("second Create = %s, created=%v, %v; want %s, created=false", got.ID, created, err, first.ID)
	}
	if _, err := s.Get(ctx, second.ID); !errors.Is(err, erasure.ErrNotFound) {
		t.Errorf("the refused request was stored: Get error = %v", err)
	}
	// Another subject is not affected.
	mustCreate(t, s, newRequest(t, "bob@example.com"), "")
}

func TestCreateIdempotencyKey(t *testing.T) {
	s, _, _ := newTable(t)
	ctx := context.Background()
	first := mustCreate(t, s, newRequest(t, "alice@example.com"), "key-1")

	// Same key, same subject: the same request, nothing new stored.
	again := newRequest(t, "alice@example.com")
	got, created, err := s.Create(ctx, again, "key-1")
	if err != nil || created || got.ID != first.ID {
		t.Fatalf("retry with key-1 = %s, created=%v, %v; want %s", got.ID, created, err, first.ID)
	}

	// Same key, another subject: refused, and nothing of it stored.
	other := newRequest(t, "bob@example.com")
	if _, _, err := s.Create(ctx, other, "key-1"); !errors.Is(err, erasure.ErrIdempotencyKeyReused) {
		t.Fatalf("key-1 for another subject: error = %v, want ErrIdempotencyKeyReused", err)
	}
	if _, err := s.Get(ctx, other.ID); !errors.Is(err, erasure.ErrNotFound) {
		t.Errorf("refused request stored: %v", err)
	}
	mustCreate(t, s, newRequest(t, "bob@example.com"), "key-2") // bob's subject was not locked

	// The key keeps answering with its request after the request closed
	// and the subject's lock was released.
	if _, err := s.RecordOutcome(ctx, first.ID, erasure.StatusCompleted, t0.Add(time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	got, created, err = s.Create(ctx, newRequest(t, "alice@example.com"), "key-1")
	if err != nil || created || got.ID != first.ID || got.Status != erasure.StatusCompleted {
		t.Fatalf("key-1 after close = %s %s, created=%v, %v; want %s completed", got.ID, got.Status, created, err, first.ID)
	}

	// Once expired the key no longer binds: a new request is created.
	s.now = func() time.Time { return time.Now().Add(IdempotencyTTL + time.Minute) }
	mustCreate(t, s, newRequest(t, "alice@example.com"), "key-1")
}

func TestCreateConcurrentSameSubject(t *testing.T) {
	s, _, _ := newTable(t)
	const n = 30
	type result struct {
		id      string
		created bool
		err     error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		req := newRequest(t, "carol@example.com")
		wg.Go(func() {
			<-start
			got, created, err := s.Create(context.Background(), req, "")
			results[i] = result{got.ID, created, err}
		})
	}
	close(start)
	wg.Wait()
	createdCount := 0
	ids := map[string]int{}
	for _, r := range results {
		if r.err != nil {
			t.Errorf("Create: %v", r.err)
			continue
		}
		ids[r.id]++
		if r.created {
			createdCount++
		}
	}
	if createdCount != 1 || len(ids) != 1 {
		t.Fatalf("%d concurrent Creates of one subject: %d created, ids %v; want exactly one request", n, createdCount, ids)
	}
	list, err := s.List(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Errorf("table holds %d requests, want 1", len(list))
	}
}

func TestRecordOutcome(t *testing.T) {
	s, _, _ := newTable(t)
	ctx := context.Background()
	req := mustCreate(t, s, newRequest(t, "dave@example.com"), "")
	if err := s.MarkRunning(ctx, req.ID); err != nil {
		t.Fatal(err)
	}
	fin := t0.Add(2 * time.Hour)
	results := []erasure.SubsystemResult{
		{Name: "projects", Mode: "sync", Status: erasure.SubsystemDeleted, Attempts: 1, FinishedAt: &fin, Detail: "204"},
		{Name: "orders", Mode: "async", Status: erasure.SubsystemFailed, Detail: "SubsystemUnavailable: orders answered 503 (attempt 9)"},
	}
	done := t0.Add(3 * time.Hour)
	got, err := s.RecordOutcome(ctx, req.ID, erasure.StatusFailed, done, results)
	if err != nil {
		t.Fatalf("RecordOutcome: %v", err)
	}
	if got.Status != erasure.StatusFailed || got.CompletedAt == nil || !got.CompletedAt.Equal(done) || len(got.Subsystems) != 2 {
		t.Fatalf("RecordOutcome = %+v", got)
	}
	read, err := s.Get(ctx, req.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, read); diff != "" {
		t.Errorf("stored outcome differs from returned (-returned +stored):\n%s", diff)
	}

	// Retried with another outcome: the first one stands.
	again, err := s.RecordOutcome(ctx, req.ID, erasure.StatusCompleted, done.Add(time.Hour), nil)
	if err != nil {
		t.Fatalf("second RecordOutcome: %v", err)
	}
	if diff := cmp.Diff(read, again); diff != "" {
		t.Errorf("second RecordOutcome changed the request (-first +second):\n%s", diff)
	}

	// The subject's lock is released: a new request can be filed.
	next := mustCreate(t, s, newRequest(t, "dave@example.com"), "")
	if next.ID == req.ID {
		t.Fatal("new request has the closed request's id")
	}

	if _, err := s.RecordOutcome(ctx, "er_eu_0198f0a4-7b1c-7d2e-8f00-000000000000", erasure.StatusCompleted, done, nil); !errors.Is(err, erasure.ErrNotFound) {
		t.Errorf("RecordOutcome of unknown request: %v, want ErrNotFound", err)
	}
	if _, err := s.RecordOutcome(ctx, next.ID, erasure.StatusRunning, done, nil); err == nil {
		t.Error("RecordOutcome with status running: no error")
	}
}

func TestRecordOutcomeConcurrent(t *testing.T) {
	s, _, _ := newTable(t)
	req := mustCreate(t, s, newRequest(t, "erin@example.com"), "")
	var wg sync.WaitGroup
	outs := make([]erasure.Request, 8)
	errs := make([]error, 8)
	for i := range outs {
		wg.Go(func() {
			status := erasure.StatusCompleted
			if i%2 == 1 {
				status = erasure.StatusFailed
			}
			outs[i], errs[i] = s.RecordOutcome(context.Background(), req.ID, status, t0.Add(time.Duration(i)*time.Minute), nil)
		})
	}
	wg.Wait()
	stored, err := s.Get(context.Background(), req.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i := range outs {
		if errs[i] != nil {
			t.Errorf("RecordOutcome %d: %v", i, errs[i])
			continue
		}
		if outs[i].Status != stored.Status || !outs[i].CompletedAt.Equal(*stored.CompletedAt) {
			t.Errorf("RecordOutcome %d returned %s at %v; stored %s at %v", i, outs[i].Status, outs[i].CompletedAt, stored.Status, stored.CompletedAt)
		}
	}
	mustCreate(t, s, newRequest(t, "erin@example.com"), "")
}

func TestMarkRunning(t *testing.T) {
	s, _, _ := newTable(t)
	ctx := context.Background()
	req := mustCreate(t, s, newRequest(t, "frank@example.com"), "")
	for i := range 2 {
		if err := s.MarkRunning(ctx, req.ID); err != nil {
			t.Fatalf("MarkRunning #%d: %v", i+1, err)
		}
		got, _ := s.Get(ctx, req.ID)
		if got.Status != erasure.StatusRunning {
			t.Fatalf("after MarkRunning #%d status = %s", i+1, got.Status)
		}
	}
	if _, err := s.RecordOutcome(ctx, req.ID, erasure.StatusCompleted, t0, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkRunning(ctx, req.ID); err != nil {
		t.Fatalf("MarkRunning of a closed request: %v", err)
	}
	if got, _ := s.Get(ctx, req.ID); got.Status != erasure.StatusCompleted {
		t.Errorf("MarkRunning reopened a closed request: status %s", got.Status)
	}
	for _, id := range []string{"er_eu_0198f0a4-7b1c-7d2e-8f00-000000000000", "subject#" + hash("frank@example.com")} {
		if err := s.MarkRunning(ctx, id); !errors.Is(err, erasure.ErrNotFound) {
			t.Errorf("MarkRunning(%q) = %v, want ErrNotFound", id, err)
		}
	}
}

func TestSubjectOf(t *testing.T) {
	s, _, _ := newTable(t)
	ctx := context.Background()
	req := mustCreate(t, s, newRequest(t, "grace@example.com"), "k")
	got, err := s.SubjectOf(ctx, req.ID)
	if err != nil || got != "grace@example.com" {
		t.Fatalf("SubjectOf = %q, %v", got, err)
	}
	for _, id := range []string{"er_eu_0198f0a4-7b1c-7d2e-8f00-000000000000", "", "idem#" + hash("k")} {
		if _, err := s.SubjectOf(ctx, id); !errors.Is(err, erasure.ErrNotFound) {
			t.Errorf("SubjectOf(%q) error = %v, want ErrNotFound", id, err)
		}
	}
}

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
