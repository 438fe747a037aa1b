// Command load-subsystems is the Lambda function behind
// ${LoadSubsystemsFunctionArn} in statemachines/erasure.asl.json: it lists
// the subsystems a run erases in for the Map state, and starts the run's
// progress on the request (internal/loadsubsystems).
package main

import (
	"context"
	"log"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/lambdaenv"
	"github.com/lethe-erasure/lethe/internal/loadsubsystems"
)

func main() {
	env, err := lambdaenv.Load(context.Background())
	if err != nil {
		log.Fatalf("load-subsystems: %v", err)
	}
	topics, err := loadsubsystems.ParseTopicArns(os.Getenv(config.EnvTopicArns))
	if err != nil {
		log.Fatalf("load-subsystems: %v", err)
	}
	requests, err := env.Requests()
	if err != nil {
		log.Fatalf("load-subsystems: %v", err)
	}
	l, err := loadsubsystems.New(env.Region, topics, env.Progress(requests))
	if err != nil {
		log.Fatalf("load-subsystems: %v", err)
	}
	lambda.Start(l.Handle)
}
