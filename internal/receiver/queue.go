package receiver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/lethe-erasure/lethe/internal/httpjson"
	"github.com/lethe-erasure/lethe/internal/webhook"
)

// Message is what the product reads from the region's webhook queue: one
// verified delivery of a tenant this region owns.
type Message struct {
	Provider   string `json:"provider"`
	Topic      string `json:"topic"`
	Tenant     string `json:"tenant"`
	DeliveryID string `json:"deliveryId"`
	ReceivedAt string `json:"receivedAt"`
	// Body is the raw body: as text when it is UTF-8 (BodyEncoding
	// "text"), else base64 ("base64").
	Body         string `json:"body"`
	BodyEncoding string `json:"bodyEncoding"`
}

// MaxMessageBytes is SQS's message size limit (body and attributes).
const MaxMessageBytes = 256 << 10

// enqueue hands a verified non-erasure delivery to the product.
func (h *Handler) enqueue(ctx context.Context, d webhook.Delivery, body []byte, received time.Time) (outcome, error) {
	m := Message{
		Provider:     d.Provider,
		Topic:        d.Topic,
		Tenant:       d.Tenant,
		DeliveryID:   d.ID,
		ReceivedAt:   received.Format(time.RFC3339Nano),
		Body:         string(body),
		BodyEncoding: "text",
	}
	if !utf8.Valid(body) {
		m.Body, m.BodyEncoding = base64.StdEncoding.EncodeToString(body), "base64"
	}
	b, err := json.Marshal(m)
	if err != nil {
		return outcome{}, err
	}
	attrs := map[string]string{"provider": d.Provider, "topic": d.Topic, "tenant": d.Tenant, "deliveryId": d.ID}
	size := len(b)
	for k, v := range attrs {
		size += len(k) + len(v) + len("String")
	}
	if size > MaxMessageBytes {
		return outcome{}, &httpjson.Error{Status: http.StatusRequestEntityTooLarge, Code: CodeBodyTooLarge,
			Message: "the delivery is too large for the region's webhook queue"}
	}
	if err := h.queue.Send(ctx, string(b), attrs); err != nil {
		return outcome{}, &unavailable{op: "queue the delivery", err: err}
	}
	return outcome{status: http.StatusAccepted, result: "queued",
		body: map[string]string{"status": "queued", "deliveryId": d.ID}}, nil
}

// sqsAPI is the one SQS call the receiver makes.
type sqsAPI interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// snsAPI is the one SNS call the receiver makes.
type snsAPI interface {
	Publish(ctx context.Context, in *sns.PublishInput, opts ...func(*sns.Options)) (*sns.PublishOutput, error)
}

var (
	_ sqsAPI = (*sqs.Client)(nil)
	_ snsAPI = (*sns.Client)(nil)
	_ Queue  = (*SQSQueue)(nil)
	_ Alerts = (*SNSAlerts)(nil)
)

// SQSQueue is the region's webhook queue (LETHE_WEBHOOK_QUEUE_URL), a
// standard queue with a dead-letter queue behind it.
type SQSQueue struct {
	api sqsAPI
	url string
}

// NewSQSQueue adapts an SQS client (built once by main) to the queue URL.
func NewSQSQueue(api sqsAPI, queueURL string) *SQSQueue { return &SQSQueue{api: api, url: queueURL} }

// Send queues one message with string attributes, so that consumers can
// filter on provider and topic without parsing the body.
func (q *SQSQueue) Send(ctx context.Context, body string, attrs map[string]string) error {
	ma := make(map[string]sqstypes.MessageAttributeValue, len(attrs))
	for k, v := range attrs {
		ma[k] = sqstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	_, err := q.api.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &q.url, MessageBody: &body, MessageAttributes: ma})
	if err != nil {
		return fmt.Errorf("sqs send: %w", err)
	}
	return nil
}

// SNSAlerts publishes to the region's ops topic (LETHE_OPS_TOPIC_ARN).
type SNSAlerts struct {
	api   snsAPI
	topic string
}

// NewSNSAlerts adapts an SNS client (built once by main) to the ops topic.
func NewSNSAlerts(api snsAPI, topicARN string) *SNSAlerts {
	return &SNSAlerts{api: api, topic: topicARN}
}

// Publish sends one alert; subject becomes the e-mail's subject line.
func (a *SNSAlerts) Publish(ctx context.Context, subject, message string) error {
	_, err := a.api.Publish(ctx, &sns.PublishInput{TopicArn: &a.topic, Subject: &subject, Message: &message})
	if err != nil {
		return fmt.Errorf("sns publish: %w", err)
	}
	return nil
}
