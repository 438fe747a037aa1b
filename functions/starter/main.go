// Command starter is the Lambda function on the requests table's stream:
// it starts one Erasure execution per new request (internal/starter).
package main

import (
	"context"
	"log"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/lethe-erasure/lethe/internal/starter"
	"github.com/lethe-erasure/lethe/internal/store/dynamo"
)

func main() {
	region, table, machine := os.Getenv("LETHE_REGION"), os.Getenv("LETHE_TABLE_NAME"), os.Getenv("LETHE_STATE_MACHINE_ARN")
	if region == "" || table == "" || machine == "" {
		log.Fatalf("starter: LETHE_REGION=%q, LETHE_TABLE_NAME=%q and LETHE_STATE_MACHINE_ARN=%q must all be set", region, table, machine)
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Fatalf("starter: aws config: %v", err)
	}
	h := starter.New(starter.NewSFN(sfn.NewFromConfig(awsCfg), machine), dynamo.New(dynamodb.NewFromConfig(awsCfg), table),
		region, slog.New(slog.NewJSONHandler(os.Stdout, nil)))
	lambda.Start(h.Handle)
}
