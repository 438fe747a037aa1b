package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/registry"
)

// Starter event source settings: the batch is small because each record is
// one StartExecution; failed records are retried one by one (bisect and
// partial batch responses) for at most a day before they are parked.
const (
	StarterBatchSize     = 10
	StarterRetryAttempts = 10
	StarterMaxRecordAge  = 24 * 3600 // seconds; the stream keeps records 24 h
)

// StarterProps is what the starter is wired to.
type StarterProps struct {
	Functions    FunctionsProps
	StateMachine StateMachine
}

// Starter is the stream-triggered function that starts one execution of
// the main machine per new request, with its on-failure queue.
type Starter struct {
	GoFunction
	Mapping      awslambda.EventSourceMapping
	FailureQueue awssqs.Queue
}

// NewStarter creates the starter, its DynamoDB stream event source filtered
// to INSERTs of request items, and an on-failure queue with an alarm to the
// ops topic, so that a record Lambda gives up on is neither dropped nor
// silent: the queue keeps its stream position for 14 days to be replayed.
func NewStarter(scope constructs.Construct, p StarterProps) Starter {
	f := newFunction(scope, registry.FnStarter, p.Functions, map[string]*string{
		config.EnvStateMachineArn: p.StateMachine.Machine.StateMachineArn(),
	}, "Lethe starter: starts the Erasure machine for each new request")
	f.Role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("states:StartExecution"),
		Resources: jsii.Strings(*p.StateMachine.Machine.StateMachineArn()),
	}))
	p.Functions.Table.GrantStreamRead(f.Role)

	c := constructs.NewConstruct(scope, jsii.String("StarterFailures"))
	// The on-failure record holds the batch's shard and sequence numbers,
	// not the items: SQS-managed encryption suffices and keeps KMS grants
	// (with their wildcard actions) off the starter's role.
	queue := awssqs.NewQueue(c, jsii.String("Queue"), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
	suppress(queue, "SQS3", "This queue is itself the on-failure destination of the starter's stream; it is watched by an alarm to the ops topic and replayed by operators, so a further dead-letter queue would add nothing.")

	mapping := awslambda.NewEventSourceMapping(scope, jsii.String("StarterStream"), &awslambda.EventSourceMappingProps{
		Target:                  f.Function,
		EventSourceArn:          p.Functions.Table.Table.TableStreamArn(),
		StartingPosition:        awslambda.StartingPosition_TRIM_HORIZON,
		BatchSize:               jsii.Number(StarterBatchSize),
		BisectBatchOnError:      jsii.Bool(true),
		ReportBatchItemFailures: jsii.Bool(true),
		RetryAttempts:           jsii.Number(StarterRetryAttempts),
		MaxRecordAge:            awscdk.Duration_Seconds(jsii.Number(StarterMaxRecordAge)),
		OnFailure:               awslambdaeventsources.NewSqsDlq(queue),
		Filters: &[]*map[string]any{
			awslambda.FilterCriteria_Filter(&map[string]any{
				"eventName": awslambda.FilterRule_IsEqual(jsii.String("INSERT")),
				"dynamodb": map[string]any{
					"NewImage": map[string]any{
						"kind": map[string]any{"S": awslambda.FilterRule_IsEqual(jsii.String("request"))},
					},
				},
			}),
		},
	})

	return Starter{GoFunction: f, Mapping: mapping, FailureQueue: queue}
}
