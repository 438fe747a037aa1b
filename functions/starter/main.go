// Command starter is the Lambda function on the requests table's stream:
// it starts one Erasure execution per new request (internal/starter).
package main

import (
	"context"
	"log"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/lambdaenv"
	"github.com/lethe-erasure/lethe/internal/starter"
)

func main() {
	env, err := lambdaenv.Load(context.Background())
	if err != nil {
		log.Fatalf("starter: %v", err)
	}
	requests, err := env.Requests()
	if err != nil {
		log.Fatalf("starter: %v", err)
	}
	machine, err := lambdaenv.Get(config.EnvStateMachineArn)
	if err != nil {
		log.Fatalf("starter: %v", err)
	}
	h := starter.New(starter.NewSFN(sfn.NewFromConfig(env.AWS), machine), requests, env.Region.Name, env.Log)
	lambda.Start(h.Handle)
}
