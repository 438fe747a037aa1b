// Command async-check is the Lambda function behind ${AsyncCheckFunctionArn} in
// statemachines/async-deletion.asl.json: checks an asynchronous erasure's status and says when to check again.
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
		log.Fatalf("async-check: LETHE_TABLE_NAME=%q, %s: %v", table, config.EnvConfig, err)
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Fatalf("async-check: aws config: %v", err)
	}
	tokens := secrets.NewCache(secrets.NewSecretsManager(secretsmanager.NewFromConfig(awsCfg)),
		secrets.NewSSM(ssm.NewFromConfig(awsCfg)), secrets.DefaultTTL, time.Now)
	c := subsystem.New(subsystem.NewHTTPClient(), tokens, dynamo.New(dynamodb.NewFromConfig(awsCfg), table),
		subsystem.WithRegion(region), subsystem.WithLogger(slog.New(slog.NewJSONHandler(os.Stdout, nil))))
	lambda.Start(c.Check)
}
