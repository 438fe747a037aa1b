// Command api is the regional API Lambda: API Gateway REST proxy events in,
// erasure requests into the requests table. The logic is internal/api.
package main

import (
	"context"
	"log"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/lethe-erasure/lethe/internal/api"
	"github.com/lethe-erasure/lethe/internal/lambdaenv"
)

func main() {
	env, err := lambdaenv.Load(context.Background())
	if err != nil {
		log.Fatalf("api: %v", err)
	}
	requests, err := env.Requests()
	if err != nil {
		log.Fatalf("api: %v", err)
	}
	lambda.Start(api.New(requests, env.Config, env.Region, api.WithLogger(env.Log)).Handle)
}
