package asl

import (
	"context"
)

// PublishInput is an SNS Publish request as the sns:publish integration's
// Parameters give it. Message is text: a JSON value in Parameters is
// published as its JSON text, as AWS does.
type PublishInput struct {
	TopicArn               string
	TargetArn              string
	Message                string
	Subject                string
	MessageStructure       string
	MessageAttributes      map[string]any
	MessageGroupID         string
	MessageDeduplicationID string
}

// Publisher serves arn:aws:states:::sns:publish. The local runtime backs it
// with its topic outbox; on AWS the service itself does. An error with an
// ErrorCode() method (as AWS SDK errors have) fails the task as
// "SNS.<code>".
type Publisher interface {
	Publish(ctx context.Context, in PublishInput) (messageID string, err error)
}

// SetPublisher serves sns:publish with p.
func (e *Engine) SetPublisher(p Publisher) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.publisher = p
}

func (e *Engine) snsPublish(ctx context.Context, x *Execution, call *TaskCall) (any, *Failure) {
	e.mu.Lock()
	p := e.publisher
	e.mu.Unlock()
	if p == nil {
		return nil, fail(ErrRuntime, "no Publisher is configured for sns:publish")
	}
	m, f := paramsObject(call.Parameters, "sns:publish")
	if f != nil {
		return nil, f
	}
	in := PublishInput{}
	in.TopicArn, _ = m["TopicArn"].(string)
	in.TargetArn, _ = m["TargetArn"].(string)
	in.Subject, _ = m["Subject"].(string)
	in.MessageStructure, _ = m["MessageStructure"].(string)
	in.MessageGroupID, _ = m["MessageGroupId"].(string)
	in.MessageDeduplicationID, _ = m["MessageDeduplicationId"].(string)
	in.MessageAttributes, _ = m["MessageAttributes"].(map[string]any)
	switch msg := m["Message"].(type) {
	case string:
		in.Message = msg
	case nil:
		return nil, fail("SNS.InvalidParameterException", "Invalid parameter: Empty message")
	default:
		in.Message = jsonString(msg)
	}
	id, err := p.Publish(ctx, in)
	if err != nil {
		return nil, serviceFailure("sns", err)
	}
	return sdkMetadata(map[string]any{"MessageId": id}, contentXML, requestID()), nil
}

// ItemStore serves the DynamoDB integrations getItem, putItem, updateItem
// and deleteItem. Requests and responses are the DynamoDB API's JSON shapes
// (TableName, Key, Item, UpdateExpression, ExpressionAttributeValues,
// ConditionExpression, ReturnValues...; Item/Attributes in the response),
// with attribute values in DynamoDB JSON ({"S": "x"}), exactly as the
// Task's Parameters and result carry them. An error with an ErrorCode()
// method (as AWS SDK errors have) or a typed error fails the task as
// "DynamoDB.<name>", e.g. DynamoDB.ConditionalCheckFailedException.
type ItemStore interface {
	GetItem(ctx context.Context, request map[string]any) (map[string]any, error)
	PutItem(ctx context.Context, request map[string]any) (map[string]any, error)
	UpdateItem(ctx context.Context, request map[string]any) (map[string]any, error)
	DeleteItem(ctx context.Context, request map[string]any) (map[string]any, error)
}

// SetItemStore serves the DynamoDB integrations with s.
func (e *Engine) SetItemStore(s ItemStore) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.items = s
}

func (e *Engine) dynamoDB(action string) func(ctx context.Context, x *Execution, call *TaskCall) (any, *Failure) {
	return func(ctx context.Context, x *Execution, call *TaskCall) (any, *Failure) {
		e.mu.Lock()
		s := e.items
		e.mu.Unlock()
		if s == nil {
			return nil, fail(ErrRuntime, "no ItemStore is configured for dynamodb:%s", action)
		}
		req, f := paramsObject(call.Parameters, "dynamodb:"+action)
		if f != nil {
			return nil, f
		}
		var resp map[string]any
		var err error
		switch action {
		case "getItem":
			resp, err = s.GetItem(ctx, req)
		case "putItem":
			resp, err = s.PutItem(ctx, req)
		case "updateItem":
			resp, err = s.UpdateItem(ctx, req)
		case "deleteItem":
			resp, err = s.DeleteItem(ctx, req)
		}
		if err != nil {
			return nil, serviceFailure("dynamodb", err)
		}
		out := make(map[string]any, len(resp)+2)
		for k, v := range resp {
			out[k] = v
		}
		nv, nerr := normalize(out)
		if nerr != nil {
			return nil, fail(ErrRuntime, "DynamoDB response is not JSON: %v", nerr)
		}
		return sdkMetadata(nv.(map[string]any), contentAmzJSON, requestID()), nil
	}
}
