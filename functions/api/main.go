// Command api is the regional API Lambda: API Gateway REST proxy events in,
// erasure requests into the requests table, and the operators' retries,
// attestations, subject reads, extensions and audit. The logic is
// internal/api.
package main

import (
	"context"
	"log"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/lethe-erasure/lethe/internal/api"
	"github.com/lethe-erasure/lethe/internal/certify"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/lambdaenv"
	"github.com/lethe-erasure/lethe/internal/proof"
	"github.com/lethe-erasure/lethe/internal/starter"
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
	machine, err := lambdaenv.Get(config.EnvStateMachineArn)
	if err != nil {
		log.Fatalf("api: %v", err)
	}
	notices, err := lambdaenv.Get(config.EnvNoticesTopicArn)
	if err != nil {
		log.Fatalf("api: %v", err)
	}
	subjects, err := env.SubjectKey(context.Background())
	if err != nil {
		log.Fatalf("api: %v", err)
	}
	signingKey, err := lambdaenv.Get(config.EnvSigningKeyArn)
	if err != nil {
		log.Fatalf("api: %v", err)
	}
	certifyFn, err := lambdaenv.Get(config.EnvCertifyFunction)
	if err != nil {
		log.Fatalf("api: %v", err)
	}
	lambda.Start(api.New(requests, subjects, env.Config, env.Region, api.WithLogger(env.Log),
		api.WithExecutions(starter.NewSFN(sfn.NewFromConfig(env.AWS), machine)),
		api.WithNotices(env.Notices(notices)),
		api.WithProof(certify.KeysOf(proof.NewKMS(kms.NewFromConfig(env.AWS), signingKey)), env.Certifier(certifyFn)),
		api.WithTasks(env.Tasks())).Handle)
}
