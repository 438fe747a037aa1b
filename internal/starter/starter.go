// Package starter turns each new erasure request into an execution of the
// region's Erasure state machine. It consumes the requests table's stream
// (INSERT records of request items; the event source filters, and the
// handler checks again), starts one execution per request, named after the
// request so that a replayed record starts nothing twice, and marks the
// request running. The execution's input carries the request id and
// dates, never the subject id.
package starter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/store/dynamo"
)

// Executions starts executions of the main Erasure state machine. Start
// must treat an execution that already exists under the name as started.
type Executions interface {
	Start(ctx context.Context, name, input string) error
}

// Requests is the part of the requests table the starter writes.
type Requests interface {
	MarkRunning(ctx context.Context, id string) error
}

var _ Requests = (*dynamo.Store)(nil)

// Handler is the starter Lambda's handler.
type Handler struct {
	exec     Executions
	requests Requests
	region   string
	log      *slog.Logger
}

// New returns the starter of one region. region is the short name
// (LETHE_REGION); a request whose id names another region is refused.
func New(exec Executions, requests Requests, region string, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{exec: exec, requests: requests, region: region, log: log}
}

// Handle starts an execution for every new request of the batch. A record
// that cannot be decoded, or whose execution cannot be started or request
// marked, is reported as a batch item failure (by its sequence number) and
// the other records are still processed; Lambda then retries from the
// first failure, which is harmless because starting is idempotent.
// Handle itself never fails the whole batch.
func (h *Handler) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	resp := events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{}}
	for _, rec := range ev.Records {
		log := h.log.With("eventID", rec.EventID, "sequenceNumber", rec.Change.SequenceNumber)
		id, err := h.handle(ctx, rec)
		switch {
		case errors.Is(err, errIgnored):
			log.Debug("record ignored", "eventName", rec.EventName)
		case err != nil:
			log.Error("record failed; reported for retry", "requestId", id, "error", err.Error())
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: rec.Change.SequenceNumber})
		default:
			// The execution is named by the request id (erasure.RunName of
			// run 0), which gathers its lines with the machine's.
			log.Info("erasure started", "requestId", id, "execution", erasure.RunName(id, 0))
		}
	}
	return resp, nil
}

// errIgnored marks records that are not new requests.
var errIgnored = errors.New("not a new request")

// handle processes one record and returns the request id it concerns (when
// known). Errors never carry the subject id: the image is decoded without
// it.
func (h *Handler) handle(ctx context.Context, rec events.DynamoDBEventRecord) (string, error) {
	if rec.EventName != string(events.DynamoDBOperationTypeInsert) {
		return "", errIgnored
	}
	req, err := dynamo.RequestFromImage(rec.Change.NewImage)
	if errors.Is(err, dynamo.ErrNotRequest) {
		return "", errIgnored
	}
	if err != nil {
		return "", fmt.Errorf("decode: %w", err)
	}
	if region, _ := erasure.ParseID(req.ID); region != h.region {
		return req.ID, fmt.Errorf("request of region %q reached the starter of region %q", region, h.region)
	}
	input, err := json.Marshal(erasure.ExecutionInput{
		RequestID:  req.ID,
		Region:     h.region,
		ReceivedAt: req.ReceivedAt,
		Deadline:   req.Deadline,
	})
	if err != nil {
		return req.ID, fmt.Errorf("execution input: %w", err)
	}
	if err := h.exec.Start(ctx, req.ID, string(input)); err != nil {
		return req.ID, err
	}
	if err := h.requests.MarkRunning(ctx, req.ID); err != nil {
		return req.ID, fmt.Errorf("mark running: %w", err)
	}
	return req.ID, nil
}
