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

// Audit records live in the requests table too (kind=audit), keyed
// "audit#<requestId>#<record id>", so the GSI "recent" lists a request's
// records in time order and every region's records newest request first.
const (
	// KindAudit is the kind of an audit record item.
	KindAudit   = "audit"
	auditPrefix = "audit#"
)

// AuditItem is an audit record as stored; the embedded store keeps the same
// attributes as JSON.
type AuditItem struct {
	PK        string            `dynamodbav:"pk" json:"pk"`
	Kind      string            `dynamodbav:"kind" json:"-"`
	ID        string            `dynamodbav:"id" json:"id"`
	RequestID string            `dynamodbav:"requestId" json:"requestId"`
	At        string            `dynamodbav:"at" json:"at"`
	Actor     string            `dynamodbav:"actor" json:"actor"`
	Action    string            `dynamodbav:"action" json:"action"`
	Detail    map[string]string `dynamodbav:"detail,omitempty" json:"detail,omitempty"`
}

// AuditKey is the key of an audit record: both stores order records by it.
func AuditKey(r audit.Record) string { return auditPrefix + r.RequestID + "#" + r.ID }

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
		for _, rec := range recs {
			a, err := attributevalue.MarshalMap(NewAuditItem(rec))
			if err != nil {
				return erasure.Request{}, fmt.Errorf("change request %s: %w", id, err)
			}
			tx = append(tx, types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: a, ConditionExpression: aws.String("attribute_not_exists(pk)")}})
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
		retry := false
		for i, r := range tce.CancellationReasons {
			code := aws.ToString(r.Code)
			switch {
			case i == 0 && code == reasonConditionFailed, transient(code):
				retry = true
			case code == reasonConditionFailed:
				return erasure.Request{}, fmt.Errorf("change request %s: audit record %d exists already", id, i-1)
			}
		}
		if !retry {
			return erasure.Request{}, fmt.Errorf("change request %s: transaction cancelled: %s", id, reasonCodes(tce))
		}
	}
	return erasure.Request{}, &erasure.StoreUnavailable{Op: "change request " + id, Err: fmt.Errorf("still conflicting after %d attempts", s.attempts)}
}

// Audit returns up to limit audit records, oldest first, of one request
// (requestID set) or of the region, newest request first (requestID "").
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
		Limit:            aws.Int32(int32(limit)),
	}
	if requestID != "" {
		in.KeyConditionExpression = aws.String("#kind = :kind AND begins_with(pk, :prefix)")
		in.ExpressionAttributeValues[":prefix"] = &types.AttributeValueMemberS{Value: auditPrefix + requestID + "#"}
	}
	out, err := s.db.Query(ctx, in)
	if err != nil {
		return nil, classify("list audit records", err)
	}
	recs := make([]audit.Record, 0, len(out.Items))
	for _, item := range out.Items {
		var it AuditItem
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return nil, fmt.Errorf("decode audit record: %w", err)
		}
		rec, err := it.Record()
		if err != nil {
			return nil, err
		}
		recs = append(recs, rec)
	}
	return recs, nil
}

// NewAuditItem is the item that stores rec.
func NewAuditItem(rec audit.Record) AuditItem {
	return AuditItem{PK: AuditKey(rec), Kind: KindAudit, ID: rec.ID, RequestID: rec.RequestID,
		At: FormatTime(rec.At), Actor: rec.Actor, Action: rec.Action, Detail: rec.Detail}
}

// Record turns a stored audit item back into the record.
func (it AuditItem) Record() (audit.Record, error) {
	at, err := parseTimePtr(it.At)
	if err != nil || at == nil {
		return audit.Record{}, fmt.Errorf("audit record %s: at is not an RFC 3339 time", strings.TrimPrefix(it.PK, auditPrefix))
	}
	return audit.Record{ID: it.ID, RequestID: it.RequestID, At: *at, Actor: it.Actor, Action: it.Action, Detail: it.Detail}, nil
}
