package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lethe-erasure/lethe/internal/erasure"
)

// A callback token's record: kind=callback, pk = "callback#" + hex(SHA-256
// of the token); the request and subsystem it answers for, and when it
// expires (the table's TTL). The token itself is never stored.
const (
	KindCallback   = "callback"
	callbackPrefix = "callback#"
)

// CallbackItem is a callback token's record; the embedded store keeps the
// same attributes as JSON.
type CallbackItem struct {
	PK        string `dynamodbav:"pk" json:"-"`
	Kind      string `dynamodbav:"kind" json:"-"`
	RequestID string `dynamodbav:"requestId" json:"requestId"`
	Subsystem string `dynamodbav:"subsystem" json:"subsystem"`
	ExpiresAt int64  `dynamodbav:"expiresAt" json:"expiresAt"`
}

// PutCallback records that the token of this hash answers for the
// request's subsystem until expires. Putting it again changes nothing.
func (s *Store) PutCallback(ctx context.Context, hash, requestID, subsystem string, expires time.Time) error {
	item, err := attributevalue.MarshalMap(CallbackItem{PK: callbackPrefix + hash, Kind: KindCallback, RequestID: requestID, Subsystem: subsystem, ExpiresAt: expires.Unix()})
	if err != nil {
		return err
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")})
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		return classify("record a callback token", err)
	}
	return nil
}

// CallbackTarget returns the request and subsystem the token of this hash
// answers for; erasure.ErrNotFound when no live token has it.
func (s *Store) CallbackTarget(ctx context.Context, hash string) (requestID, subsystem string, err error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: key(callbackPrefix + hash), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return "", "", classify("read a callback token", err)
	}
	var it CallbackItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return "", "", fmt.Errorf("decode a callback token: %w", err)
	}
	// The TTL deletes expired items within days, not at once.
	if it.Kind != KindCallback || it.ExpiresAt <= s.now().Unix() {
		return "", "", erasure.ErrNotFound
	}
	return it.RequestID, it.Subsystem, nil
}
