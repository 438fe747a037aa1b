// Command sync-delete is the Lambda function behind ${SyncDeleteFunctionArn} in
// statemachines/sync-deletion.asl.json: erases a subject in a synchronous subsystem with one DELETE call.
package main

import (
	"context"
	"log"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/secrets"
	"github.com/lethe-erasure/lethe/internal/store/dynamo"
	"github.com/lethe-erasure/lethe/internal/subsystem"
)

func main() {
	_, region, err := config.FromEnv(os.Getenv(config.EnvConfig))
	table := os.Getenv("LETHE_TABLE_NAME")
	if err != nil || table == "" {
		log.Fatalf("sync-delete: LETHE_TABLE_NAME=%q, %s: %v", table, config.EnvConfig, err)
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Fatalf("sync-delete: aws config: %v", err)
	}
	tokens := secrets.NewCache(secrets.NewSecretsManager(secretsmanager.NewFromConfig(awsCfg)),
		secrets.NewSSM(ssm.NewFromConfig(awsCfg)), secrets.DefaultTTL, time.Now)
	c := subsystem.New(subsystem.NewHTTPClient(), tokens, dynamo.New(dynamodb.NewFromConfig(awsCfg), table),
		subsystem.WithRegion(region), subsystem.WithLogger(slog.New(slog.NewJSONHandler(os.Stdout, nil))))
	lambda.Start(c.SyncDelete)
}
