// Package dynamodb is Lethe's built-in DynamoDB connector: it erases a
// subject's items from a table of the company's own, either the one item
// whose key is built from templates over the subject id (e.g.
// {"pk": "USER#{subject}"}), or every item a query of a secondary index on
// the subject returns, deleted in batches of 25 with unprocessed items and
// throttling retried, until a time budget runs out (then it reports
// connector.More and the next call goes on).
package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/lethe-erasure/lethe/internal/connector"
)

// Placeholder is what a template replaces with the subject id.
const Placeholder = "{subject}"

// Config is a dynamodb connector as configuration declares it.
type Config struct {
	// Table is the table's name or ARN.
	Table string `json:"table"`
	// Key maps each key attribute of the table to a template: the one item
	// to delete (string attributes).
	Key map[string]string `json:"key,omitempty"`
	// Index, IndexKey and TableKey delete every item a query of the index
	// returns: IndexKey maps the index's partition key attribute to a
	// template; TableKey names the table's key attributes, which every index
	// projects.
	Index    string            `json:"index,omitempty"`
	IndexKey map[string]string `json:"indexKey,omitempty"`
	TableKey []string          `json:"tableKey,omitempty"`
	// Endpoint overrides the DynamoDB endpoint (a local server).
	Endpoint string `json:"endpoint,omitempty"`
}

// Validate checks the configuration; errors name the key under prefix.
func (c Config) Validate(prefix string) error {
	bad := func(key, msg string) error { return connector.Invalid(prefix, key, msg) }
	if c.Table == "" {
		return bad("table", "is required: the table's name or ARN")
	}
	templates := func(key string, m map[string]string) error {
		for attr, tpl := range m {
			if attr == "" || !strings.Contains(tpl, Placeholder) {
				return bad(key+"."+attr, "must be a template holding "+Placeholder)
			}
		}
		return nil
	}
	switch {
	case len(c.Key) > 0 && c.Index != "":
		return bad("index", "key and index are exclusive: one item by its key, or every item an index query returns")
	case len(c.Key) > 0:
		if len(c.Key) > 2 {
			return bad("key", "a DynamoDB key has one or two attributes")
		}
		return templates("key", c.Key)
	case c.Index != "":
		if len(c.IndexKey) != 1 {
			return bad("indexKey", "must map the index's partition key attribute to a template")
		}
		if len(c.TableKey) < 1 || len(c.TableKey) > 2 {
			return bad("tableKey", "must name the table's key attributes (one or two)")
		}
		return templates("indexKey", c.IndexKey)
	}
	return bad("key", "key (one item) or index (every item a query returns) is required")
}

// API is what the connector calls.
type API interface {
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

var _ API = (*dynamodb.Client)(nil)

// Eraser erases in one configured table.
type Eraser struct {
	cfg Config
	api API
	connector.Budget
	// Retry retries throttled calls and unprocessed writes.
	Retry connector.Retrier
}

var _ connector.Eraser = (*Eraser)(nil)

// New returns the connector of a validated configuration.
func New(cfg Config, api API) *Eraser {
	return &Eraser{cfg: cfg, api: api, Budget: connector.Budget{Margin: connector.DefaultMargin},
		Retry: connector.Retrier{Attempts: 8, Throttled: throttled}}
}

func fill(tpl, subject string) string { return strings.ReplaceAll(tpl, Placeholder, subject) }

// Erase deletes the subject's item or items.
func (e *Eraser) Erase(ctx context.Context, subject string) (connector.Outcome, error) {
	if len(e.cfg.Key) > 0 {
		return e.eraseItem(ctx, subject)
	}
	return e.eraseQueried(ctx, subject)
}

func (e *Eraser) eraseItem(ctx context.Context, subject string) (connector.Outcome, error) {
	key := map[string]types.AttributeValue{}
	for attr, tpl := range e.cfg.Key {
		key[attr] = &types.AttributeValueMemberS{Value: fill(tpl, subject)}
	}
	var out *dynamodb.DeleteItemOutput
	err := e.Retry.Do(ctx, func() (err error) {
		out, err = e.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &e.cfg.Table, Key: key, ReturnValues: types.ReturnValueAllOld})
		return err
	})
	if err != nil {
		return "", e.classify("DeleteItem", err)
	}
	if len(out.Attributes) == 0 {
		return connector.NotFound, nil
	}
	return connector.Deleted, nil
}

func (e *Eraser) eraseQueried(ctx context.Context, subject string) (connector.Outcome, error) {
	var attr, tpl string
	for attr, tpl = range e.cfg.IndexKey { // Validate: exactly one entry
	}
	names := map[string]string{"#k": attr}
	proj := make([]string, len(e.cfg.TableKey))
	for i, k := range e.cfg.TableKey {
		n := fmt.Sprintf("#t%d", i)
		names[n], proj[i] = k, n
	}
	in := &dynamodb.QueryInput{
		TableName: &e.cfg.Table, IndexName: &e.cfg.Index,
		KeyConditionExpression:    aws.String("#k = :v"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberS{Value: fill(tpl, subject)}},
		ProjectionExpression:      aws.String(strings.Join(proj, ", ")),
	}
	deleted := 0
	for {
		var page *dynamodb.QueryOutput
		err := e.Retry.Do(ctx, func() (err error) {
			page, err = e.api.Query(ctx, in)
			return err
		})
		if err != nil {
			return "", e.classify("Query", err)
		}
		for start := 0; start < len(page.Items); start += 25 {
			// Out of time with items in hand (so more remains), after
			// deleting some (so each call gets on).
			if deleted > 0 && e.Spent(ctx) {
				return connector.More, nil
			}
			batch := page.Items[start:min(len(page.Items), start+25)]
			if err := e.deleteBatch(ctx, batch); err != nil {
				return "", err
			}
			deleted += len(batch)
		}
		if len(page.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
	if deleted == 0 {
		return connector.NotFound, nil
	}
	return connector.Deleted, nil
}

// deleteBatch deletes up to 25 items, retrying what DynamoDB leaves
// unprocessed with back-off.
func (e *Eraser) deleteBatch(ctx context.Context, keys []map[string]types.AttributeValue) error {
	reqs := make([]types.WriteRequest, len(keys))
	for i, k := range keys {
		reqs[i] = types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: k}}
	}
	for attempt := 0; len(reqs) > 0; attempt++ {
		if attempt > 0 {
			if attempt >= e.Retry.Attempts {
				return &connector.Error{Retryable: true, Code: "UnprocessedItems",
					Detail: fmt.Sprintf("BatchWriteItem on %s left %d deletions unprocessed after %d attempts", e.cfg.Table, len(reqs), attempt)}
			}
			if err := e.Retry.Wait(ctx, attempt); err != nil {
				return e.classify("BatchWriteItem", err)
			}
		}
		out, err := e.api.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{e.cfg.Table: reqs}})
		if err != nil {
			if throttled(err) {
				continue
			}
			return e.classify("BatchWriteItem", err)
		}
		reqs = out.UnprocessedItems[e.cfg.Table]
	}
	return nil
}

func throttled(err error) bool {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return false
	}
	switch api.ErrorCode() {
	case "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded":
		return true
	}
	return false
}

// classify types an error as the HTTP contract's answers are typed; its
// detail names the call and the table, never a key (keys hold the subject).
func (e *Eraser) classify(op string, err error) error {
	var api smithy.APIError
	if !errors.As(err, &api) {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return &connector.Error{Retryable: true, Code: "Timeout", Detail: op + " on " + e.cfg.Table + " did not finish in time"}
		}
		return &connector.Error{Retryable: true, Code: "NoAnswer", Detail: op + " on " + e.cfg.Table + ": no answer from DynamoDB"}
	}
	code := api.ErrorCode()
	ce := &connector.Error{Code: code}
	switch {
	case throttled(err), code == "InternalServerError", code == "ServiceUnavailable", api.ErrorFault() == smithy.FaultServer:
		ce.Retryable, ce.Detail = true, op+" on "+e.cfg.Table+" was throttled or failed on DynamoDB's side"
	case code == "AccessDeniedException" || code == "UnrecognizedClientException":
		ce.Detail = op + " on " + e.cfg.Table + " was denied: the connector's role needs it on this table (and the index)"
	case code == "ResourceNotFoundException":
		ce.Detail = op + " on " + e.cfg.Table + ": no such table or index in this region"
	default:
		ce.Detail = op + " on " + e.cfg.Table + " was refused (" + code + "): check the connector's key templates against the table"
	}
	return ce
}
