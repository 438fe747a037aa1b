package dynamo

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lethe-erasure/lethe/internal/erasure"
)

// ErrNotRequest means a stream image is not a request item (a subject lock
// or an idempotency record): the starter has nothing to do with it.
var ErrNotRequest = errors.New("not a request item")

// attrSubjectID is left out of everything the stream decoder touches.
const attrSubjectID = "subjectId"

// RequestFromImage decodes a request item from a stream record's image, as
// Lambda delivers it (events.DynamoDBEventRecord.Change.NewImage). The
// subject id is dropped before decoding: the starter has no use for it, and
// no error this returns can contain it. The request id must be well formed.
// Other item kinds give ErrNotRequest.
func RequestFromImage(image map[string]events.DynamoDBAttributeValue) (erasure.Request, error) {
	if len(image) == 0 {
		return erasure.Request{}, errors.New("stream record has no new image (is the stream view NEW_IMAGE?)")
	}
	safe := make(map[string]events.DynamoDBAttributeValue, len(image))
	for k, v := range image {
		if k != attrSubjectID {
			safe[k] = v
		}
	}
	kind, ok := safe[AttrKind]
	if !ok || kind.DataType() != events.DataTypeString {
		return erasure.Request{}, errors.New("stream image has no string attribute kind")
	}
	if kind.String() != KindRequest {
		return erasure.Request{}, ErrNotRequest
	}
	raw, err := json.Marshal(safe)
	if err != nil {
		return erasure.Request{}, fmt.Errorf("stream image: %w", err)
	}
	item, err := attributevalue.UnmarshalMapJSON(raw)
	if err != nil {
		return erasure.Request{}, fmt.Errorf("stream image: %w", err)
	}
	var f requestFields
	if err := attributevalue.UnmarshalMap(item, &f); err != nil {
		return erasure.Request{}, fmt.Errorf("stream image: %w", err)
	}
	if _, err := erasure.ParseID(f.PK); err != nil {
		return erasure.Request{}, errors.New("stream image: pk is not a request id")
	}
	return f.request()
}

// NewImage returns the stream image DynamoDB emits when the request is
// created, subject id included, in the shape Lambda delivers it. The local
// runtime's embedded store and the starter's tests use it so that they
// feed the starter exactly what the table's stream would.
func NewImage(req erasure.Request) (map[string]events.DynamoDBAttributeValue, error) {
	item, err := attributevalue.MarshalMap(NewRequestItem(req))
	if err != nil {
		return nil, fmt.Errorf("image of request %s: %w", req.ID, err)
	}
	return EventImage(item)
}

// EventImage converts an item as the SDK holds it into the shape Lambda's
// DynamoDB stream events carry (the same DynamoDB JSON on the wire).
func EventImage(item map[string]types.AttributeValue) (map[string]events.DynamoDBAttributeValue, error) {
	raw, err := attributevalue.MarshalMapJSON(item)
	if err != nil {
		return nil, fmt.Errorf("stream image: %w", err)
	}
	var image map[string]events.DynamoDBAttributeValue
	if err := json.Unmarshal(raw, &image); err != nil {
		return nil, fmt.Errorf("stream image: %w", err)
	}
	return image, nil
}
