// Command record-outcome is the Lambda function behind
// ${RecordOutcomeFunctionArn} in statemachines/erasure.asl.json: it closes a
// request with its per-subsystem report (internal/outcome).
package main

import (
	"context"
	"log"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/lethe-erasure/lethe/internal/lambdaenv"
	"github.com/lethe-erasure/lethe/internal/outcome"
)

func main() {
	env, err := lambdaenv.Load(context.Background())
	if err != nil {
		log.Fatalf("record-outcome: %v", err)
	}
	requests, err := env.Requests()
	if err != nil {
		log.Fatalf("record-outcome: %v", err)
	}
	lambda.Start(outcome.New(requests, env.Region, env.Log).Handle)
}
