// Command edge-api is the edge's operator Lambda behind IAM-authorised HTTP
// API routes: the tenant directory, quarantine release and global
// erasures. The logic is internal/edge.
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
		log.Fatalf("edge-api: %v", err)
	}
	api, err := env.API()
	if err != nil {
		log.Fatalf("edge-api: %v", err)
	}
	lambda.Start(api.Handle)
}
