// Command webhook-receiver is a region's webhook receiver: the edge
// forwards each delivery of a tenant this region owns to
// POST /webhooks/{provider}. The logic is internal/receiver.
package main

import (
	"context"
	"log"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/lambdaenv"
	"github.com/lethe-erasure/lethe/internal/receiver"
	"github.com/lethe-erasure/lethe/internal/secrets"
)

func main() {
	env, err := lambdaenv.Load(context.Background())
	if err != nil {
		log.Fatalf("webhook-receiver: %v", err)
	}
	requests, err := env.Requests()
	if err != nil {
		log.Fatalf("webhook-receiver: %v", err)
	}
	queueURL, err := lambdaenv.Get(config.EnvWebhookQueueURL)
	if err != nil {
		log.Fatalf("webhook-receiver: %v", err)
	}
	opsTopic, err := lambdaenv.Get(config.EnvOpsTopicArn)
	if err != nil {
		log.Fatalf("webhook-receiver: %v", err)
	}
	webhookSecrets := secrets.NewCache(secrets.NewSecretsManager(secretsmanager.NewFromConfig(env.AWS)), nil, secrets.DefaultTTL, time.Now)
	subjects, err := env.SubjectKey(context.Background())
	if err != nil {
		log.Fatalf("webhook-receiver: %v", err)
	}
	h := receiver.New(requests, subjects, webhookSecrets,
		receiver.NewSQSQueue(sqs.NewFromConfig(env.AWS), queueURL),
		receiver.NewSNSAlerts(sns.NewFromConfig(env.AWS), opsTopic),
		env.Config, env.Region, receiver.WithLogger(env.Log))
	lambda.Start(h.Handle)
}
