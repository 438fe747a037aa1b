// Command api is the regional API Lambda: API Gateway REST proxy events in,
// erasure requests into the requests table. The logic is internal/api.
package main

import (
	"context"
	"log"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/lethe-erasure/lethe/internal/api"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/store/dynamo"
)

func main() {
	cfg, region, err := config.FromEnv(os.Getenv(config.EnvConfig))
	if err != nil {
		log.Fatal(err)
	}
	if r := os.Getenv("LETHE_REGION"); r != "" && r != region.Name {
		log.Fatalf("LETHE_REGION %q does not match the region %q of %s", r, region.Name, config.EnvConfig)
	}
	table := os.Getenv("LETHE_TABLE_NAME")
	if table == "" {
		log.Fatal("LETHE_TABLE_NAME is not set")
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Fatalf("aws config: %v", err)
	}
	store := dynamo.New(dynamodb.NewFromConfig(awsCfg), table)
	lambda.Start(api.New(store, cfg, region).Handle)
}
