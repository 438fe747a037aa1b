// Command connector is the Lambda function behind ${ConnectorFunctionArn} in
// statemachines/sync-deletion.asl.json: erases a subject with one of Lethe's
// built-in connectors (DynamoDB, S3, Cognito, Stripe) in a store of the region, with
// this function's own role.
package main

import (
	"context"
	"log"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/lethe-erasure/lethe/internal/connector/builtin"
	"github.com/lethe-erasure/lethe/internal/lambdaenv"
	"github.com/lethe-erasure/lethe/internal/subsystem"
)

func main() {
	env, err := lambdaenv.Load(context.Background())
	if err != nil {
		log.Fatalf("connector: %v", err)
	}
	c, err := env.Connector(subsystem.WithErasers(builtin.New(env.AWS, env.Tokens())))
	if err != nil {
		log.Fatalf("connector: %v", err)
	}
	lambda.Start(c.Erase)
}
