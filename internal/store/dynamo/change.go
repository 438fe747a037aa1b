package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lethe-erasure/lethe/internal/audit"
	"github.com/lethe-erasure/lethe/internal/erasure"
)

// Audit records live in the requests table too, as the region's hash chain
// (internal/audit): entry n is keyed "audit#" + n in 20 digits, so the GSI
// "recent" (kind, pk) lists them in chain order, and the item "audit#head"
// holds the chain's head. An append puts each entry on the condition that
// its key is free and moves the head on the condition that it is where the
// writer read it, in one transaction: no entry is overwritten or skipped.
const (
	// KindAudit is the kind of an audit entry; KindAuditHead of the head.
	KindAudit     = "audit"
	KindAuditHead = "audithead"
	auditPrefix   = "audit#"
	auditHeadKey  = "audit#head"
)

// AuditItem is an audit entry as stored; the embedded store keeps the same
// attributes as JSON.
type AuditItem struct {
	PK        string            `dynamodbav:"pk" json:"pk"`
	Kind      string            `dynamodbav:"kind" json:"-"`
	ID        string            `dynamodbav:"id" json:"id"`
	RequestID string            `dynamodbav:"requestId,omitempty" json:"requestId,omitempty"`
	At        string            `dynamodbav:"at" json:"at"`
	Actor     string            `dynamodbav:"actor" json:"actor"`
	Action    string            `dynamodbav:"action" json:"action"`
	Detail    map[string]string `dynamodbav:"detail,omitempty" json:"detail,omitempty"`
	Seq       int64             `dynamodbav:"seq" json:"seq"`
	Prev      string            `dynamodbav:"prev" json:"prev"`
	Hash      string            `dynamodbav:"hash" json:"hash"`
}

// AuditKey is the key of the chain's entry seq: both stores order entries
// by it.
func AuditKey(seq int64) string { return fmt.Sprintf("%s%020d", auditPrefix, seq) }

type auditHeadItem struct {
	PK   string `dynamodbav:"pk"`
	Kind string `dynamodbav:"kind"`
	Seq  int64  `dynamodbav:"seq"`
	Hash string `dynamodbav:"hash"`
}

// auditHead reads the chain's head (strongly consistent).
func (s *Store) auditHead(ctx context.Context) (audit.Head, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: key(auditHeadKey), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return audit.Head{}, classify("read the audit chain's head", err)
	}
	var h auditHeadItem
	if err := attributevalue.UnmarshalMap(out.Item, &h); err != nil {
		return audit.Head{}, fmt.Errorf("decode the audit chain's head: %w", err)
	}
	return audit.Head{Seq: h.Seq, Hash: h.Hash}, nil
}

// auditWrites are the writes that append recs to the chain after head: one
// conditional Put per entry and the head's conditional move.
func (s *Store) auditWrites(head audit.Head, recs []audit.Record) ([]types.TransactWriteItem, error) {
	chained, next := audit.Chain(head, recs)
	var tx []types.TransactWriteItem
	for _, rec := range chained {
		a, err := attributevalue.MarshalMap(NewAuditItem(rec))
		if err != nil {
			return nil, err
		}
		tx = append(tx, types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: a, ConditionExpression: aws.String("attribute_not_exists(pk)")}})
	}
	h, err := attributevalue.MarshalMap(auditHeadItem{PK: auditHeadKey, Kind: KindAuditHead, Seq: next.Seq, Hash: next.Hash})
	if err != nil {
		return nil, err
	}
	put := &types.Put{TableName: &s.table, Item: h, ConditionExpression: aws.String("attribute_not_exists(pk)")}
	if head.Seq > 0 {
		put.ConditionExpression = aws.String("seq = :seq")
		put.ExpressionAttributeValues = map[string]types.AttributeValue{":seq": &types.AttributeValueMemberN{Value: strconv.FormatInt(head.Seq, 10)}}
	}
	return append(tx, types.TransactWriteItem{Put: put}), nil
}

// AppendAudit appends records that belong to no request change (a tenant
// registration, a quarantine release, a suppression check) to the chain.
func (s *Store) AppendAudit(ctx context.Context, recs ...audit.Record) error {
	if err := CheckRegionAudit(recs); err != nil {
		return err
	}
	for attempt := 0; attempt < s.attempts; attempt++ {
		if attempt > 0 {
			if err := s.sleep(ctx, attempt); err != nil {
				return err
			}
		}
		head, err := s.auditHead(ctx)
		if err != nil {
			return err
		}
		tx, err := s.auditWrites(head, recs)
		if err != nil {
			return err
		}
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx})
		var tce *types.TransactionCanceledException
		switch {
		case err == nil:
			return nil
		case errors.As(err, &tce):
			continue // another writer appended meanwhile: read the head again
		default:
			return classify("append audit records", err)
		}
	}
	return &erasure.StoreUnavailable{Op: "append audit records", Err: fmt.Errorf("still conflicting after %d attempts", s.attempts)}
}

// CheckRegionAudit is what both stores check of region records.
func CheckRegionAudit(recs []audit.Record) error {
	for _, rec := range recs {
		if rec.ID == "" || rec.Action == "" || rec.Actor == "" {
			return fmt.Errorf("append audit records: a record needs an id, an action and an actor")
		}
	}
	return nil
}

// CheckAudit is what both stores check of the records a change appends.
func CheckAudit(id string, recs []audit.Record) error {
	for _, rec := range recs {
		if rec.RequestID != id || rec.ID == "" || rec.Action == "" || rec.Actor == "" {
			return fmt.Errorf("change request %s: audit record needs its request's id, an id, an action and an actor", id)
		}
	}
	return nil
}

// Forgot reports whether a change from cur to next forgets the subject:
// the write then adds the request to the subject's suppression record.
func Forgot(cur, next erasure.Request) bool { return cur.ForgottenAt == nil && next.ForgottenAt != nil }

// revCondition is the condition of a write that read the request at rev.
func revCondition(rev int64) (string, map[string]types.AttributeValue) {
	if rev == 0 {
		return "attribute_exists(pk) AND attribute_not_exists(#rev)", nil
	}
	return "#rev = :rev", map[string]types.AttributeValue{":rev": &types.AttributeValueMemberN{Value: strconv.FormatInt(rev, 10)}}
}

// Apply is the part of Change every requests table shares: fn changes a
// copy of cur; the copy, its rev one higher, and fn's audit records are
// what is to be written. It returns fn's error as is (erasure.ErrUnchanged
// when there is nothing to write), and refuses a change of the id, the
// subject or its hash, and audit records of another request. The subject
// may only be forgotten (erasure.Request.Forget), and is whenever the change
// completes the request.
func Apply(cur erasure.Request, fn func(*erasure.Request) ([]audit.Record, error)) (erasure.Request, []audit.Record, error) {
	next := cur.Clone()
	recs, err := fn(&next)
	if err != nil {
		return cur, nil, err
	}
	if next.Forgets() && next.ForgottenAt == nil {
		at := time.Now()
		if next.CompletedAt != nil {
			at = *next.CompletedAt
		}
		next.Forget(at)
	}
	forgotten := next.SubjectID == "" && next.ForgottenAt != nil
	if next.ID != cur.ID || next.SubjectHash != cur.SubjectHash || (next.SubjectID != cur.SubjectID && !forgotten) {
		return cur, nil, fmt.Errorf("change request %s: the id and the subject do not change", cur.ID)
	}
	if err := CheckAudit(cur.ID, recs); err != nil {
		return cur, nil, err
	}
	next.Rev = cur.Rev + 1
	return next, recs, nil
}

// Change reads a request, lets fn change it, and writes the result together
// with the audit records fn returns, in one transaction that holds only if
// nobody wrote the request meanwhile (its rev); on a conflict it reads again
// and calls fn again. fn returning erasure.ErrUnchanged writes nothing and
// Change answers the request as read; any other error of fn is returned as
// is, with nothing written. fn must not change the id or the subject.
func (s *Store) Change(ctx context.Context, id string, fn func(*erasure.Request) ([]audit.Record, error)) (erasure.Request, error) {
	for attempt := 0; attempt < s.attempts; attempt++ {
		if attempt > 0 {
			if err := s.sleep(ctx, attempt); err != nil {
				return erasure.Request{}, fmt.Errorf("change request %s: %w", id, err)
			}
		}
		cur, err := s.Get(ctx, id)
		if err != nil {
			return erasure.Request{}, err
		}
		next, recs, err := Apply(cur, fn)
		if errors.Is(err, erasure.ErrUnchanged) {
			return cur, nil
		}
		if err != nil {
			return cur, err
		}
		item, err := attributevalue.MarshalMap(NewRequestItem(next))
		if err != nil {
			return erasure.Request{}, fmt.Errorf("change request %s: %w", id, err)
		}
		cond, vals := revCondition(cur.Rev)
		tx := []types.TransactWriteItem{{Put: &types.Put{
			TableName:                 &s.table,
			Item:                      item,
			ConditionExpression:       aws.String(cond),
			ExpressionAttributeNames:  map[string]string{"#rev": "rev"},
			ExpressionAttributeValues: vals,
		}}}
		if Forgot(cur, next) {
			sup, err := suppression(s.table, next)
			if err != nil {
				return erasure.Request{}, fmt.Errorf("change request %s: %w", id, err)
			}
			tx = append(tx, sup)
		}
		if len(recs) > 0 {
			head, err := s.auditHead(ctx)
			if err != nil {
				return erasure.Request{}, err
			}
			writes, err := s.auditWrites(head, recs)
			if err != nil {
				return erasure.Request{}, fmt.Errorf("change request %s: %w", id, err)
			}
			tx = append(tx, writes...)
		}
		if len(tx) == 1 {
			// Without audit records one conditional Put does (a transaction
			// costs twice the write capacity).
			put := tx[0].Put
			_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: put.TableName, Item: put.Item,
				ConditionExpression: put.ConditionExpression, ExpressionAttributeNames: put.ExpressionAttributeNames,
				ExpressionAttributeValues: put.ExpressionAttributeValues})
			var ccf *types.ConditionalCheckFailedException
			switch {
			case err == nil:
				return Normalise(next), nil
			case errors.As(err, &ccf):
				continue // written meanwhile: read again
			default:
				return erasure.Request{}, classify("change request "+id, err)
			}
		}
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx})
		if err == nil {
			return Normalise(next), nil
		}
		var tce *types.TransactionCanceledException
		if !errors.As(err, &tce) {
			return erasure.Request{}, classify("change request "+id, err)
		}
		// The request was written meanwhile (its rev), or another writer
		// appended to the audit chain (an entry's key, the head): read
		// again and retry.
		retry := false
		for _, r := range tce.CancellationReasons {
			if code := aws.ToString(r.Code); code == reasonConditionFailed || transient(code) {
				retry = true
			}
		}
		if !retry {
			return erasure.Request{}, fmt.Errorf("change request %s: transaction cancelled: %s", id, reasonCodes(tce))
		}
	}
	return erasure.Request{}, &erasure.StoreUnavailable{Op: "change request " + id, Err: fmt.Errorf("still conflicting after %d attempts", s.attempts)}
}

// Audit returns up to limit audit records of one request (requestID set),
// oldest first, or of the region (requestID ""), newest first.
func (s *Store) Audit(ctx context.Context, requestID string, limit int) ([]audit.Record, error) {
	if limit <= 0 || limit > audit.MaxList {
		limit = audit.MaxList
	}
	in := &dynamodb.QueryInput{
		TableName:                &s.table,
		IndexName:                aws.String(IndexRecent),
		KeyConditionExpression:   aws.String("#kind = :kind"),
		ExpressionAttributeNames: map[string]string{"#kind": AttrKind},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":kind": &types.AttributeValueMemberS{Value: KindAudit},
		},
		ScanIndexForward: aws.Bool(requestID != ""),
	}
	if requestID != "" {
		in.FilterExpression = aws.String("requestId = :id")
		in.ExpressionAttributeValues[":id"] = &types.AttributeValueMemberS{Value: requestID}
	} else {
		in.Limit = aws.Int32(int32(limit))
	}
	return s.queryAudit(ctx, in, limit)
}

// AuditFrom returns up to limit entries of the chain from entry from on,
// in chain order: what `lethe audit verify` walks.
func (s *Store) AuditFrom(ctx context.Context, from int64, limit int) ([]audit.Record, error) {
	if limit <= 0 || limit > audit.MaxList {
		limit = audit.MaxList
	}
	return s.queryAudit(ctx, &dynamodb.QueryInput{
		TableName:                &s.table,
		IndexName:                aws.String(IndexRecent),
		KeyConditionExpression:   aws.String("#kind = :kind AND pk >= :from"),
		ExpressionAttributeNames: map[string]string{"#kind": AttrKind},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":kind": &types.AttributeValueMemberS{Value: KindAudit},
			":from": &types.AttributeValueMemberS{Value: AuditKey(max(from, 1))},
		},
		Limit: aws.Int32(int32(limit)),
	}, limit)
}

// queryAudit pages a query of audit entries until limit.
func (s *Store) queryAudit(ctx context.Context, in *dynamodb.QueryInput, limit int) ([]audit.Record, error) {
	var recs []audit.Record
	for {
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, classify("list audit records", err)
		}
		for _, item := range out.Items {
			var it AuditItem
			if err := attributevalue.UnmarshalMap(item, &it); err != nil {
				return nil, fmt.Errorf("decode audit record: %w", err)
			}
			rec, err := it.Record()
			if err != nil {
				return nil, err
			}
			if recs = append(recs, rec); len(recs) == limit {
				return recs, nil
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return recs, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// NewAuditItem is the item that stores rec.
func NewAuditItem(rec audit.Record) AuditItem {
	return AuditItem{PK: AuditKey(rec.Seq), Kind: KindAudit, ID: rec.ID, RequestID: rec.RequestID,
		At: FormatTime(rec.At), Actor: rec.Actor, Action: rec.Action, Detail: rec.Detail, Seq: rec.Seq, Prev: rec.Prev, Hash: rec.Hash}
}

// Record turns a stored audit item back into the record.
func (it AuditItem) Record() (audit.Record, error) {
	at, err := parseTimePtr(it.At)
	if err != nil || at == nil {
		return audit.Record{}, fmt.Errorf("audit record %s: at is not an RFC 3339 time", strings.TrimPrefix(it.PK, auditPrefix))
	}
	return audit.Record{ID: it.ID, RequestID: it.RequestID, At: *at, Actor: it.Actor, Action: it.Action, Detail: it.Detail,
		Seq: it.Seq, Prev: it.Prev, Hash: it.Hash}, nil
}
