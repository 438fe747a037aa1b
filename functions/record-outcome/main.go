// Command record-outcome is the Lambda function behind
// ${RecordOutcomeFunctionArn} in statemachines/erasure.asl.json: it closes a
// request with its per-subsystem report (internal/outcome).
package main

import (
	"context"
	"log"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/outcome"
	"github.com/lethe-erasure/lethe/internal/store/dynamo"
)

func main() {
	_, region, err := config.FromEnv(os.Getenv(config.EnvConfig))
	table := os.Getenv("LETHE_TABLE_NAME")
	if err != nil || table == "" {
		log.Fatalf("record-outcome: LETHE_TABLE_NAME=%q, %s: %v", table, config.EnvConfig, err)
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Fatalf("record-outcome: aws config: %v", err)
	}
	r := outcome.New(dynamo.New(dynamodb.NewFromConfig(awsCfg), table), region, slog.New(slog.NewJSONHandler(os.Stdout, nil)))
	lambda.Start(r.Handle)
}
