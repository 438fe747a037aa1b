// Command sync-delete is the Lambda function behind ${SyncDeleteFunctionArn} in
// statemachines/sync-deletion.asl.json: erases a subject in a synchronous subsystem with one DELETE call.
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
		log.Fatalf("sync-delete: %v", err)
	}
	c, err := env.Connector()
	if err != nil {
		log.Fatalf("sync-delete: %v", err)
	}
	lambda.Start(c.SyncDelete)
}
