package main

import (
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// FunctionLogRetention is how long a function's logs are kept: a year, as
// for an accountability system (AWS Control Tower's CT.CLOUDWATCH.PR.1 asks
// as much). Function logs carry request ids, never subject ids; the proof
// of erasure is the Requests table.
const FunctionLogRetention = awslogs.RetentionDays_ONE_YEAR

// GoFunctionProps are what differs between Lethe's functions; everything
// else is the same for all of them and set by NewGoFunction.
type GoFunctionProps struct {
	// Name is the folder under functions/ and build/ (registry.Fn*).
	Name string
	// FunctionName is the deployed name, Lethe-<region>-<Name>.
	FunctionName string
	// BuildDir holds <Name>/bootstrap, built by `make build`.
	BuildDir string
	Timeout  awscdk.Duration
	// Environment is added to LETHE_REGION and LETHE_CONFIG.
	Environment map[string]*string
	// LogsKey encrypts the function's log group.
	LogsKey awskms.IKey
	// ReservedConcurrency caps the function when set (> 0).
	ReservedConcurrency int
	Description         string
	// Regions are the AWS regions the function may act in; every other is
	// denied (guardRegions).
	Regions []string
}

// GoFunction is one deployed Lethe function and what it was made of.
type GoFunction struct {
	Function awslambda.Function
	Role     awsiam.Role
	LogGroup awslogs.LogGroup
}

// NewGoFunction builds one Lambda function from a `make build` binary with
// the defaults every Lethe function shares: arm64 on provided.al2023, X-Ray
// tracing, 256 MB, its own encrypted log group with a retention, and its own
// role that starts with nothing but the right to write to that log group
// (no AWS managed policy: callers grant exactly what each function needs).
func NewGoFunction(scope constructs.Construct, id string, p GoFunctionProps) GoFunction {
	c := constructs.NewConstruct(scope, jsii.String(id))
	logGroup := awslogs.NewLogGroup(c, jsii.String("Logs"), &awslogs.LogGroupProps{
		LogGroupName:  jsii.String("/aws/lambda/" + p.FunctionName),
		Retention:     FunctionLogRetention,
		EncryptionKey: p.LogsKey,
		// Operational logs go with the stack: a retained, named log group
		// would block redeploying the stack after `cdk destroy`.
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	role := awsiam.NewRole(c, jsii.String("Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("Execution role of " + p.FunctionName),
	})
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
		Resources: jsii.Strings(*logGroup.LogGroupArn()),
	}))
	guardRegions(role, p.Regions)
	env := map[string]*string{}
	for k, v := range p.Environment {
		env[k] = v
	}
	props := &awslambda.FunctionProps{
		FunctionName: jsii.String(p.FunctionName),
		Description:  jsii.String(p.Description),
		Code:         awslambda.Code_FromAsset(jsii.String(filepath.Join(p.BuildDir, p.Name)), nil),
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Handler:      jsii.String("bootstrap"),
		Architecture: awslambda.Architecture_ARM_64(),
		Tracing:      awslambda.Tracing_ACTIVE,
		MemorySize:   jsii.Number(256),
		Timeout:      p.Timeout,
		Environment:  &env,
		LogGroup:     logGroup,
		Role:         role,
	}
	if p.ReservedConcurrency > 0 {
		props.ReservedConcurrentExecutions = jsii.Number(float64(p.ReservedConcurrency))
	}
	fn := awslambda.NewFunction(c, jsii.String("Function"), props)
	suppress(role, "IAM5", reasonXRay, "Resource::*")
	return GoFunction{Function: fn, Role: role, LogGroup: logGroup}
}
