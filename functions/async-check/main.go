// Command async-check is the Lambda function behind ${AsyncCheckFunctionArn} in
// statemachines/async-deletion.asl.json: checks an asynchronous erasure's status and says when to check again.
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
		log.Fatalf("async-check: %v", err)
	}
	c, err := env.Connector()
	if err != nil {
		log.Fatalf("async-check: %v", err)
	}
	lambda.Start(c.Check)
}
