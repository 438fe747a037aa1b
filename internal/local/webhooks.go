package local

import (
	"context"
	"log/slog"
	"sync"

	"github.com/lethe-erasure/lethe/internal/asl"
	"github.com/lethe-erasure/lethe/internal/receiver"
)

// MemoryQueue stands in for a region's webhook queue (SQS): the
// non-erasure webhooks the receiver verified, kept in memory (the last
// MemoryQueueKeep) for the product to read in tests and demos. The log
// line names the delivery, never its body, which may carry personal data.
type MemoryQueue struct {
	log *slog.Logger

	mu   sync.Mutex
	msgs []QueuedMessage
}

// QueuedMessage is one message the receiver queued.
type QueuedMessage struct {
	Body       string
	Attributes map[string]string
}

// MemoryQueueKeep bounds the messages a MemoryQueue keeps.
const MemoryQueueKeep = 100

var _ receiver.Queue = (*MemoryQueue)(nil)

// NewMemoryQueue returns an empty queue.
func NewMemoryQueue(log *slog.Logger) *MemoryQueue { return &MemoryQueue{log: log} }

// Send keeps one message.
func (q *MemoryQueue) Send(_ context.Context, body string, attrs map[string]string) error {
	q.mu.Lock()
	q.msgs = append(q.msgs, QueuedMessage{Body: body, Attributes: attrs})
	if len(q.msgs) > MemoryQueueKeep {
		q.msgs = append(q.msgs[:0], q.msgs[len(q.msgs)-MemoryQueueKeep:]...)
	}
	q.mu.Unlock()
	q.log.Info("webhook queued", "provider", attrs["provider"], "topic", attrs["topic"], "tenant", attrs["tenant"], "deliveryId", attrs["deliveryId"])
	return nil
}

// Messages returns the kept messages, oldest first.
func (q *MemoryQueue) Messages() []QueuedMessage {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]QueuedMessage(nil), q.msgs...)
}

// outboxAlerts publishes the receiver's alerts to the region's ops topic
// in the outbox, as receiver.SNSAlerts does to SNS.
type outboxAlerts struct {
	outbox *Outbox
	topic  string
}

var _ receiver.Alerts = (*outboxAlerts)(nil)

func (a *outboxAlerts) Publish(ctx context.Context, subject, message string) error {
	_, err := a.outbox.Publish(ctx, asl.PublishInput{TopicArn: a.topic, Subject: subject, Message: message})
	return err
}
