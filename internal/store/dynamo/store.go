// Package dynamo is the DynamoDB adapter of a region's requests table. It
// owns the table's layout (see item.go): request items, one lock item per
// subject with an open request, and Idempotency-Key records. Every write is
// conditional, so concurrent intakes of one subject, retried tasks and
// replayed stream records all converge on one request.
package dynamo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/pause"
)

// API is the part of the DynamoDB client the store uses; *dynamodb.Client
// satisfies it, and a test may wrap one to inject faults.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

var _ API = (*dynamodb.Client)(nil)

// Store reads and writes erasure requests in one region's requests table.
type Store struct {
	db    API
	table string
	now   func() time.Time
	// attempts bounds the retries of a transaction that lost a race.
	attempts int
	backoff  time.Duration
}

// New returns a store over the named table. The client is built once by
// the function's main (or a test) and shared.
func New(client API, table string) *Store {
	return &Store{db: client, table: table, now: time.Now, attempts: 10, backoff: 20 * time.Millisecond}
}

// List limits.
const (
	// DefaultListLimit is what List returns when asked for 0 or fewer.
	DefaultListLimit = 25
	// MaxListLimit caps one List call.
	MaxListLimit = 100
)

// Cancellation reason codes of TransactWriteItems.
const (
	reasonConditionFailed = "ConditionalCheckFailed"
	reasonNone            = "None"
)

// transient reports a cancellation reason that passes by itself.
func transient(code string) bool {
	switch code {
	case "TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded":
		return true
	}
	return false
}

// CheckNew is what every requests store checks and fills in before its
// Create writes anything: a well-formed id and a subject (errors never carry
// the subject id), and status pending when unset. The embedded store calls
// it too.
func CheckNew(req erasure.Request) (erasure.Request, error) {
	if _, err := erasure.ParseID(req.ID); err != nil {
		return erasure.Request{}, fmt.Errorf("create request: %w", err)
	}
	if req.SubjectID == "" {
		return erasure.Request{}, fmt.Errorf("create request %s: no subject id", req.ID)
	}
	if !subjectHashRE.MatchString(req.SubjectHash) {
		return erasure.Request{}, fmt.Errorf("create request %s: no subject hash (64 hex digits of the subject's keyed hash)", req.ID)
	}
	if req.Status == "" {
		req.Status = erasure.StatusPending
	}
	return req, nil
}

// Create stores a new pending request unless its subject already has an
// open request (then that request is returned with created=false) or the
// idempotency key was used before (then the key's request is returned, or
// erasure.ErrIdempotencyKeyReused when it was used for another subject).
// The request, the subject's lock and the key record are written in one
// conditional transaction: there is no read before the write, so 30
// concurrent intakes of one subject create exactly one request.
func (s *Store) Create(ctx context.Context, req erasure.Request, idempotencyKey string) (stored erasure.Request, created bool, err error) {
	req, err = CheckNew(req)
	if err != nil {
		return erasure.Request{}, false, err
	}
	item, err := attributevalue.MarshalMap(NewRequestItem(req))
	if err != nil {
		return erasure.Request{}, false, fmt.Errorf("create request %s: %w", req.ID, err)
	}
	subjectHash := req.SubjectHash
	lock, err := attributevalue.MarshalMap(lockItem{PK: subjectPrefix + subjectHash, Kind: KindSubject, RequestID: req.ID})
	if err != nil {
		return erasure.Request{}, false, fmt.Errorf("create request %s: %w", req.ID, err)
	}
	items := []types.TransactWriteItem{
		{Put: &types.Put{
			TableName:                           &s.table,
			Item:                                item,
			ConditionExpression:                 aws.String("attribute_not_exists(pk)"),
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}},
		{Put: &types.Put{
			TableName:                           &s.table,
			Item:                                lock,
			ConditionExpression:                 aws.String("attribute_not_exists(pk)"),
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}},
	}
	const iRequest, iLock, iIdem = 0, 1, 2

	for attempt := 0; attempt < s.attempts; attempt++ {
		if attempt > 0 {
			if err := s.sleep(ctx, attempt); err != nil {
				return erasure.Request{}, false, fmt.Errorf("create request %s: %w", req.ID, err)
			}
		}
		tx := items
		if idempotencyKey != "" {
			now := s.now()
			idem, err := attributevalue.MarshalMap(idemItem{
				PK: idemKey(idempotencyKey), Kind: KindIdempotency, RequestID: req.ID,
				SubjectHash: subjectHash, ExpiresAt: now.Add(IdempotencyTTL).Unix(),
			})
			if err != nil {
				return erasure.Request{}, false, fmt.Errorf("create request %s: %w", req.ID, err)
			}
			// An expired record may linger until TTL deletes it; it no
			// longer binds the key.
			tx = append(tx[:len(tx):len(tx)], types.TransactWriteItem{Put: &types.Put{
				TableName:                           &s.table,
				Item:                                idem,
				ConditionExpression:                 aws.String("attribute_not_exists(pk) OR expiresAt < :now"),
				ExpressionAttributeValues:           map[string]types.AttributeValue{":now": &types.AttributeValueMemberN{Value: fmt.Sprint(now.Unix())}},
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
			}})
		}
		_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx})
		if err == nil {
			return Normalise(req), true, nil
		}
		var tce *types.TransactionCanceledException
		if !errors.As(err, &tce) {
			return erasure.Request{}, false, classify("create request "+req.ID, err)
		}
		code := func(i int) string {
			if i < len(tce.CancellationReasons) {
				return aws.ToString(tce.CancellationReasons[i].Code)
			}
			return ""
		}
		old := func(i int) map[string]types.AttributeValue {
			if i < len(tce.CancellationReasons) {
				return tce.CancellationReasons[i].Item
			}
			return nil
		}

		// The key decides first: a retried call with the same key must get
		// the same answer even after its request has closed.
		if idempotencyKey != "" && code(iIdem) == reasonConditionFailed {
			var rec idemItem
			if err := s.existing(ctx, old(iIdem), idemKey(idempotencyKey), &rec); err != nil {
				return erasure.Request{}, false, err
			}
			if rec.RequestID == "" {
				continue // gone between the put and the read: try again
			}
			if rec.SubjectHash != subjectHash {
				return erasure.Request{}, false, erasure.ErrIdempotencyKeyReused
			}
			r, err := s.Get(ctx, rec.RequestID)
			if err != nil {
				return erasure.Request{}, false, fmt.Errorf("create request: idempotency key's request: %w", err)
			}
			return r, false, nil
		}
		if code(iLock) == reasonConditionFailed {
			var l lockItem
			if err := s.existing(ctx, old(iLock), subjectPrefix+subjectHash, &l); err != nil {
				return erasure.Request{}, false, err
			}
			if l.RequestID == "" {
				continue // the open request closed meanwhile: try again
			}
			r, err := s.Get(ctx, l.RequestID)
			if errors.Is(err, erasure.ErrNotFound) {
				continue
			}
			if err != nil {
				return erasure.Request{}, false, fmt.Errorf("create request: subject's open request: %w", err)
			}
			if !r.Status.Open() {
				continue // closed and its lock released since the put
			}
			if idempotencyKey != "" {
				// Bind the key to the open request, so that a replay after
				// it closed answers it again instead of filing a new one.
				bound, err := s.bindKey(ctx, idempotencyKey, r.ID, subjectHash)
				if err != nil {
					return erasure.Request{}, false, err
				}
				if !bound {
					continue // the key was bound meanwhile: it decides
				}
			}
			return r, false, nil
		}
		if code(iRequest) == reasonConditionFailed {
			return erasure.Request{}, false, fmt.Errorf("create request %s: a request with this id already exists", req.ID)
		}
		retry := false
		for _, r := range tce.CancellationReasons {
			if transient(aws.ToString(r.Code)) {
				retry = true
			}
		}
		if !retry {
			return erasure.Request{}, false, fmt.Errorf("create request %s: transaction cancelled: %s", req.ID, reasonCodes(tce))
		}
	}
	return erasure.Request{}, false, &erasure.StoreUnavailable{Op: "create request " + req.ID, Err: fmt.Errorf("still conflicting after %d attempts", s.attempts)}
}

// bindKey records that an Idempotency-Key answers requestID, unless the key
// is bound already (bound=false).
func (s *Store) bindKey(ctx context.Context, key, requestID, subjectHash string) (bound bool, err error) {
	now := s.now()
	item, err := attributevalue.MarshalMap(idemItem{PK: idemKey(key), Kind: KindIdempotency, RequestID: requestID,
		SubjectHash: subjectHash, ExpiresAt: now.Add(IdempotencyTTL).Unix()})
	if err != nil {
		return false, fmt.Errorf("bind idempotency key: %w", err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 &s.table,
		Item:                      item,
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR expiresAt < :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": &types.AttributeValueMemberN{Value: fmt.Sprint(now.Unix())}},
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &ccf):
		return false, nil
	default:
		return false, classify("bind idempotency key", err)
	}
}

// existing decodes the item a failed condition returned, or reads it when
// the server did not return it. A missing item leaves out unchanged.
func (s *Store) existing(ctx context.Context, item map[string]types.AttributeValue, pk string, out any) error {
	if item == nil {
		got, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
			TableName:      &s.table,
			Key:            key(pk),
			ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			return classify("read "+strings.SplitN(pk, "#", 2)[0]+" item", err)
		}
		item = got.Item
	}
	if item == nil {
		return nil
	}
	if err := attributevalue.UnmarshalMap(item, out); err != nil {
		return fmt.Errorf("decode %s item: %w", strings.SplitN(pk, "#", 2)[0], err)
	}
	return nil
}

func reasonCodes(tce *types.TransactionCanceledException) string {
	codes := make([]string, len(tce.CancellationReasons))
	for i, r := range tce.CancellationReasons {
		codes[i] = aws.ToString(r.Code)
	}
	return strings.Join(codes, ",")
}

// sleep waits before the attempt-th try: exponential back-off with full
// jitter, so racing writers spread out.
func (s *Store) sleep(ctx context.Context, attempt int) error {
	d := s.backoff << min(attempt, 6)
	return pause.For(ctx, time.Duration(rand.Int64N(int64(d)+1)))
}

// Normalise returns the request as Get will read it back: times in UTC,
// without monotonic clock readings. Both stores answer Create and
// RecordOutcome with it.
func Normalise(r erasure.Request) erasure.Request {
	n, err := NewRequestItem(r).Request()
	if err != nil {
		return r // cannot happen: the fields were just formatted
	}
	return n
}

func key(pk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrPK: &types.AttributeValueMemberS{Value: pk}}
}

// Get returns a request with its subject id (strongly consistent), or
// erasure.ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (erasure.Request, error) {
	if id == "" {
		return erasure.Request{}, erasure.ErrNotFound
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &s.table,
		Key:            key(id),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return erasure.Request{}, classify("get request "+id, err)
	}
	return decodeRequest(out.Item)
}

func decodeRequest(item map[string]types.AttributeValue) (erasure.Request, error) {
	if item == nil {
		return erasure.Request{}, erasure.ErrNotFound
	}
	var it RequestItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return erasure.Request{}, fmt.Errorf("decode request: %w", err)
	}
	if it.Kind != KindRequest {
		return erasure.Request{}, erasure.ErrNotFound
	}
	return it.Request()
}

// List returns the most recent requests, newest first (request ids are
// UUIDv7, so the GSI's sort key orders them by receipt). A limit of 0 or
// less means DefaultListLimit; more than MaxListLimit is capped. The GSI is
// eventually consistent: a request created a moment ago may be missing.
func (s *Store) List(ctx context.Context, limit int) ([]erasure.Request, error) {
	if limit <= 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, MaxListLimit)
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:                 &s.table,
		IndexName:                 aws.String(IndexRecent),
		KeyConditionExpression:    aws.String("#kind = :kind"),
		ExpressionAttributeNames:  map[string]string{"#kind": AttrKind},
		ExpressionAttributeValues: map[string]types.AttributeValue{":kind": &types.AttributeValueMemberS{Value: KindRequest}},
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(int32(limit)),
	})
	if err != nil {
		return nil, classify("list requests", err)
	}
	reqs := make([]erasure.Request, 0, len(out.Items))
	for _, item := range out.Items {
		r, err := decodeRequest(item)
		if err != nil {
			return nil, err
		}
		reqs = append(reqs, r)
	}
	return reqs, nil
}

// OpenRequests returns every open request (pending or running), soonest
// deadline first, without subject ids: the deadline watch's view, read
// from the sparse GSI "open" page by page.
func (s *Store) OpenRequests(ctx context.Context) ([]erasure.Request, error) {
	return s.openIndex(ctx, "list open requests", OpenPartition, nil,
		func(r erasure.Request) bool { return r.Status.Open() })
}

// openIndex reads one partition of the sparse GSI "open", soonest deadline
// first (before a deadline when before is set), without subject ids;
// still tells the requests the index, eventually consistent, lists though
// they have left the partition.
func (s *Store) openIndex(ctx context.Context, op, partition string, before *time.Time, still func(erasure.Request) bool) ([]erasure.Request, error) {
	in := &dynamodb.QueryInput{
		TableName:                 &s.table,
		IndexName:                 aws.String(IndexOpen),
		KeyConditionExpression:    aws.String("#open = :open"),
		ExpressionAttributeNames:  map[string]string{"#open": AttrOpen},
		ExpressionAttributeValues: map[string]types.AttributeValue{":open": &types.AttributeValueMemberS{Value: partition}},
	}
	if before != nil {
		in.KeyConditionExpression = aws.String("#open = :open AND deadline < :before")
		in.ExpressionAttributeValues[":before"] = &types.AttributeValueMemberS{Value: FormatTime(*before)}
	}
	var out []erasure.Request
	for {
		page, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, classify(op, err)
		}
		for _, item := range page.Items {
			r, err := decodeRequest(item)
			if err != nil {
				return nil, err
			}
			if still(r) {
				r.SubjectID = ""
				out = append(out, r)
			}
		}
		if len(page.LastEvaluatedKey) == 0 {
			return out, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// MarkRunning records that the request's execution has started. Only a
// pending request changes: a request already running or closed (its
// execution may finish before the starter gets here) counts as success,
// so a replayed stream record is harmless.
func (s *Store) MarkRunning(ctx context.Context, id string) error {
	if id == "" {
		return erasure.ErrNotFound
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                &s.table,
		Key:                      key(id),
		UpdateExpression:         aws.String("SET #status = :running, #rev = if_not_exists(#rev, :zero) + :one"),
		ConditionExpression:      aws.String("#kind = :request AND #status = :pending"),
		ExpressionAttributeNames: map[string]string{"#status": "status", "#kind": AttrKind, "#rev": "rev"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":zero":    &types.AttributeValueMemberN{Value: "0"},
			":one":     &types.AttributeValueMemberN{Value: "1"},
			":running": &types.AttributeValueMemberS{Value: string(erasure.StatusRunning)},
			":pending": &types.AttributeValueMemberS{Value: string(erasure.StatusPending)},
			":request": &types.AttributeValueMemberS{Value: KindRequest},
		},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ccf):
		if _, derr := decodeRequest(ccf.Item); derr != nil {
			return fmt.Errorf("mark request %s running: %w", id, erasure.ErrNotFound)
		}
		return nil
	default:
		return classify("mark request "+id+" running", err)
	}
}

// SubjectOf returns the subject id of a request, for the connectors that
// send it to a subsystem. The subject id travels no other way: executions
// carry only the request id.
func (s *Store) SubjectOf(ctx context.Context, requestID string) (string, error) {
	if requestID == "" {
		return "", erasure.ErrNotFound
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:                &s.table,
		Key:                      key(requestID),
		ConsistentRead:           aws.Bool(true),
		ProjectionExpression:     aws.String("#kind, subjectId"),
		ExpressionAttributeNames: map[string]string{"#kind": AttrKind},
	})
	if err != nil {
		return "", classify("read subject of request "+requestID, err)
	}
	var it struct {
		Kind      string `dynamodbav:"kind"`
		SubjectID string `dynamodbav:"subjectId"`
	}
	if out.Item == nil {
		return "", erasure.ErrNotFound
	}
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return "", fmt.Errorf("decode request %s: %w", requestID, err)
	}
	if it.Kind != KindRequest || it.SubjectID == "" {
		return "", erasure.ErrNotFound
	}
	return it.SubjectID, nil
}

// RecordOutcome closes an open request with its final status and
// per-subsystem results, and releases its subject's lock in the same
// transaction, so a new request for the subject can be filed from then on.
// A request already closed is returned unchanged: a retried RecordOutcome
// task neither fails nor overwrites the first outcome.
func (s *Store) RecordOutcome(ctx context.Context, id string, status erasure.Status, completedAt time.Time, results []erasure.SubsystemResult) (erasure.Request, error) {
	if status != erasure.StatusCompleted && status != erasure.StatusFailed {
		return erasure.Request{}, fmt.Errorf("record outcome of %s: %q is not a final status", id, status)
	}
	cur, err := s.Get(ctx, id)
	if err != nil {
		return erasure.Request{}, fmt.Errorf("record outcome of %s: %w", id, err)
	}
	if !cur.Status.Open() {
		return cur, nil
	}
	subs, err := attributevalue.Marshal(toSubsystemItems(results))
	if err != nil {
		return erasure.Request{}, fmt.Errorf("record outcome of %s: %w", id, err)
	}
	if len(results) == 0 {
		subs = &types.AttributeValueMemberL{Value: []types.AttributeValue{}}
	}
	closed := cur
	closed.Rev++
	closed.Status = status
	closed.CompletedAt = &completedAt
	closed.Subsystems = results
	if closed.Forgets() {
		closed.Forget(s.now())
	}
	closed = Normalise(closed)
	vals := map[string]types.AttributeValue{
		":zero":        &types.AttributeValueMemberN{Value: "0"},
		":one":         &types.AttributeValueMemberN{Value: "1"},
		":status":      &types.AttributeValueMemberS{Value: string(status)},
		":completedAt": &types.AttributeValueMemberS{Value: FormatTime(completedAt)},
		":subsystems":  subs,
		":pending":     &types.AttributeValueMemberS{Value: string(erasure.StatusPending)},
		":running":     &types.AttributeValueMemberS{Value: string(erasure.StatusRunning)},
	}
	// A completed request forgets its subject in the same write; a failed
	// one keeps it, listed under HeldPartition, until it is settled or the
	// deadline watch forgets it.
	expr := "SET #status = :status, completedAt = :completedAt, subsystems = :subsystems, #rev = if_not_exists(#rev, :zero) + :one"
	if closed.ForgottenAt != nil {
		expr += ", forgottenAt = :forgottenAt REMOVE #open, subjectId"
		vals[":forgottenAt"] = &types.AttributeValueMemberS{Value: FormatTime(*closed.ForgottenAt)}
	} else {
		expr += ", #open = :held"
		vals[":held"] = &types.AttributeValueMemberS{Value: HeldPartition}
	}
	update := types.Update{
		TableName:                 &s.table,
		Key:                       key(id),
		UpdateExpression:          aws.String(expr),
		ConditionExpression:       aws.String("#status IN (:pending, :running)"),
		ExpressionAttributeNames:  map[string]string{"#status": "status", "#rev": "rev", "#open": AttrOpen},
		ExpressionAttributeValues: vals,
	}
	release := types.Delete{
		TableName:                 &s.table,
		Key:                       key(subjectKey(cur.SubjectHash)),
		ConditionExpression:       aws.String("requestId = :id"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":id": &types.AttributeValueMemberS{Value: id}},
	}
	txItems := []types.TransactWriteItem{{Update: &update}, {Delete: &release}}
	if closed.ForgottenAt != nil {
		sup, err := suppression(s.table, closed)
		if err != nil {
			return erasure.Request{}, fmt.Errorf("record outcome of %s: %w", id, err)
		}
		txItems = append(txItems, sup)
	}

	for attempt := 0; attempt < s.attempts; attempt++ {
		if attempt > 0 {
			if err := s.sleep(ctx, attempt); err != nil {
				return erasure.Request{}, fmt.Errorf("record outcome of %s: %w", id, err)
			}
		}
		_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: txItems})
		if err == nil {
			return closed, nil
		}
		var tce *types.TransactionCanceledException
		if !errors.As(err, &tce) {
			return erasure.Request{}, classify("record outcome of "+id, err)
		}
		codes := make([]string, 2)
		for i := range codes {
			if i < len(tce.CancellationReasons) {
				codes[i] = aws.ToString(tce.CancellationReasons[i].Code)
			}
		}
		switch {
		case codes[0] == reasonConditionFailed:
			// Closed by a concurrent attempt: its outcome stands.
			r, err := s.Get(ctx, id)
			if err != nil {
				return erasure.Request{}, fmt.Errorf("record outcome of %s: %w", id, err)
			}
			if r.Status.Open() {
				continue
			}
			return r, nil
		case codes[1] == reasonConditionFailed && (codes[0] == reasonNone || codes[0] == ""):
			// The lock is gone or names another request: it is not ours to
			// release. Close the request alone, still conditionally.
			return s.closeWithoutLock(ctx, id, append([]types.TransactWriteItem{txItems[0]}, txItems[2:]...), closed)
		case transient(codes[0]) || transient(codes[1]):
			continue
		default:
			return erasure.Request{}, fmt.Errorf("record outcome of %s: transaction cancelled: %s", id, reasonCodes(tce))
		}
	}
	return erasure.Request{}, &erasure.StoreUnavailable{Op: "record outcome of " + id, Err: fmt.Errorf("still conflicting after %d attempts", s.attempts)}
}

func (s *Store) closeWithoutLock(ctx context.Context, id string, items []types.TransactWriteItem, closed erasure.Request) (erasure.Request, error) {
	var err error
	if len(items) == 1 {
		u := items[0].Update
		_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 u.TableName,
			Key:                       u.Key,
			UpdateExpression:          u.UpdateExpression,
			ConditionExpression:       u.ConditionExpression,
			ExpressionAttributeNames:  u.ExpressionAttributeNames,
			ExpressionAttributeValues: u.ExpressionAttributeValues,
		})
	} else {
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	}
	var ccf *types.ConditionalCheckFailedException
	var tce *types.TransactionCanceledException
	switch {
	case err == nil:
		return closed, nil
	case errors.As(err, &ccf), errors.As(err, &tce) && len(tce.CancellationReasons) > 0 && aws.ToString(tce.CancellationReasons[0].Code) == reasonConditionFailed:
		r, err := s.Get(ctx, id)
		if err != nil {
			return erasure.Request{}, fmt.Errorf("record outcome of %s: %w", id, err)
		}
		return r, nil
	default:
		return erasure.Request{}, classify("record outcome of "+id, err)
	}
}

// Page lists requests newest first, older than the request id after ("" to
// start with the newest): at most limit that match, examining at most
// examine requests, so that one call is bounded however rare the matches.
// next is the id to continue after, "" when the table holds no older
// request. Requests created while a caller pages are newer than its cursor
// and never appear in its later pages, so each request is listed once.
// The GSI is eventually consistent: a request created a moment ago may be
// missing from the first page.
func (s *Store) Page(ctx context.Context, after string, limit, examine int, match func(erasure.Request) bool) ([]erasure.Request, string, error) {
	in := &dynamodb.QueryInput{
		TableName:                 &s.table,
		IndexName:                 aws.String(IndexRecent),
		KeyConditionExpression:    aws.String("#kind = :kind"),
		ExpressionAttributeNames:  map[string]string{"#kind": AttrKind},
		ExpressionAttributeValues: map[string]types.AttributeValue{":kind": &types.AttributeValueMemberS{Value: KindRequest}},
		ScanIndexForward:          aws.Bool(false),
	}
	if after != "" {
		in.KeyConditionExpression = aws.String("#kind = :kind AND pk < :after")
		in.ExpressionAttributeValues[":after"] = &types.AttributeValueMemberS{Value: after}
	}
	var out []erasure.Request
	examined, last := 0, ""
	for {
		in.Limit = aws.Int32(int32(examine - examined))
		page, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, "", classify("list requests", err)
		}
		for i, item := range page.Items {
			r, err := decodeRequest(item)
			if err != nil {
				return nil, "", err
			}
			examined++
			last = r.ID
			if match(r) {
				out = append(out, r)
			}
			if len(out) == limit || examined == examine {
				if i == len(page.Items)-1 && len(page.LastEvaluatedKey) == 0 {
					return out, "", nil
				}
				return out, last, nil
			}
		}
		if len(page.LastEvaluatedKey) == 0 {
			return out, "", nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}
