package edge

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// Kinds of ops alerts the edge publishes.
const (
	AlertQuarantined       = "quarantined"
	AlertMisrouted         = "misrouted"
	AlertRegionRejected    = "region_rejected"
	AlertUndeliverable     = "undeliverable"
	AlertSecretMissing     = "secret_missing"
	AlertUnverified        = "unverified_deliveries"
	AlertRegionNotDeployed = "region_not_deployed"
)

// Alert is one ops alert. It names the delivery and a hash of the tenant
// key, never a body, a header or a subject.
type Alert struct {
	Kind         string `json:"kind"`
	Provider     string `json:"provider"`
	DeliveryID   string `json:"deliveryId"`
	TenantHash   string `json:"tenantKeySha256"`
	Region       string `json:"region,omitempty"`
	Status       int    `json:"status,omitempty"`
	QuarantineID string `json:"quarantineId,omitempty"`
	Verified     *bool  `json:"signatureVerified,omitempty"`
	ReceivedIn   string `json:"receivedIn,omitempty"`
}

// subject is the e-mail subject line of the alert (SNS: at most 100
// printable ASCII characters).
func (a Alert) subject() string {
	var s string
	switch a.Kind {
	case AlertQuarantined:
		s = "Lethe edge: " + a.Provider + " delivery quarantined (unknown tenant)"
	case AlertMisrouted:
		s = "Lethe edge: " + a.Provider + " delivery misrouted to " + a.Region
	case AlertRegionRejected:
		s = fmt.Sprintf("Lethe edge: region %s refused a %s delivery (HTTP %d)", a.Region, a.Provider, a.Status)
	case AlertUndeliverable:
		s = "Lethe edge: region " + a.Region + " unavailable for a " + a.Provider + " delivery"
	case AlertSecretMissing:
		s = "Lethe edge: no " + a.Provider + " webhook secret for a registered tenant"
	case AlertUnverified:
		s = "Lethe edge: unverifiable " + a.Provider + " deliveries refused (no secret for the tenant)"
	case AlertRegionNotDeployed:
		s = "Lethe edge: region " + a.Region + " has no apiUrl"
	default:
		s = "Lethe edge: " + a.Kind
	}
	if len(s) > 100 {
		s = s[:100]
	}
	return s
}

// Alerter publishes ops alerts.
type Alerter interface {
	Alert(ctx context.Context, a Alert) error
}

// snsAPI is the one SNS call the edge makes.
type snsAPI interface {
	Publish(ctx context.Context, in *sns.PublishInput, opts ...func(*sns.Options)) (*sns.PublishOutput, error)
}

var (
	_ snsAPI  = (*sns.Client)(nil)
	_ Alerter = (*SNSAlerter)(nil)
)

// SNSAlerter publishes alerts to the edge's ops topic
// (LETHE_OPS_TOPIC_ARN), whose e-mail subscriptions are edge.opsEmails.
type SNSAlerter struct {
	api   snsAPI
	topic string
}

// NewSNSAlerter adapts an SNS client (built once by main) to the topic.
func NewSNSAlerter(api snsAPI, topicARN string) *SNSAlerter {
	return &SNSAlerter{api: api, topic: topicARN}
}

// Alert implements Alerter: the alert as a JSON message, a readable
// subject line.
func (s *SNSAlerter) Alert(ctx context.Context, a Alert) error {
	msg, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return fmt.Errorf("encode alert: %w", err)
	}
	_, err = s.api.Publish(ctx, &sns.PublishInput{
		TopicArn: aws.String(s.topic),
		Subject:  aws.String(a.subject()),
		Message:  aws.String(string(msg)),
	})
	if err != nil {
		return fmt.Errorf("publish %s alert: %w", a.Kind, err)
	}
	return nil
}
