// Command deadline-watch is the regional function EventBridge Scheduler
// invokes every hour: it counts the region's open, at-risk and overdue
// erasure requests (metrics) and mails the ops topic a digest of the
// requests newly at risk or overdue (internal/watch).
package main

import (
	"context"
	"log"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/lambdaenv"
	"github.com/lethe-erasure/lethe/internal/watch"
)

func main() {
	env, err := lambdaenv.Load(context.Background())
	if err != nil {
		log.Fatalf("deadline-watch: %v", err)
	}
	requests, err := env.Requests()
	if err != nil {
		log.Fatalf("deadline-watch: %v", err)
	}
	ops, err := lambdaenv.Get(config.EnvOpsTopicArn)
	if err != nil {
		log.Fatalf("deadline-watch: %v", err)
	}
	w := watch.New(requests, lambdaenv.SNSMailer{Client: sns.NewFromConfig(env.AWS)}, ops, env.Config, env.Region.Name, nil, time.Now, env.Log)
	lambda.Start(w.Handle)
}
