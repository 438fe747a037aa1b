package local

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/lethe-erasure/lethe/internal/connector/builtin"

	"context"
	"fmt"
	"github.com/lethe-erasure/lethe/internal/certify"
	"log/slog"
	"slices"
	"time"

	"github.com/lethe-erasure/lethe/internal/asl"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/loadsubsystems"
	"github.com/lethe-erasure/lethe/internal/metrics"
	"github.com/lethe-erasure/lethe/internal/outcome"
	"github.com/lethe-erasure/lethe/internal/progress"
	"github.com/lethe-erasure/lethe/internal/registry"
	"github.com/lethe-erasure/lethe/internal/subsystem"
	"github.com/lethe-erasure/lethe/statemachines"
)

// Account is the AWS account of every ARN the local runtime mints: the
// engine's executions and functions, and the topics the outbox stands in
// for. No real account has it, so a local ARN is never mistaken for a
// deployed one.
const Account = "000000000000"

// The names below are those the CDK app gives the deployed resources
// (infra/functions.go FunctionName, infra/statemachines.go
// StateMachineName, infra/topics.go SubsystemTopicName and OpsTopicName),
// so that executions, history and failure mail read the same locally as in
// the console. infra is a main package and cannot be imported; the
// TestNamesMatchInfra test reads infra's source to keep them in step.

// FunctionName is the deployed name of a region's function.
func FunctionName(region, fn string) string { return fmt.Sprintf("Lethe-%s-%s", region, fn) }

// MachineName is the deployed name of a region's state machine.
func MachineName(region string, m registry.Machine) string {
	return fmt.Sprintf("Lethe-%s-%s", region, m.Title)
}

// SubsystemTopicName is the name of a subsystem's failure topic.
func SubsystemTopicName(region, subsystem string) string {
	return fmt.Sprintf("lethe-%s-%s-failures", region, subsystem)
}

// OpsTopicName is the name of a region's ops topic.
func OpsTopicName(region string) string { return fmt.Sprintf("lethe-%s-ops", region) }

// NoticesTopicName is the name of a region's subject-notices topic.
func NoticesTopicName(region string) string { return fmt.Sprintf("lethe-%s-subject-notices", region) }

// TopicArn is the ARN of a region's topic, as SNS would mint it in the
// region's AWS region under Account.
func TopicArn(region config.Region, topicName string) string {
	return fmt.Sprintf("arn:aws:sns:%s:%s:%s", region.AWSRegion, Account, topicName)
}

// SubsystemTopics maps each subsystem of the region to its failure topic's
// ARN: what the CDK stack passes the load-subsystems function as
// LETHE_TOPIC_ARNS.
func SubsystemTopics(region config.Region) map[string]string {
	topics := make(map[string]string, len(region.Subsystems))
	for _, s := range region.Subsystems {
		topics[s.Name] = TopicArn(region, SubsystemTopicName(region.Name, s.Name))
	}
	return topics
}

// TaskStore is what the task handlers need of a region's requests table:
// the connectors' subject lookup, progress writes and RecordOutcome's reads
// and writes. The embedded store and *dynamo.Store have all of it.
type TaskStore interface {
	outcome.Requests
	progress.Requests
	certify.Requests
	PutCallback(ctx context.Context, hash, requestID, subsystem string, expires time.Time) error
	SubjectOf(ctx context.Context, requestID string) (string, error)
}

// Tokens hands out subsystems' bearer tokens; *secrets.Cache is one.
type Tokens interface {
	Token(ctx context.Context, src config.TokenSource) (string, error)
	Invalidate(src config.TokenSource)
}

// TaskHandlers builds the handlers of the state machines' Lambda tasks as
// the functions' mains build them (functions/*/main.go through
// internal/lambdaenv): keyed by function folder (registry.Fn*), ready for
// Wire. topics are the subsystems' failure topics (SubsystemTopics); mail
// publishes the escalation mails to them (the outbox).
// sink counts closed requests (nil: EMF lines in log). issuer signs the
// certificates (IssueCertificate), with the region's key.
// connOpts go to the subsystem connector (its callbacks).
func TaskHandlers(cfg *config.Config, region config.Region, topics map[string]string, tokens Tokens, requests TaskStore, mail progress.Mailer, issuer *certify.Issuer, log *slog.Logger, sink metrics.Sink, connOpts ...subsystem.Option) (map[string]any, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tracker := progress.New(requests, mail, cfg, region, log)
	loader, err := loadsubsystems.New(region, topics, tracker)
	if err != nil {
		return nil, err
	}
	conn := subsystem.New(subsystem.NewHTTPClient(), tokens, requests, tracker,
		append([]subsystem.Option{subsystem.WithRegion(region), subsystem.WithLogger(log),
			subsystem.WithErasers(builtin.New(ConnectorAWS(region), tokens))}, connOpts...)...)
	recorder := outcome.New(requests, region, log)
	if sink != nil {
		recorder.WithMetrics(sink)
	}
	return map[string]any{
		registry.FnLoadSubsystems: loader.Handle,
		registry.FnSyncDelete:     conn.SyncDelete,
		registry.FnConnector:      conn.Erase,
		registry.FnAsyncSubmit:    conn.Submit,
		registry.FnAsyncCheck:     conn.Check,
		registry.FnRecordOutcome:  recorder.Handle,
		registry.FnReportFailure:  outcome.NewReporter(requests, tracker, log).Handle,
		registry.FnCertify:        issuer.Handle,
	}, nil
}

// ConnectorAWS is the AWS configuration of the built-in connectors under
// lethe local: the region's AWS region and static credentials, for the
// local servers each connector's endpoint names (config.Region's
// connectors are checked to name one at start).
func ConnectorAWS(region config.Region) aws.Config {
	return aws.Config{Region: region.AWSRegion, Credentials: credentials.NewStaticCredentialsProvider("lethe", "lethe", "")}
}

// Wired says where Wire put a region's machines.
type Wired struct {
	// Machines maps each machine's file name (registry.Machine*) to the
	// name it is registered under (Lethe-<region>-<Title>).
	Machines map[string]string
	// Main is the registered name of the machine the starter starts.
	Main string
	// OpsTopic is the ARN ${OpsTopicArn} was filled with.
	OpsTopic string
	// Definitions holds each registered machine's definition, its
	// placeholders filled, by registered name: what the console draws.
	Definitions map[string][]byte
}

// Wire does for one region's engine what the CDK app does for a regional
// stack: it registers each task handler as the Lambda function the stack
// deploys (FunctionName), fills every ${Placeholder} of the registry with
// the ARN of that function, child machine or topic, and registers the
// three statemachines/*.asl.json under the stack's machine names, children
// first. handlers is keyed by function folder (TaskHandlers); a placeholder
// without a handler is an error, so nothing runs half-wired.
func Wire(e *asl.Engine, region config.Region, handlers map[string]any) (Wired, error) {
	w := Wired{Machines: map[string]string{}, Definitions: map[string][]byte{}, OpsTopic: TopicArn(region, OpsTopicName(region.Name))}
	titles := map[string]registry.Machine{}
	for _, m := range registry.Machines {
		titles[m.Name] = m
	}
	values := map[string]string{}
	for _, p := range registry.Placeholders {
		switch p.Kind {
		case registry.Function:
			h, ok := handlers[p.Target]
			if !ok || h == nil {
				return Wired{}, fmt.Errorf("region %s: no handler for function %s (placeholder ${%s})", region.Name, p.Target, p.Name)
			}
			values[p.Name] = e.RegisterLambda(FunctionName(region.Name, p.Target), h)
		case registry.StateMachine:
			m, ok := titles[p.Target]
			if !ok {
				return Wired{}, fmt.Errorf("placeholder ${%s} names machine %q, which the registry does not list", p.Name, p.Target)
			}
			values[p.Name] = e.MachineArn(MachineName(region.Name, m))
		case registry.Topic:
			if p.Target != registry.TopicOps {
				return Wired{}, fmt.Errorf("placeholder ${%s} names topic %q, which the local runtime does not know", p.Name, p.Target)
			}
			values[p.Name] = w.OpsTopic
		default:
			return Wired{}, fmt.Errorf("placeholder ${%s} has kind %q, which the local runtime does not know", p.Name, p.Kind)
		}
	}
	order := slices.Clone(registry.Machines)
	slices.SortStableFunc(order, func(a, b registry.Machine) int {
		switch {
		case a.Main == b.Main:
			return 0
		case a.Main:
			return 1
		default:
			return -1
		}
	})
	for _, m := range order {
		def, err := statemachines.Substituted(m.Name, values)
		if err != nil {
			return Wired{}, err
		}
		parsed, err := asl.Parse([]byte(def))
		if err != nil {
			return Wired{}, fmt.Errorf("state machine %s: %w", m.Name, err)
		}
		name := MachineName(region.Name, m)
		e.RegisterMachine(name, parsed)
		w.Machines[m.Name] = name
		w.Definitions[name] = []byte(def)
		if m.Main {
			w.Main = name
		}
	}
	if w.Main == "" {
		return Wired{}, fmt.Errorf("the registry has no main machine")
	}
	return w, nil
}

// EngineTasks completes an engine's waiting tasks as Step Functions'
// SendTaskSuccess and SendTaskFailure do (subsystem.TaskSender).
type EngineTasks struct{ Engine *asl.Engine }

// SendTaskSuccess completes the task waiting on the token.
func (t EngineTasks) SendTaskSuccess(_ context.Context, token string, output []byte) error {
	return t.Engine.SendTaskSuccess(token, output)
}

// SendTaskFailure fails the task waiting on the token.
func (t EngineTasks) SendTaskFailure(_ context.Context, token, errorName, cause string) error {
	return t.Engine.SendTaskFailure(token, errorName, cause)
}
