package main

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/registry"
)

// Webhook queue settings. The product consumes the queue; a message it
// fails to process WebhookMaxReceives times moves to the dead-letter queue,
// which keeps it for two weeks and alarms the ops topic. The main queue
// keeps messages SQS's default four days: long enough for a consumer
// outage over a weekend, short for webhook bodies that may name people.
const (
	WebhookMaxReceives         = 5
	WebhookQueueRetentionDays  = 4
	WebhookDLQRetentionDays    = 14
	WebhookQueueVisibilitySecs = 60
)

// WebhookQueueName is the name of a region's queue of non-erasure
// webhooks; the dead-letter queue adds "-dlq".
func WebhookQueueName(region string) string { return fmt.Sprintf("lethe-%s-webhooks", region) }

// webhookSecretsPattern is the resource-name pattern of every secret
// config.WebhookSecretName gives in a scope (a region's short name or
// config.EdgeScope): "lethe/<scope>/webhooks/<provider>/<tenant>". The
// secrets are per tenant and made by operators as tenants sign up, so the
// stack cannot name them one by one.
func webhookSecretsPattern(scope string) string { return "lethe/" + scope + "/webhooks/*" }

// webhookSecretsArn is the ARN pattern of a scope's webhook secrets in the
// stack's own AWS region and account.
func webhookSecretsArn(stack awscdk.Stack, scope string) string {
	return *stack.FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("secretsmanager"), Resource: jsii.String("secret"),
		ResourceName: jsii.String(webhookSecretsPattern(scope)), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME,
	})
}

// grantWebhookSecrets lets a role read a scope's webhook signing secrets,
// and decrypt them through Secrets Manager when they are encrypted with the
// stack's data key (the README tells operators to create them with it).
func grantWebhookSecrets(role awsiam.IRole, key awskms.IKey, scope, awsRegion string) {
	stack := awscdk.Stack_Of(role)
	arn := webhookSecretsArn(stack, scope)
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("secretsmanager:GetSecretValue"),
		Resources: jsii.Strings(arn),
	}))
	grantKeyUse(role, key, "secretsmanager", awsRegion, "kms:Decrypt")
	suppress(role, "IAM5", "Webhook signing secrets are one per provider and tenant ("+config.WebhookSecretName(scope, "<provider>", "<tenant>")+"), created by operators as tenants are onboarded, after this stack is deployed; the prefix confines the read to the webhook secrets of this scope.",
		"Resource::"+nagArn(stack, arn))
}

// WebhooksProps is what the regional webhook receiver is wired to.
type WebhooksProps struct {
	Functions FunctionsProps
	DataKey   awskms.IKey
}

// Webhooks is the region's webhook receiver and the queue of webhooks that
// are not erasure requests.
type Webhooks struct {
	Receiver GoFunction
	Queue    awssqs.Queue
	DLQ      awssqs.Queue
}

// NewWebhooks creates the webhook receiver (re-verifies the signature with
// the region's own copy of the secret, refuses tenants the region does not
// own, files GDPR webhooks as erasure requests and queues the rest) and its
// queue with a dead-letter queue. Both queues hold webhook bodies, which
// may carry personal data: they are encrypted with the region's data key
// and refuse requests without TLS.
func NewWebhooks(scope constructs.Construct, id string, p WebhooksProps) Webhooks {
	c := constructs.NewConstruct(scope, jsii.String(id))
	region := p.Functions.Region
	dlq := awssqs.NewQueue(c, jsii.String("DeadLetters"), &awssqs.QueueProps{
		QueueName:           jsii.String(WebhookQueueName(region.Name) + "-dlq"),
		Encryption:          awssqs.QueueEncryption_KMS,
		EncryptionMasterKey: p.DataKey,
		EnforceSSL:          jsii.Bool(true),
		RetentionPeriod:     awscdk.Duration_Days(jsii.Number(WebhookDLQRetentionDays)),
	})
	queue := awssqs.NewQueue(c, jsii.String("Queue"), &awssqs.QueueProps{
		QueueName:           jsii.String(WebhookQueueName(region.Name)),
		Encryption:          awssqs.QueueEncryption_KMS,
		EncryptionMasterKey: p.DataKey,
		EnforceSSL:          jsii.Bool(true),
		RetentionPeriod:     awscdk.Duration_Days(jsii.Number(WebhookQueueRetentionDays)),
		VisibilityTimeout:   awscdk.Duration_Seconds(jsii.Number(WebhookQueueVisibilitySecs)),
		DeadLetterQueue:     &awssqs.DeadLetterQueue{Queue: dlq, MaxReceiveCount: jsii.Number(WebhookMaxReceives)},
	})

	f := newFunction(scope, registry.FnWebhookReceiver, p.Functions, map[string]*string{
		config.EnvOpsTopicArn:     p.Functions.Topics.Ops.TopicArn(),
		config.EnvWebhookQueueURL: queue.QueueUrl(),
	}, "Lethe webhook receiver: verifies forwarded webhooks, files GDPR ones as erasures, queues the rest")
	f.Role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("sqs:SendMessage"),
		Resources: jsii.Strings(*queue.QueueArn()),
	}))
	// SQS producers of a KMS-encrypted queue need GenerateDataKey and
	// Decrypt on its key (SQS developer guide, "Key management").
	grantKeyUse(f.Role, p.DataKey, "sqs", region.AWSRegion, "kms:GenerateDataKey", "kms:Decrypt")
	p.Functions.Topics.GrantPublish(f.Role, p.Functions.Topics.Ops)
	grantWebhookSecrets(f.Role, p.DataKey, region.Name, region.AWSRegion)

	return Webhooks{Receiver: f, Queue: queue, DLQ: dlq}
}
