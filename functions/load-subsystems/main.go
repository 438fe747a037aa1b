// Command load-subsystems is the Lambda function behind
// ${LoadSubsystemsFunctionArn} in statemachines/erasure.asl.json: it lists
// the region's subsystems for the Map state (internal/loadsubsystems).
package main

import (
	"log"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/loadsubsystems"
)

func main() {
	_, region, err := config.FromEnv(os.Getenv(config.EnvConfig))
	if err != nil {
		log.Fatalf("load-subsystems: %v", err)
	}
	topics, err := loadsubsystems.ParseTopicArns(os.Getenv(config.EnvTopicArns))
	if err != nil {
		log.Fatalf("load-subsystems: %v", err)
	}
	l, err := loadsubsystems.New(region, topics)
	if err != nil {
		log.Fatalf("load-subsystems: %v", err)
	}
	lambda.Start(l.Handle)
}
