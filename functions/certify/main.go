// Command certify is the Lambda function behind ${CertifyFunctionArn} in
// statemachines/erasure.asl.json, and the one the api invokes when an
// attestation completes a request: it signs a completed request's
// certificate of erasure with the region's KMS key (internal/certify).
package main

import (
	"context"
	"log"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/lethe-erasure/lethe/internal/certify"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/lambdaenv"
	"github.com/lethe-erasure/lethe/internal/proof"
)

func main() {
	env, err := lambdaenv.Load(context.Background())
	if err != nil {
		log.Fatalf("certify: %v", err)
	}
	requests, err := env.Requests()
	if err != nil {
		log.Fatalf("certify: %v", err)
	}
	key, err := lambdaenv.Get(config.EnvSigningKeyArn)
	if err != nil {
		log.Fatalf("certify: %v", err)
	}
	signer := proof.NewKMS(kms.NewFromConfig(env.AWS), key)
	lambda.Start(certify.New(requests, certify.Signing(signer, env.Region.Name, env.Region.AWSRegion), time.Now, env.Log).Handle)
}
