package dynamo

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lethe-erasure/lethe/internal/erasure"
)

// subjectHashRE is the form of a subject's keyed hash: hex HMAC-SHA256.
var subjectHashRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// erasedItem is a subject's suppression record: every request that forgot
// the subject, oldest first.
type erasedItem struct {
	PK       string           `dynamodbav:"pk"`
	Kind     string           `dynamodbav:"kind"`
	Requests []erasure.Erased `dynamodbav:"requests"`
}

// suppression is the write that adds a request that forgets its subject to
// the subject's suppression record. It rides in the transaction that
// forgets, whose condition on the request keeps it from being added twice.
func suppression(table string, r erasure.Request) (types.TransactWriteItem, error) {
	if !subjectHashRE.MatchString(r.SubjectHash) {
		return types.TransactWriteItem{}, fmt.Errorf("request %s has no subject hash to suppress", r.ID)
	}
	entry, err := attributevalue.Marshal([]erasure.Erased{erasure.NewErased(r)})
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return types.TransactWriteItem{Update: &types.Update{
		TableName:                &table,
		Key:                      key(erasedKey(r.SubjectHash)),
		UpdateExpression:         aws.String("SET #kind = :kind, requests = list_append(if_not_exists(requests, :empty), :entry)"),
		ExpressionAttributeNames: map[string]string{"#kind": AttrKind},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":kind":  &types.AttributeValueMemberS{Value: KindErased},
			":empty": &types.AttributeValueMemberL{Value: []types.AttributeValue{}},
			":entry": entry,
		},
	}}, nil
}

// MaxSuppressionBatch is how many keys one BatchGetItem reads.
const MaxSuppressionBatch = 100

// Suppressed answers, for each subject hash, the requests that erased the
// subject in this region (none when it was never erased here). Reads are
// strongly consistent, so a request that has just completed is listed.
func (s *Store) Suppressed(ctx context.Context, hashes []string) (map[string][]erasure.Erased, error) {
	out := map[string][]erasure.Erased{}
	seen := map[string]bool{}
	var keys []map[string]types.AttributeValue
	for _, h := range hashes {
		if !seen[h] {
			seen[h] = true
			keys = append(keys, key(erasedKey(h)))
		}
	}
	for len(keys) > 0 {
		n := min(len(keys), MaxSuppressionBatch)
		pending := keys[:n]
		keys = keys[n:]
		for attempt := 0; len(pending) > 0; attempt++ {
			if attempt > 0 {
				if attempt >= s.attempts {
					return nil, &erasure.StoreUnavailable{Op: "check suppressions", Err: fmt.Errorf("%d keys unprocessed after %d attempts", len(pending), s.attempts)}
				}
				if err := s.sleep(ctx, attempt); err != nil {
					return nil, err
				}
			}
			res, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
				s.table: {Keys: pending, ConsistentRead: aws.Bool(true)},
			}})
			if err != nil {
				return nil, classify("check suppressions", err)
			}
			for _, item := range res.Responses[s.table] {
				var it erasedItem
				if err := attributevalue.UnmarshalMap(item, &it); err != nil {
					return nil, fmt.Errorf("decode suppression record: %w", err)
				}
				out[it.PK[len(erasedPrefix):]] = it.Requests
			}
			pending = res.UnprocessedKeys[s.table].Keys
		}
	}
	return out, nil
}

// HeldRequests returns the failed requests that still hold their subject
// and whose deadline passed before the cutoff, soonest deadline first,
// without subject ids: the deadline watch forgets them.
func (s *Store) HeldRequests(ctx context.Context, deadlineBefore time.Time) ([]erasure.Request, error) {
	return s.openIndex(ctx, "list failed requests holding their subject", HeldPartition, &deadlineBefore,
		func(r erasure.Request) bool { return r.Status == erasure.StatusFailed && r.ForgottenAt == nil })
}
