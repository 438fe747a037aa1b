package dynamo

// Faults DynamoDB Local does not produce (it serialises transactions, so
// concurrent writers never see TransactionConflict): a scripted fake API.
// These run without a server.

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/lethe-erasure/lethe/internal/erasure"
)

// scriptedAPI answers TransactWriteItems from a script of errors (nil =
// success) and GetItem from a map of items.
type scriptedAPI struct {
	tx    []error
	txN   int
	items map[string]map[string]types.AttributeValue
	getN  int
	err   error // returned by every call when set
}

func (f *scriptedAPI) TransactWriteItems(_ context.Context, _ *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	if f.err != nil {
		return nil, f.err
	}
	f.txN++
	if len(f.tx) == 0 {
		return &dynamodb.TransactWriteItemsOutput{}, nil
	}
	err := f.tx[0]
	f.tx = f.tx[1:]
	return &dynamodb.TransactWriteItemsOutput{}, err
}

func (f *scriptedAPI) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if f.err != nil {
		return nil, f.err
	}
	f.getN++
	pk := in.Key[AttrPK].(*types.AttributeValueMemberS).Value
	return &dynamodb.GetItemOutput{Item: f.items[pk]}, nil
}

func (f *scriptedAPI) Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return nil, f.err
}

func (f *scriptedAPI) BatchGetItem(context.Context, *dynamodb.BatchGetItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	return nil, f.err
}

func (f *scriptedAPI) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return nil, f.err
}

func (f *scriptedAPI) UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return nil, f.err
}

func cancelled(codes ...string) error {
	reasons := make([]types.CancellationReason, len(codes))
	for i, c := range codes {
		reasons[i].Code = aws.String(c)
	}
	return &types.TransactionCanceledException{Message: aws.String("Transaction cancelled"), CancellationReasons: reasons}
}

func fakeStore(api API) *Store {
	s := New(api, "requests")
	s.attempts = 4
	s.backoff = 0
	return s
}

func marshal(t *testing.T, v any) map[string]types.AttributeValue {
	t.Helper()
	m, err := attributevalue.MarshalMap(v)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func isUnavailable(err error) bool {
	var u *erasure.StoreUnavailable
	return errors.As(err, &u)
}

func TestCreateRetriesTransactionConflicts(t *testing.T) {
	api := &scriptedAPI{tx: []error{cancelled("None", "TransactionConflict"), cancelled("TransactionConflict", "None")}}
	req := newRequest(t, "ivan@example.com")
	got, created, err := fakeStore(api).Create(context.Background(), req, "")
	if err != nil || !created || got.ID != req.ID || api.txN != 3 {
		t.Fatalf("Create = %s created=%v err=%v after %d transactions; want created after 3", got.ID, created, err, api.txN)
	}
}

func TestCreateGivesUpAsStoreUnavailable(t *testing.T) {
	conflict := cancelled("None", "TransactionConflict")
	api := &scriptedAPI{tx: []error{conflict, conflict, conflict, conflict, conflict}}
	_, _, err := fakeStore(api).Create(context.Background(), newRequest(t, "ivan@example.com"), "")
	var su *erasure.StoreUnavailable
	if !errors.As(err, &su) || api.txN != 4 {
		t.Fatalf("error = %v (%T) after %d transactions; want *erasure.StoreUnavailable after 4", err, err, api.txN)
	}
}

func TestCreateLockReleasedBetweenPutAndRead(t *testing.T) {
	// The lock failed the condition but is gone when read (its request
	// closed meanwhile): the transaction is tried again and succeeds.
	api := &scriptedAPI{tx: []error{cancelled("None", "ConditionalCheckFailed")}, items: map[string]map[string]types.AttributeValue{}}
	req := newRequest(t, "judy@example.com")
	got, created, err := fakeStore(api).Create(context.Background(), req, "")
	if err != nil || !created || got.ID != req.ID || api.txN != 2 || api.getN != 1 {
		t.Fatalf("Create = %s created=%v err=%v (%d tx, %d reads)", got.ID, created, err, api.txN, api.getN)
	}
}

func TestCreateLockPointsAtClosedRequest(t *testing.T) {
	closedReq := newRequest(t, "judy@example.com")
	closedReq.Status = erasure.StatusCompleted
	api := &scriptedAPI{
		tx: []error{cancelled("None", "ConditionalCheckFailed")},
		items: map[string]map[string]types.AttributeValue{
			subjectKey("judy@example.com"): marshal(t, lockItem{PK: subjectKey("judy@example.com"), Kind: KindSubject, RequestID: closedReq.ID}),
			closedReq.ID:                   marshal(t, NewRequestItem(closedReq)),
		},
	}
	req := newRequest(t, "judy@example.com")
	got, created, err := fakeStore(api).Create(context.Background(), req, "")
	if err != nil || !created || got.ID != req.ID {
		t.Fatalf("Create = %s created=%v err=%v; want a new request (the lock's request is closed)", got.ID, created, err)
	}
}

func TestCreateRejectsBadRequests(t *testing.T) {
	s := fakeStore(&scriptedAPI{})
	good := newRequest(t, "kim@example.com")
	for name, req := range map[string]erasure.Request{
		"bad id":     {ID: "nope", SubjectID: "x"},
		"no subject": {ID: good.ID},
	} {
		if _, _, err := s.Create(context.Background(), req, ""); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, _, err := s.Create(context.Background(), good, ""); err != nil {
		t.Fatal(err)
	}
}

func TestErrorsClassified(t *testing.T) {
	netErr := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	for _, tc := range []struct {
		name        string
		err         error
		unavailable bool
	}{
		{"network", netErr, true},
		{"throttled", &smithy.GenericAPIError{Code: "ThrottlingException", Fault: smithy.FaultClient}, true},
		{"capacity", &types.ProvisionedThroughputExceededException{Message: aws.String("slow down")}, true},
		{"server fault", &types.InternalServerError{Message: aws.String("oops")}, true},
		{"validation", &smithy.GenericAPIError{Code: "ValidationException", Fault: smithy.FaultClient}, false},
		{"no table", &types.ResourceNotFoundException{Message: aws.String("no table")}, false},
		{"cancelled", context.Canceled, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := fakeStore(&scriptedAPI{err: tc.err})
			_, getErr := s.Get(context.Background(), "er_eu_0198f0a4-7b1c-7d2e-8f00-000000000000")
			_, subjErr := s.SubjectOf(context.Background(), "er_eu_0198f0a4-7b1c-7d2e-8f00-000000000000")
			markErr := s.MarkRunning(context.Background(), "er_eu_0198f0a4-7b1c-7d2e-8f00-000000000000")
			_, listErr := s.List(context.Background(), 10)
			for op, err := range map[string]error{"Get": getErr, "SubjectOf": subjErr, "MarkRunning": markErr, "List": listErr} {
				if err == nil {
					t.Fatalf("%s: no error", op)
				}
				if isUnavailable(err) != tc.unavailable {
					t.Errorf("%s: %v: unavailable=%v, want %v", op, err, isUnavailable(err), tc.unavailable)
				}
				if !errors.Is(err, tc.err) {
					t.Errorf("%s: %v does not wrap the SDK error", op, err)
				}
			}
		})
	}
}

// TestTransient: what passes by itself is retryable, what a retry cannot
// fix is not.
func TestTransient(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"throttled", &smithy.GenericAPIError{Code: "ThrottlingException"}, true},
		{"transaction in progress", &smithy.GenericAPIError{Code: "TransactionInProgressException"}, true},
		{"server fault", &smithy.GenericAPIError{Code: "Whatever", Fault: smithy.FaultServer}, true},
		{"no answer", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, true},
		{"validation", &smithy.GenericAPIError{Code: "ValidationException", Fault: smithy.FaultClient}, false},
		{"missing table", &types.ResourceNotFoundException{}, false},
		{"cancelled", context.Canceled, false},
	} {
		if got := Transient(tc.err); got != tc.want {
			t.Errorf("%s: Transient = %v, want %v", tc.name, got, tc.want)
		}
	}
}
