package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/google/go-cmp/cmp"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/registry"
)

// connectorConfig is one region whose subsystems are reached by every kind
// of built-in connector, next to one HTTP subsystem.
const connectorConfig = `{"regions":[{"name":"eu","awsRegion":"eu-west-1","subsystems":[
 {"name":"crm","mode":"sync","baseUrl":"https://crm.example.com","adminEmails":["crm@example.com"]},
 {"name":"sessions","connector":{"dynamodb":{"table":"app-sessions","key":{"pk":"SESSION#{subject}"}}},"adminEmails":["app@example.com"]},
 {"name":"orders","connector":{"dynamodb":{"table":"arn:aws:dynamodb:eu-west-1:123456789012:table/app-orders","index":"byEmail","indexKey":{"email":"{subject}"},"tableKey":["pk","sk"]}},"adminEmails":[]},
 {"name":"uploads","connector":{"s3":{"bucket":"app-uploads","prefix":"users/{subject}/","region":"eu-west-1"}},"adminEmails":[]},
 {"name":"accounts","connector":{"cognito":{"userPoolId":"eu-west-1_AbC123","attribute":"email"}},"adminEmails":[]},
 {"name":"billing","connector":{"stripe":{"apiKeySecret":"lethe/eu/stripe"}},"adminEmails":[]}]}]}`

// resourceNames are the connectors' resources in connectorConfig.
var resourceNames = []string{"app-sessions", "app-orders", "app-uploads", "eu-west-1_AbC123", "lethe/eu/stripe"}

// TestConnectorGrants synthesizes a region with one connector of each kind:
// the connector function alone may touch the stores, each action on its
// configured resource only, and neither cdk-nag nor AWS Control Tower's
// guard rules have anything to say.
func TestConnectorGrants(t *testing.T) {
	s := synth(t) // the build directory and the jsii runtime
	cfg, err := config.Parse([]byte(connectorConfig))
	if err != nil {
		t.Fatal(err)
	}
	outdir := t.TempDir()
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outdir)})
	buildDir, _, err := testBuildDir(s.root, DeployedFunctions(cfg))
	if err != nil {
		t.Fatal(err)
	}
	if buildDir != filepath.Join(s.root, "build") {
		t.Cleanup(func() { os.RemoveAll(buildDir) })
	}
	stacks, err := NewApp(app, AppProps{Config: cfg, RootDir: s.root, BuildDir: buildDir})
	if err != nil {
		t.Fatal(err)
	}
	st := stacks.Regions["eu"]
	tpl := *assertions.Template_FromStack(st.Stack, nil).ToJSON()
	byRole := roleStatements(t, tpl)
	role := cfnID(t, st, st.Functions[registry.FnConnector].Role)

	stores := []string{"dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:BatchWriteItem", "s3:ListBucket", "s3:ListBucketVersions",
		"s3:GetBucketVersioning", "s3:DeleteObject", "s3:DeleteObjectVersion", "cognito-idp:AdminDeleteUser", "cognito-idp:ListUsers",
		"secretsmanager:GetSecretValue"}
	progress := []string{"dynamodb:GetItem", "dynamodb:PutItem"}
	want := set(fnCommon, progress, tableWrite, publish, stores)
	if diff := cmp.Diff(want, actionsOf(byRole[role])); diff != "" {
		t.Errorf("connector role's actions (-want +got):\n%s", diff)
	}
	for action, resource := range map[string][]string{
		"dynamodb:DeleteItem":           {`:table/app-sessions"`},
		"dynamodb:Query":                {`arn:aws:dynamodb:eu-west-1:123456789012:table/app-orders/index/byEmail"`},
		"dynamodb:BatchWriteItem":       {`arn:aws:dynamodb:eu-west-1:123456789012:table/app-orders"`},
		"s3:ListBucketVersions":         {`:s3:::app-uploads"`},
		"s3:GetBucketVersioning":        {`:s3:::app-uploads"`},
		"s3:DeleteObjectVersion":        {`:s3:::app-uploads/users/*/*"`},
		"cognito-idp:AdminDeleteUser":   {`:userpool/eu-west-1_AbC123"`},
		"cognito-idp:ListUsers":         {`:userpool/eu-west-1_AbC123"`},
		"secretsmanager:GetSecretValue": {`:secret:lethe/eu/stripe-??????"`},
	} {
		got := resourcesOf(byRole[role], action)
		for _, r := range resource {
			if !strings.Contains(got, r) {
				t.Errorf("%s on %s, want %s", action, got, r)
			}
		}
		named := 0
		for _, m := range resourceNames {
			if strings.Contains(got, m) {
				named++
			}
		}
		if named != 1 {
			t.Errorf("%s names %d of the connectors' resources, want its own only: %s", action, named, got)
		}
	}
	for _, s := range byRole[role] {
		for _, a := range s.Actions {
			if a == "s3:ListBucket" && !strings.Contains(s.Condition, `"s3:prefix":"users/*/*"`) {
				t.Errorf("s3:ListBucket without the prefix condition: %s", s.Condition)
			}
		}
	}
	// No other role's grant names the connectors' resources.
	for other, sts := range byRole {
		if other == role {
			continue
		}
		for _, st := range sts {
			for _, m := range resourceNames {
				if strings.Contains(st.Resources, m) {
					t.Errorf("role %s may %v on %s", other, st.Actions, st.Resources)
				}
			}
		}
	}
	bin, rules := guardTool(t, s.root)
	for _, f := range guardFailures(t, bin, rules, tpl, cdkPaths(st.Stack)) {
		if len(acceptedBy(f)) == 0 {
			t.Errorf("guard rule %s fails on %s", f.Rule, f.Path)
		}
	}
	findings := *assertions.Annotations_FromStack(st.Stack).FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
	for _, f := range findings {
		t.Errorf("%s: %v", *f.Id, f.Entry.Data)
	}
}

// TestConnectorRefusedAtSynth: a connector's resource in another region,
// or an endpoint override, stops synth with a message naming the key.
func TestConnectorRefusedAtSynth(t *testing.T) {
	foreign := strings.Replace(connectorConfig, "arn:aws:dynamodb:eu-west-1:", "arn:aws:dynamodb:us-east-1:", 1)
	app := awscdk.NewApp(&awscdk.AppProps{Context: &map[string]any{config.ContextKey: foreign}})
	if _, err := ConfigFromContext(app); err == nil || !strings.Contains(err.Error(), "regions[0].subsystems[2].connector.dynamodb.table") || !strings.Contains(err.Error(), "us-east-1") {
		t.Errorf("a table in us-east-1 for eu-west-1: %v, want an error naming the key and the region", err)
	}

	// The stack's own guard, for a configuration that reached it.
	for name, mutate := range map[string]func(c *config.Config){
		"subsystems[3].connector.s3.endpoint": func(c *config.Config) { c.Regions[0].Subsystems[3].Connector.S3.Endpoint = "http://127.0.0.1:9000" },
		"subsystems[3].connector.s3":          func(c *config.Config) { c.Regions[0].Subsystems[3].Connector.S3.Region = "us-east-1" },
		"subsystems[4].connector.cognito":     func(c *config.Config) { c.Regions[0].Subsystems[4].Connector.Cognito.UserPoolID = "us-east-1_AbC123" },
	} {
		cfg, err := config.Parse([]byte(connectorConfig))
		if err != nil {
			t.Fatal(err)
		}
		mutate(cfg)
		stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Probe"), &awscdk.StackProps{Env: &awscdk.Environment{Region: jsii.String("eu-west-1")}})
		if _, err := ConnectorGrants(stack, cfg.Regions[0]); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("ConnectorGrants = %v, want an error naming %s", err, name)
		}
	}
}
