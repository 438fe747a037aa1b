package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/registry"
)

// StateMachineLogRetention keeps the machines' event logs for a year: with
// execution data excluded they hold only state names, times and request
// ids, the timeline that shows each erasure finished before its deadline,
// which outlives Step Functions' own 90-day execution history.
const StateMachineLogRetention = awslogs.RetentionDays_ONE_YEAR

// syncRule is the EventBridge managed rule Step Functions uses to learn
// that a .sync child execution finished.
const syncRule = "StepFunctionsGetEventsForStepFunctionsExecutionRule"

// StateMachineName is the deployed name of a machine: Lethe-<region>-<Title>.
func StateMachineName(region string, m registry.Machine) string {
	return fmt.Sprintf("Lethe-%s-%s", region, m.Title)
}

// StateMachinesProps is what the machine files are wired to.
type StateMachinesProps struct {
	Region    config.Region
	RootDir   string
	Functions Functions
	Topics    Topics
	LogsKey   awskms.IKey
}

// StateMachine is one deployed machine with its role and the placeholders
// its file used.
type StateMachine struct {
	// Name is the deployed name, Lethe-<region>-<Title>.
	Name          string
	Machine       awsstepfunctions.StateMachine
	Role          awsiam.Role
	LogGroup      awslogs.LogGroup
	Substitutions map[string]string
}

// StateMachines are the region's machines by file name (registry.Machine*).
type StateMachines map[string]StateMachine

// Main returns the machine the starter starts.
func (s StateMachines) Main() StateMachine {
	for _, m := range registry.Machines {
		if m.Main {
			return s[m.Name]
		}
	}
	panic("registry has no main machine")
}

// substitutionsFor returns the DefinitionSubstitutions of one definition:
// a value for every placeholder the file uses, or an error naming those
// with no resource, so that synth fails rather than deploy a machine that
// calls "${SomethingArn}".
func substitutionsFor(definition string, values map[string]string) (map[string]string, error) {
	out := map[string]string{}
	var missing []string
	for _, name := range registry.Find(definition) {
		v, ok := values[name]
		if !ok {
			missing = append(missing, name)
			continue
		}
		out[name] = v
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("no substitution for placeholder(s) %s", strings.Join(missing, ", "))
	}
	return out, nil
}

// NewStateMachines loads every statemachines/<name>.asl.json, children
// before the main machine, and wires each placeholder of registry to its
// resource. Each machine gets its own role with exactly what its file uses:
// lambda:InvokeFunction on the functions it names, StartExecution (and
// the .sync describe/stop and EventBridge rule) on the child machines it
// names, sns:Publish on the ops topic it names or, when it publishes to a
// topic taken from its input, on the subsystem topics.
func NewStateMachines(scope constructs.Construct, p StateMachinesProps) (StateMachines, error) {
	stack := awscdk.Stack_Of(scope)
	values := map[string]string{}
	for _, ph := range registry.Placeholders {
		switch ph.Kind {
		case registry.Function:
			if f, ok := p.Functions[ph.Target]; ok {
				values[ph.Name] = *f.Function.FunctionArn()
			}
		case registry.Topic:
			if ph.Target == registry.TopicOps {
				values[ph.Name] = *p.Topics.Ops.TopicArn()
			}
		}
	}
	order := slices.Clone(registry.Machines)
	slices.SortStableFunc(order, func(a, b registry.Machine) int {
		switch {
		case a.Main == b.Main:
			return 0
		case b.Main:
			return -1
		default:
			return 1
		}
	})
	machines := StateMachines{}
	for _, m := range order {
		path := filepath.Join(p.RootDir, "statemachines", m.Name+".asl.json")
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("state machine %s: %w", m.Name, err)
		}
		definition := string(raw)
		subs, err := substitutionsFor(definition, values)
		if err != nil {
			return nil, fmt.Errorf("state machine %s (%s): %w", m.Name, path, err)
		}
		name := StateMachineName(p.Region.Name, m)
		c := constructs.NewConstruct(scope, jsii.String("Machine-"+m.Name))
		role := awsiam.NewRole(c, jsii.String("Role"), &awsiam.RoleProps{
			AssumedBy:   awsiam.NewServicePrincipal(jsii.String("states.amazonaws.com"), nil),
			Description: jsii.String("Execution role of the state machine " + name),
		})
		guardRegions(role, []string{p.Region.AWSRegion})
		var suppressed []string
		for _, ph := range registry.Find(definition) {
			entry, _ := registry.Lookup(ph)
			switch entry.Kind {
			case registry.Function:
				role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
					Actions:   jsii.Strings("lambda:InvokeFunction"),
					Resources: jsii.Strings(subs[ph]),
				}))
			case registry.StateMachine:
				child, ok := machines[entry.Target]
				if !ok {
					return nil, fmt.Errorf("state machine %s starts %s, which is not a child machine of the registry", m.Name, entry.Target)
				}
				childName := child.Name
				executions := *stack.FormatArn(&awscdk.ArnComponents{
					Service: jsii.String("states"), Resource: jsii.String("execution"),
					ResourceName: jsii.String(childName + ":*"), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME,
				})
				role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
					Actions:   jsii.Strings("states:StartExecution"),
					Resources: jsii.Strings(subs[ph]),
				}))
				role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
					Actions:   jsii.Strings("states:DescribeExecution", "states:StopExecution"),
					Resources: jsii.Strings(executions),
				}))
				role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
					Actions: jsii.Strings("events:PutTargets", "events:PutRule", "events:DescribeRule"),
					Resources: jsii.Strings(*stack.FormatArn(&awscdk.ArnComponents{
						Service: jsii.String("events"), Resource: jsii.String("rule"), ResourceName: jsii.String(syncRule),
					})),
				}))
				suppressed = append(suppressed, "Resource::arn:<AWS::Partition>:states:"+p.Region.AWSRegion+":<AWS::AccountId>:execution:"+childName+":*")
			case registry.Topic:
				p.Topics.GrantPublish(role, p.Topics.Ops)
			}
		}
		if strings.Contains(definition, `"TopicArn.$"`) {
			// The failure mail goes to the topic of the subsystem in the
			// input ($.subsystem.topicArn, set by LoadSubsystems).
			p.Topics.GrantPublish(role, p.Topics.SubsystemTopics(p.Region)...)
		}
		logGroup := awslogs.NewLogGroup(c, jsii.String("Logs"), &awslogs.LogGroupProps{
			// /aws/vendedlogs/ keeps the log group out of CloudWatch Logs'
			// resource-policy size limit (Step Functions logging docs).
			LogGroupName:  jsii.String("/aws/vendedlogs/states/" + name),
			Retention:     StateMachineLogRetention,
			EncryptionKey: p.LogsKey,
			RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
		})
		subsPtr := map[string]*string{}
		for k, v := range subs {
			subsPtr[k] = jsii.String(v)
		}
		machine := awsstepfunctions.NewStateMachine(c, jsii.String("Machine"), &awsstepfunctions.StateMachineProps{
			StateMachineName:        jsii.String(name),
			StateMachineType:        awsstepfunctions.StateMachineType_STANDARD,
			DefinitionBody:          awsstepfunctions.DefinitionBody_FromString(jsii.String(definition)),
			DefinitionSubstitutions: &subsPtr,
			Role:                    role,
			TracingEnabled:          jsii.Bool(true),
			Logs: &awsstepfunctions.LogOptions{
				Destination:          logGroup,
				Level:                awsstepfunctions.LogLevel_ALL,
				IncludeExecutionData: jsii.Bool(false),
			},
		})
		suppress(role, "IAM5", reasonXRay+" "+reasonVendedLogs, "Resource::*")
		if len(suppressed) > 0 {
			suppress(role, "IAM5", "Waiting for a child execution (.sync) needs DescribeExecution/StopExecution on its executions, whose ARNs end in the execution name Lethe chooses per request; AWS documents execution:<machine>:* for this (Step Functions, \"IAM policies for starting a new state machine execution\").", suppressed...)
		}
		machines[m.Name] = StateMachine{Name: name, Machine: machine, Role: role, LogGroup: logGroup, Substitutions: subs}
		for _, ph := range registry.Placeholders {
			if ph.Kind == registry.StateMachine && ph.Target == m.Name {
				values[ph.Name] = *machine.StateMachineArn()
			}
		}
	}
	return machines, nil
}
