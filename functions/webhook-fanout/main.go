// Command webhook-fanout is the edge's public Lambda behind an HTTP API:
// POST /webhooks/{provider} (verify, de-duplicate, forward to the tenant's
// home region or quarantine) and /t/{tenant}/{proxy+} (region redirect).
// The logic is internal/edge.
package main

import (
	"context"
	"log"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/lethe-erasure/lethe/internal/edge/edgeenv"
)

func main() {
	env, err := edgeenv.Load(context.Background())
	if err != nil {
		log.Fatalf("webhook-fanout: %v", err)
	}
	fanout, err := env.Fanout()
	if err != nil {
		log.Fatalf("webhook-fanout: %v", err)
	}
	lambda.Start(fanout.Handle)
}
