package main

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/registry"
)

// TableActions is what each function may do on the Requests table, from
// the calls internal/store/dynamo makes for it: the api creates a request
// with TransactWriteItems of conditional Puts (authorised per item as
// PutItem), reads with GetItem and lists through the recent index; the
// starter marks a request running; the connectors look up the subject and,
// with load-subsystems and report-failure, write each step's progress on
// the request (Change: GetItem, then a conditional Put in a transaction);
// record-outcome updates the request and releases the subject lock in one
// transaction (UpdateItem + DeleteItem); the webhook receiver reads the
// region's tenant item and files requests as the api does (Create's
// conditional Puts, GetItem of the request an idempotency key points to).
// The api's PUT and GET /tenants/{tenant} need nothing more than the
// GetItem and PutItem it has. A change that forgets a subject (an
// attestation that completes a request; the deadline watch forgetting a
// failed one) adds it to its suppression record in the same transaction
// (UpdateItem); the api's suppression check reads those records with
// BatchGetItem.
var TableActions = map[string][]string{
	registry.FnAPI:             {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchGetItem", "dynamodb:Query"},
	registry.FnWebhookReceiver: {"dynamodb:GetItem", "dynamodb:PutItem"},
	registry.FnStarter:         {"dynamodb:UpdateItem"},
	registry.FnLoadSubsystems:  {"dynamodb:GetItem", "dynamodb:PutItem"},
	registry.FnSyncDelete:      {"dynamodb:GetItem", "dynamodb:PutItem"},
	registry.FnAsyncSubmit:     {"dynamodb:GetItem", "dynamodb:PutItem"},
	registry.FnAsyncCheck:      {"dynamodb:GetItem", "dynamodb:PutItem"},
	registry.FnRecordOutcome:   {"dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"},
	registry.FnReportFailure:   {"dynamodb:GetItem", "dynamodb:PutItem"},
	// The deadline watch marks what it told of (Change); its Query is on
	// the open index alone (RequestsTable.GrantQueryOpen).
	registry.FnDeadlineWatch: {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"},
	// certify reads the completed request and stores its certificate with
	// the issuance's audit record (Change).
	registry.FnCertify: {"dynamodb:GetItem", "dynamodb:PutItem"},
	// connector looks up the subject and writes each call's progress, as
	// the HTTP connectors do.
	registry.FnConnector: {"dynamodb:GetItem", "dynamodb:PutItem"},
}

// connectors are the functions that call subsystems with a bearer token.
var connectors = []string{registry.FnSyncDelete, registry.FnAsyncSubmit, registry.FnAsyncCheck}

// FunctionName is the deployed name of a function in a region.
func FunctionName(region, fn string) string { return fmt.Sprintf("Lethe-%s-%s", region, fn) }

// FunctionsProps is what the functions are wired to.
type FunctionsProps struct {
	// Region is the region as the functions see it (token names filled).
	Region config.Region
	// ConfigJSON is LETHE_CONFIG: config.ForRegion as JSON.
	ConfigJSON string
	BuildDir   string
	LogsKey    awskms.IKey
	Table      RequestsTable
	Topics     Topics
	Tokens     Tokens
	// Proof holds the signing key certify signs with.
	Proof Proof
}

// Functions are the region's functions by folder name (registry.Fn*).
type Functions map[string]GoFunction

// functionTimeout bounds each function below what calls it: API Gateway's
// 29 s (and the edge's per-attempt forward timeout, for the receiver), the
// state machines' task TimeoutSeconds (60 s, 90 s for connectors).
func functionTimeout(fn string, region config.Region) awscdk.Duration {
	switch fn {
	case registry.FnAPI, registry.FnWebhookReceiver:
		return awscdk.Duration_Seconds(jsii.Number(10))
	case registry.FnStarter:
		return awscdk.Duration_Seconds(jsii.Number(60))
	case registry.FnConnector:
		// A built-in connector works until 5 s before this and answers
		// more; below the 90 s task timeout.
		return awscdk.Duration_Seconds(jsii.Number(80))
	case registry.FnSyncDelete, registry.FnAsyncSubmit, registry.FnAsyncCheck:
		// One HTTP call bounded by the subsystem's timeout, plus reading
		// the token and writing the attempt; below the 90 s task timeout.
		longest := 0
		for _, s := range region.Subsystems {
			longest = max(longest, s.TimeoutSeconds)
		}
		return awscdk.Duration_Seconds(jsii.Number(float64(min(longest+20, 80))))
	default:
		return awscdk.Duration_Seconds(jsii.Number(30))
	}
}

// newFunction builds one of the region's functions with the environment
// every function shares and the table grants of TableActions.
func newFunction(scope constructs.Construct, fn string, p FunctionsProps, env map[string]*string, description string) GoFunction {
	all := map[string]*string{
		config.EnvRegion: jsii.String(p.Region.Name),
		config.EnvConfig: jsii.String(p.ConfigJSON),
	}
	actions, usesTable := TableActions[fn]
	if usesTable {
		all[config.EnvTableName] = p.Table.Table.TableName()
	}
	for k, v := range env {
		all[k] = v
	}
	f := NewGoFunction(scope, "Fn-"+fn, GoFunctionProps{
		Name:         fn,
		FunctionName: FunctionName(p.Region.Name, fn),
		BuildDir:     p.BuildDir,
		Timeout:      functionTimeout(fn, p.Region),
		Environment:  all,
		LogsKey:      p.LogsKey,
		Description:  description,
		Regions:      []string{p.Region.AWSRegion},
	})
	if usesTable {
		p.Table.Grant(f.Role, actions...)
	}
	return f
}

// NewFunctions creates every function except the starter (which needs the
// main state machine, made from these functions) and the webhook receiver
// (made with its queue by NewWebhooks). Reserved concurrency is
// left unset: new accounts have too small a concurrency quota to reserve
// from, the stream's shards bound the starter, and a cap on the connectors
// would turn a burst into throttling errors the state machines then retry.
func NewFunctions(scope constructs.Construct, p FunctionsProps) (Functions, error) {
	fns := Functions{}
	fns[registry.FnAPI] = newFunction(scope, registry.FnAPI, p, nil,
		"Lethe API: files erasure requests and answers their status")

	topicArns := map[string]*string{}
	for name, topic := range p.Topics.Subsystem {
		topicArns[name] = topic.TopicArn()
	}
	fns[registry.FnLoadSubsystems] = newFunction(scope, registry.FnLoadSubsystems, p, map[string]*string{
		config.EnvTopicArns: awscdk.Stack_Of(scope).ToJsonString(topicArns, nil),
	}, "Lethe task LoadSubsystems: the region's subsystems for one request")

	for _, fn := range connectors {
		f := newFunction(scope, fn, p, nil, "Lethe task "+fn+": calls one subsystem with its bearer token")
		p.Tokens.GrantRead(f.Role)
		// The escalation mails (unavailable for a while, at risk) go from
		// the connector that saw the threshold pass to the admins' topic.
		p.Topics.GrantPublish(f.Role, p.Topics.SubsystemTopics(p.Region)...)
		fns[fn] = f
	}
	fns[registry.FnRecordOutcome] = newFunction(scope, registry.FnRecordOutcome, p, nil,
		"Lethe task RecordOutcome: records the per-subsystem outcome on the request")
	fns[registry.FnReportFailure] = newFunction(scope, registry.FnReportFailure, p, nil,
		"Lethe task RecordFailure: records a subsystem's failure on the request and writes its admins' mail")
	watch := newFunction(scope, registry.FnDeadlineWatch, p, map[string]*string{config.EnvOpsTopicArn: p.Topics.Ops.TopicArn()},
		"Lethe deadline watch: counts open, at-risk and overdue requests hourly and mails ops those newly at risk or overdue")
	p.Table.GrantQueryOpen(watch.Role)
	p.Topics.GrantPublish(watch.Role, p.Topics.Ops)
	scheduleHourly(scope, "DeadlineWatchSchedule", watch, p.Region.AWSRegion)
	fns[registry.FnDeadlineWatch] = watch
	certify := newFunction(scope, registry.FnCertify, p, map[string]*string{config.EnvSigningKeyArn: p.Proof.SigningKey.KeyArn()},
		"Lethe task IssueCertificate: signs completed requests' certificates of erasure")
	p.Proof.GrantSign(certify.Role)
	fns[registry.FnCertify] = certify
	conn := newFunction(scope, registry.FnConnector, p, nil,
		"Lethe task EraseInStore: erases with the built-in connectors in the region's own stores")
	if err := grantConnectors(awscdk.Stack_Of(scope), conn.Role, p.Region); err != nil {
		return nil, err
	}
	p.Topics.GrantPublish(conn.Role, p.Topics.SubsystemTopics(p.Region)...)
	fns[registry.FnConnector] = conn
	for _, fn := range registry.Functions {
		if _, ok := fns[fn]; !ok && fn != registry.FnStarter && fn != registry.FnWebhookReceiver {
			return nil, fmt.Errorf("registry function %q has no wiring in infra/functions.go", fn)
		}
	}
	return fns, nil
}
