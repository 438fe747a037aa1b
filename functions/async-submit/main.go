// Command async-submit is the Lambda function behind ${AsyncSubmitFunctionArn} in
// statemachines/async-deletion.asl.json: submits an erasure to an asynchronous subsystem and returns its ticket.
package main

import (
	"context"
	"log"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/lethe-erasure/lethe/internal/lambdaenv"
)

func main() {
	env, err := lambdaenv.Load(context.Background())
	if err != nil {
		log.Fatalf("async-submit: %v", err)
	}
	c, err := env.Connector()
	if err != nil {
		log.Fatalf("async-submit: %v", err)
	}
	lambda.Start(c.Submit)
}
