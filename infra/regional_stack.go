package main

import (
	"encoding/json"
	"fmt"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"path/filepath"
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/registry"
)

// RegionalStackProps configures one region's stack.
type RegionalStackProps struct {
	awscdk.StackProps
	// Config is the whole configuration; the stack uses only its region.
	Config *config.Config
	// RegionName selects the region (eu, us, ...).
	RegionName string
	// RootDir is the folder that holds go.mod (statemachines/ is read from it).
	RootDir string
	// BuildDir holds <function>/bootstrap for every function.
	BuildDir string
}

// RegionalStack is one complete, independent Lethe region, Lethe-<region>.
type RegionalStack struct {
	Stack         awscdk.Stack
	Region        config.Region
	Keys          Keys
	Table         RequestsTable
	Topics        Topics
	Tokens        Tokens
	Functions     Functions
	StateMachines StateMachines
	Starter       Starter
	// Webhooks is nil while registry.Functions does not list the webhook
	// receiver (its code has not landed).
	Webhooks *Webhooks
	API      API
	// Proof holds the subject key secret and the certificate signing key.
	Proof Proof
	// Monitoring is the stack's generated dashboard and alarms.
	Monitoring Monitoring
}

// machineArn is the ARN of the stack's machine of that name, built from the
// name (no reference to the machine resource).
func (s *RegionalStack) machineArn(name string) *string {
	return s.Stack.FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("states"), Resource: jsii.String("stateMachine"), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME,
		ResourceName: jsii.String(name),
	})
}

// StackName is the name of a region's stack.
func StackName(region string) string { return "Lethe-" + region }

// NewRegionalStack builds one region from the configuration. Everything in
// it is derived from that region alone (config.ForRegion), so nothing in
// one region's template refers to another region.
func NewRegionalStack(scope constructs.Construct, id string, p RegionalStackProps) (*RegionalStack, error) {
	regionCfg, err := p.Config.ForRegion(p.RegionName)
	if err != nil {
		return nil, err
	}
	region := regionCfg.Regions[0]
	if p.BuildDir == "" {
		p.BuildDir = filepath.Join(p.RootDir, "build")
	}
	stack := awscdk.NewStack(scope, jsii.String(id), &p.StackProps)
	awscdk.Tags_Of(stack).Add(jsii.String("app"), jsii.String("lethe"), nil)
	awscdk.Tags_Of(stack).Add(jsii.String("lethe:region"), jsii.String(region.Name), nil)

	s := &RegionalStack{Stack: stack, Region: region}
	s.Keys = NewKeys(stack, "Keys", KeysProps{
		RegionName: region.Name, AWSRegion: region.AWSRegion,
		DataPurpose: "requests table, subsystem tokens, topics, webhook queue",
	})
	s.Table = NewRequestsTable(stack, "Requests", RequestsTableProps{Key: s.Keys.Data, AWSRegion: region.AWSRegion})
	s.Topics = NewTopics(stack, "Topics", TopicsProps{Region: region, Key: s.Keys.Data})
	s.Tokens = NewTokens(stack, "Tokens", TokensProps{Region: region, Key: s.Keys.Data})

	fnRegion := s.Tokens.WithTokenNames(region)
	cfgJSON, err := json.Marshal(&config.Config{Deadline: regionCfg.Deadline, Regions: []config.Region{fnRegion}})
	if err != nil {
		return nil, fmt.Errorf("%s: LETHE_CONFIG: %w", id, err)
	}
	s.Proof = NewProof(stack, "Proof", ProofProps{RegionName: region.Name, AWSRegion: region.AWSRegion, DataKey: s.Keys.Data})
	fnProps := FunctionsProps{
		Region: fnRegion, ConfigJSON: string(cfgJSON), BuildDir: p.BuildDir, LogsKey: s.Keys.Logs,
		Table: s.Table, Topics: s.Topics, Tokens: s.Tokens, Proof: s.Proof,
	}
	if s.Functions, err = NewFunctions(stack, fnProps); err != nil {
		return nil, fmt.Errorf("%s: %w", id, err)
	}
	s.StateMachines, err = NewStateMachines(stack, StateMachinesProps{
		Region: region, RootDir: p.RootDir, Functions: s.Functions, Topics: s.Topics, LogsKey: s.Keys.Logs,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", id, err)
	}
	s.Starter = NewStarter(stack, StarterProps{Functions: fnProps, StateMachine: s.StateMachines.Main()})
	// The api starts a retry's execution of the main machine (and no
	// other) and publishes extension notices.
	apiFn := s.Functions[registry.FnAPI]
	// The main machine by its name-built ARN: the machines lead to
	// async-submit, which offers the API's callback URL, so the api may not
	// refer to them.
	mainMachine := s.machineArn(s.StateMachines.Main().Name)
	apiFn.Function.AddEnvironment(jsii.String(config.EnvStateMachineArn), mainMachine, nil)
	apiFn.Function.AddEnvironment(jsii.String(config.EnvNoticesTopicArn), s.Topics.Notices.TopicArn(), nil)
	apiFn.Role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("states:StartExecution"), Resources: &[]*string{mainMachine},
	}))
	s.Topics.GrantPublish(apiFn.Role, s.Topics.Notices)
	// The functions that name subjects read the subject key.
	apiFn.Function.AddEnvironment(jsii.String(config.EnvSubjectKeySecretArn), s.Proof.SubjectKey.SecretArn(), nil)
	s.Proof.GrantSubjectKey(apiFn.Role, s.Keys.Data)
	// The api answers the signing key's public half (GET /keys) and has
	// certify sign the certificate of a request an attestation completes.
	certifyFn := s.Functions[registry.FnCertify]
	apiFn.Function.AddEnvironment(jsii.String(config.EnvSigningKeyArn), s.Proof.SigningKey.KeyArn(), nil)
	apiFn.Function.AddEnvironment(jsii.String(config.EnvCertifyFunction), certifyFn.Function.FunctionName(), nil)
	s.Proof.GrantPublicKey(apiFn.Role)
	apiFn.Role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("lambda:InvokeFunction"), Resources: &[]*string{certifyFn.Function.FunctionArn()},
	}))
	s.Functions[registry.FnStarter] = s.Starter.GoFunction
	apiProps := APIProps{RegionName: region.Name, Handler: s.Functions[registry.FnAPI].Function, LogsKey: s.Keys.Logs}
	if slices.Contains(registry.Functions, registry.FnWebhookReceiver) {
		w := NewWebhooks(stack, "Webhooks", WebhooksProps{Functions: fnProps, DataKey: s.Keys.Data})
		s.Webhooks = &w
		s.Functions[registry.FnWebhookReceiver] = w.Receiver
		w.Receiver.Function.AddEnvironment(jsii.String(config.EnvSubjectKeySecretArn), s.Proof.SubjectKey.SecretArn(), nil)
		s.Proof.GrantSubjectKey(w.Receiver.Role, s.Keys.Data)
		apiProps.Webhooks = w.Receiver.Function
	}
	s.API = NewAPI(stack, "Api", apiProps)
	// Callbacks: the submit offers the API's POST /callbacks; the api and
	// the await (async-check) complete the async machine's waits (success
	// for deleted, failure for failed). Its ARN
	// is built from its name: the machine refers to async-check, which may
	// not refer back to it.
	asyncMachine := s.machineArn(s.StateMachines[registry.MachineAsyncDeletion].Name)
	for _, fn := range []string{registry.FnAPI, registry.FnAsyncCheck} {
		s.Functions[fn].Role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions: jsii.Strings("states:SendTaskSuccess", "states:SendTaskFailure"), Resources: &[]*string{asyncMachine},
		}))
	}
	s.Functions[registry.FnAsyncSubmit].Function.AddEnvironment(jsii.String(config.EnvCallbackURL),
		awscdk.Fn_Join(jsii.String(""), &[]*string{s.API.RestAPI.Url(), jsii.String("callbacks")}), nil)

	queues := map[string]awssqs.IQueue{"starter-failures": s.Starter.FailureQueue}
	deadLetters := map[string]bool{"starter-failures": true}
	if s.Webhooks != nil {
		queues["webhooks"], queues["webhooks-dead-letter"] = s.Webhooks.Queue, s.Webhooks.DLQ
		deadLetters["webhooks-dead-letter"] = true
	}
	s.Monitoring = NewMonitoring(stack, "Monitoring", MonitoringProps{
		Name: StackName(region.Name), Functions: s.Functions, Machines: s.StateMachines, API: &s.API,
		Queues: queues, DeadLetters: deadLetters, StreamReader: registry.FnStarter, Ops: s.Topics.Ops, Region: region.Name,
	})

	awscdk.NewCfnOutput(stack, jsii.String("ApiUrl"), &awscdk.CfnOutputProps{
		Value: s.API.RestAPI.Url(), Description: jsii.String("Base URL of the erasure API (IAM-signed requests)"),
	})
	awscdk.NewCfnOutput(stack, jsii.String("RequestsTableName"), &awscdk.CfnOutputProps{
		Value: s.Table.Table.TableName(), Description: jsii.String("The Requests table: the record of every erasure"),
	})
	awscdk.NewCfnOutput(stack, jsii.String("SubjectNoticesTopicArn"), &awscdk.CfnOutputProps{
		Value: s.Topics.Notices.TopicArn(), Description: jsii.String("Notices to data subjects (deadline extensions) for the product that holds their contact details; subscribers need kms:Decrypt on the data key through SNS"),
	})
	awscdk.NewCfnOutput(stack, jsii.String("ErasureStateMachineArn"), &awscdk.CfnOutputProps{
		Value: s.StateMachines.Main().Machine.StateMachineArn(), Description: jsii.String("The main Erasure state machine"),
	})
	if s.Webhooks != nil {
		awscdk.NewCfnOutput(stack, jsii.String("WebhookQueueUrl"), &awscdk.CfnOutputProps{
			Value: s.Webhooks.Queue.QueueUrl(), Description: jsii.String("Queue of webhooks that are not erasure requests, for the product to consume"),
		})
		awscdk.NewCfnOutput(stack, jsii.String("WebhookQueueArn"), &awscdk.CfnOutputProps{
			Value: s.Webhooks.Queue.QueueArn(), Description: jsii.String("ARN of the webhook queue (consumers also need kms:Decrypt on the data key through SQS)"),
		})
	}
	return s, nil
}
