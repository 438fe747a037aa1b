// Command report-failure is the Lambda function behind
// ${ReportFailureFunctionArn} in statemachines/sync-deletion.asl.json and
// async-deletion.asl.json: it records a subsystem's failed erasure on the
// request and writes its admins' mail (internal/outcome).
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
		log.Fatalf("report-failure: %v", err)
	}
	requests, err := env.Requests()
	if err != nil {
		log.Fatalf("report-failure: %v", err)
	}
	lambda.Start(outcome.NewReporter(requests, env.Progress(requests), env.Log).Handle)
}
