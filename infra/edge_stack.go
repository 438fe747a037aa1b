package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/registry"
)

// EdgeStackProps configures the edge stack.
type EdgeStackProps struct {
	awscdk.StackProps
	// Config is the whole configuration; the functions get its edge view.
	Config *config.Config
	// BuildDir holds <function>/bootstrap for the edge's functions.
	BuildDir string
	RootDir  string
}

// EdgeStack is Lethe-edge: the one URL integrations send webhooks to, the
// tenant directory, region redirects and global erasures. It is deployed
// in one AWS region (config.Edge.AWSRegion) and knows the regions only by
// their configuration (name, AWS region, API URL): nothing in it refers to
// a regional stack's resources, and no region refers to it.
type EdgeStack struct {
	Stack     awscdk.Stack
	Keys      Keys
	Tables    EdgeTables
	Ops       awssns.Topic
	Functions Functions
	API       EdgeAPI
	// Monitoring is the edge's generated dashboard and alarms.
	Monitoring Monitoring
}

// EdgeStackName is the edge stack's name, Lethe-edge.
var EdgeStackName = StackName(config.EdgeScope)

// NewEdgeStack builds the edge from the configuration.
func NewEdgeStack(scope constructs.Construct, id string, p EdgeStackProps) (*EdgeStack, error) {
	edge := p.Config.Edge
	if edge.AWSRegion == "" {
		return nil, &config.Error{Key: "edge.awsRegion", Message: "is required to deploy the edge"}
	}
	if p.BuildDir == "" {
		p.BuildDir = filepath.Join(p.RootDir, "build")
	}
	stack := awscdk.NewStack(scope, jsii.String(id), &p.StackProps)
	awscdk.Tags_Of(stack).Add(jsii.String("app"), jsii.String("lethe"), nil)
	awscdk.Tags_Of(stack).Add(jsii.String("lethe:region"), jsii.String(config.EdgeScope), nil)

	s := &EdgeStack{Stack: stack}
	s.Keys = NewKeys(stack, "Keys", KeysProps{
		RegionName: config.EdgeScope, AWSRegion: edge.AWSRegion,
		DataPurpose: "tenant directory, delivery receipts, quarantined webhooks, global erasures, ops topic, webhook secrets",
	})
	s.Tables = NewEdgeTables(stack, "Tables", EdgeTablesProps{Key: s.Keys.Data, AWSRegion: edge.AWSRegion})
	s.Ops = NewEdgeOpsTopic(stack, "Ops", edge, s.Keys.Data)
	var err error
	s.Functions, err = NewEdgeFunctions(stack, EdgeFunctionsProps{
		Config: p.Config, BuildDir: p.BuildDir, LogsKey: s.Keys.Logs, DataKey: s.Keys.Data,
		Tables: s.Tables, Ops: s.Ops,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", id, err)
	}
	handlers := map[string]awslambda.IFunction{}
	for fn, f := range s.Functions {
		handlers[fn] = f.Function
	}
	s.API = NewEdgeAPI(stack, "Api", EdgeAPIProps{
		Functions: handlers,
		Routes:    EdgeRoutes(registry.FnWebhookFanout, registry.FnEdgeAPI),
		Default:   registry.FnWebhookFanout,
		LogsKey:   s.Keys.Logs,
	})

	s.Monitoring = NewMonitoring(stack, "Monitoring", MonitoringProps{
		Name: EdgeStackName, Functions: s.Functions, EdgeAPI: &s.API, Ops: s.Ops,
	})

	awscdk.NewCfnOutput(stack, jsii.String("EdgeUrl"), &awscdk.CfnOutputProps{
		Value:       s.API.HttpAPI.ApiEndpoint(),
		Description: jsii.String("The edge's URL: integrations' webhooks go to <EdgeUrl>/webhooks/<provider>; operator routes are IAM-signed"),
	})
	for _, spec := range EdgeTableSpecs {
		awscdk.NewCfnOutput(stack, jsii.String(strings.ToUpper(spec.Role[:1])+spec.Role[1:]+"TableName"), &awscdk.CfnOutputProps{
			Value: s.Tables.Tables[spec.Role].TableName(), Description: jsii.String(spec.Purpose),
		})
	}
	awscdk.NewCfnOutput(stack, jsii.String("OpsTopicArn"), &awscdk.CfnOutputProps{
		Value: s.Ops.TopicArn(), Description: jsii.String("The edge's ops alerts (quarantined or undeliverable webhooks)"),
	})
	return s, nil
}
