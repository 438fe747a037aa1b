package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/google/go-cmp/cmp"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/local"
	"github.com/lethe-erasure/lethe/internal/registry"
)

// edge returns the shared app's edge stack and template, failing when the
// default configuration does not place the edge.
func edge(t *testing.T) (*synthesized, *EdgeStack, map[string]any) {
	t.Helper()
	s := synth(t)
	if s.edge == nil {
		t.Fatalf("no edge stack: cdk.json's edge.awsRegion = %q", s.cfg.Edge.AWSRegion)
	}
	return s, s.edge, s.json[config.EdgeScope]
}

func TestEdgeStack(t *testing.T) {
	s, e, tpl := edge(t)
	if got := *e.Stack.StackName(); got != "Lethe-edge" {
		t.Errorf("stack name = %q", got)
	}
	if got := *e.Stack.Region(); got != s.cfg.Edge.AWSRegion {
		t.Errorf("region = %q, want %q", got, s.cfg.Edge.AWSRegion)
	}
	tags := e.Stack.Tags().TagValues()
	if *(*tags)["app"] != "lethe" || *(*tags)["lethe:region"] != config.EdgeScope {
		t.Errorf("tags = %v", *tags)
	}
	template := s.templates[config.EdgeScope]
	for typ, want := range map[string]int{
		"AWS::Lambda::Function":            len(registry.EdgeFunctions),
		"AWS::DynamoDB::Table":             len(EdgeTableSpecs),
		"AWS::ApiGatewayV2::Api":           1,
		"AWS::ApiGatewayV2::Stage":         1,
		"AWS::ApiGatewayV2::Route":         len(EdgeRoutes("", "")) + 1, // and $default
		"AWS::ApiGatewayV2::Integration":   2,
		"AWS::SNS::Topic":                  1,
		"AWS::SNS::Subscription":           len(s.cfg.Edge.OpsEmails),
		"AWS::KMS::Key":                    2,
		"AWS::SQS::Queue":                  0,
		"AWS::StepFunctions::StateMachine": 0,
	} {
		check(t, typ+" count", func() { template.ResourceCountIs(jsii.String(typ), jsii.Number(float64(want))) })
	}
	for _, key := range resources(tpl, "AWS::KMS::Key") {
		if props(key)["EnableKeyRotation"] != true {
			t.Errorf("KMS key without rotation: %v", props(key)["Description"])
		}
	}
	outputs := tpl["Outputs"].(map[string]any)
	for _, name := range []string{"EdgeUrl", "TenantsTableName", "DeliveriesTableName", "QuarantineTableName", "GlobalTableName", "OpsTopicArn"} {
		if _, ok := outputs[name]; !ok {
			t.Errorf("output %s missing", name)
		}
	}
}

func TestEdgeRoutes(t *testing.T) {
	_, e, tpl := edge(t)
	integrations := resources(tpl, "AWS::ApiGatewayV2::Integration")
	fnOf := map[string]string{} // integration logical id -> function
	for id, integ := range integrations {
		p := props(integ)
		if p["IntegrationType"] != "AWS_PROXY" || p["PayloadFormatVersion"] != "2.0" {
			t.Errorf("integration %s = %s", id, toJSON(t, p))
		}
		for fn, f := range e.Functions {
			if toJSON(t, p["IntegrationUri"]) == toJSON(t, map[string]any{"Fn::GetAtt": []any{logicalID(t, f.Function), "Arn"}}) {
				fnOf[id] = fn
			}
		}
	}
	type route struct{ Auth, Function string }
	got := map[string]route{}
	for id, r := range resources(tpl, "AWS::ApiGatewayV2::Route") {
		p := props(r)
		target, _ := p["Target"].(map[string]any)
		j := toJSON(t, target)
		fn := ""
		for integ, f := range fnOf {
			if strings.Contains(j, `"`+integ+`"`) {
				fn = f
			}
		}
		if fn == "" {
			t.Errorf("route %s targets %s", id, j)
		}
		got[p["RouteKey"].(string)] = route{p["AuthorizationType"].(string), fn}
	}
	want := map[string]route{
		"POST /webhooks/{provider}":     {"NONE", registry.FnWebhookFanout},
		"ANY /t/{tenant}":               {"NONE", registry.FnWebhookFanout},
		"ANY /t/{tenant}/{proxy+}":      {"NONE", registry.FnWebhookFanout},
		"GET /tenants":                  {"AWS_IAM", registry.FnEdgeAPI},
		"PUT /tenants/{tenant}":         {"AWS_IAM", registry.FnEdgeAPI},
		"GET /tenants/{tenant}":         {"AWS_IAM", registry.FnEdgeAPI},
		"GET /quarantine":               {"AWS_IAM", registry.FnEdgeAPI},
		"POST /quarantine/{id}/release": {"AWS_IAM", registry.FnEdgeAPI},
		"GET /erasures":                 {"AWS_IAM", registry.FnEdgeAPI},
		"POST /erasures":                {"AWS_IAM", registry.FnEdgeAPI},
		"GET /erasures/{globalId}":      {"AWS_IAM", registry.FnEdgeAPI},
		"GET /receipts":                 {"AWS_IAM", registry.FnEdgeAPI},
		// What no route matches: the fan-out answers in Lethe's shape, as
		// lethe local's stand-in does (local.EdgeDefaultFunction).
		DefaultRouteKey: {"NONE", local.EdgeDefaultFunction},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("routes (-want +got):\n%s", diff)
	}
	// API Gateway may invoke each function, from this API only.
	for id, perm := range resources(tpl, "AWS::Lambda::Permission") {
		p := props(perm)
		if p["Principal"] != "apigateway.amazonaws.com" || !strings.Contains(toJSON(t, p["SourceArn"]), logicalID(t, e.API.HttpAPI)) {
			t.Errorf("permission %s = %s", id, toJSON(t, p))
		}
	}
}

func TestEdgeStage(t *testing.T) {
	_, e, tpl := edge(t)
	stage := props(resources(tpl, "AWS::ApiGatewayV2::Stage")[logicalID(t, e.API.Stage)])
	if stage["StageName"] != "$default" || stage["AutoDeploy"] != true {
		t.Errorf("stage = %s", toJSON(t, stage))
	}
	want := toJSON(t, map[string]any{"ThrottlingBurstLimit": EdgeThrottleBurst, "ThrottlingRateLimit": EdgeThrottleRate})
	if got := toJSON(t, stage["DefaultRouteSettings"]); got != want {
		t.Errorf("DefaultRouteSettings = %s, want %s", got, want)
	}
	als, _ := stage["AccessLogSettings"].(map[string]any)
	if toJSON(t, als["DestinationArn"]) != toJSON(t, map[string]any{"Fn::GetAtt": []any{logicalID(t, e.API.AccessLog), "Arn"}}) {
		t.Errorf("access log destination = %v", als["DestinationArn"])
	}
	format, _ := als["Format"].(string)
	var line map[string]any
	if err := json.Unmarshal([]byte(format), &line); err != nil {
		t.Errorf("access log format is not JSON: %v", err)
	}
	for _, leak := range []string{"$context.path", "$input.body", "$context.error.message\"", "$context.integrationErrorMessage"} {
		if strings.Contains(format, leak) {
			t.Errorf("access log format records %s", leak)
		}
	}
	if !strings.Contains(format, "$context.routeKey") {
		t.Errorf("access log format does not record the route: %s", format)
	}
	if lg := props(resources(tpl, "AWS::Logs::LogGroup")[logicalID(t, e.API.AccessLog)]); lg["KmsKeyId"] == nil || lg["RetentionInDays"] == nil {
		t.Errorf("access log group = %v", lg)
	}
}

func TestEdgeTables(t *testing.T) {
	_, e, tpl := edge(t)
	tables := resources(tpl, "AWS::DynamoDB::Table")
	dataKey := map[string]any{"Fn::GetAtt": []any{logicalID(t, e.Keys.Data), "Arn"}}
	for _, spec := range EdgeTableSpecs {
		t.Run(spec.Role, func(t *testing.T) {
			id := logicalID(t, e.Tables.Tables[spec.Role])
			res := tables[id]
			p := props(res)
			attrs := []any{map[string]any{"AttributeName": "pk", "AttributeType": "S"}}
			var indexes any
			if spec.ListingSortKey != "" {
				// The listing index: partition kind, sorted by the
				// listing's order, every attribute projected.
				attrs = append(attrs, map[string]any{"AttributeName": "kind", "AttributeType": "S"})
				if spec.ListingSortKey != "pk" {
					attrs = append(attrs, map[string]any{"AttributeName": spec.ListingSortKey, "AttributeType": "S"})
				}
				indexes = []any{map[string]any{
					"IndexName": "listing",
					"KeySchema": []any{
						map[string]any{"AttributeName": "kind", "KeyType": "HASH"},
						map[string]any{"AttributeName": spec.ListingSortKey, "KeyType": "RANGE"},
					},
					"Projection": map[string]any{"ProjectionType": "ALL"},
				}}
			}
			want := map[string]any{
				"BillingMode":                      "PAY_PER_REQUEST",
				"KeySchema":                        []any{map[string]any{"AttributeName": "pk", "KeyType": "HASH"}},
				"AttributeDefinitions":             attrs,
				"GlobalSecondaryIndexes":           indexes,
				"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
				"SSESpecification":                 map[string]any{"SSEEnabled": true, "SSEType": "KMS", "KMSMasterKeyId": dataKey},
			}
			for k, v := range want {
				if got := toJSON(t, p[k]); got != toJSON(t, v) {
					t.Errorf("%s = %s, want %s", k, got, toJSON(t, v))
				}
			}
			ttl := toJSON(t, p["TimeToLiveSpecification"])
			if spec.TTL != (ttl == `{"AttributeName":"expiresAt","Enabled":true}`) {
				t.Errorf("TTL = %s, want TTL %v", ttl, spec.TTL)
			}
			policy := "Delete"
			if spec.Retain {
				policy = "Retain"
			}
			if res["DeletionPolicy"] != policy || res["UpdateReplacePolicy"] != policy || p["DeletionProtectionEnabled"] != spec.Retain {
				t.Errorf("deletion = %v/%v/%v, want %s", res["DeletionPolicy"], res["UpdateReplacePolicy"], p["DeletionProtectionEnabled"], policy)
			}
			if p["StreamSpecification"] != nil || p["LocalSecondaryIndexes"] != nil || p["TableName"] != nil {
				t.Errorf("unexpected stream, local index or fixed name: %s", toJSON(t, p))
			}
		})
	}
	// Listed: the directory (by key), receipts (by receipt time) and
	// global erasures (by id); the quarantine is scanned.
	listed := map[string]string{}
	for _, spec := range EdgeTableSpecs {
		listed[spec.Role] = spec.ListingSortKey
	}
	if diff := cmp.Diff(map[string]string{EdgeTenants: "pk", EdgeDeliveries: "receivedAt", EdgeQuarantine: "", EdgeGlobal: "pk"}, listed); diff != "" {
		t.Errorf("listing sort keys (-want +got):\n%s", diff)
	}
	// The decisions the README explains: receipts and global erasures are
	// proof and kept; the quarantine's bodies go with the stack.
	kept := map[string]bool{}
	for _, spec := range EdgeTableSpecs {
		kept[spec.Role] = spec.Retain
	}
	if !kept[EdgeDeliveries] || !kept[EdgeGlobal] || !kept[EdgeTenants] || kept[EdgeQuarantine] {
		t.Errorf("retained tables = %v", kept)
	}
}

func TestEdgeFunctions(t *testing.T) {
	s, e, tpl := edge(t)
	functions := resources(tpl, "AWS::Lambda::Function")
	// What internal/edge/edgeenv requires of each, and nothing more.
	wantEnv := map[string][]string{
		registry.FnWebhookFanout: {config.EnvDeliveriesTable, config.EnvEdgeConfig, config.EnvOpsTopicArn, config.EnvQuarantineTable, config.EnvTenantsTable},
		registry.FnEdgeAPI:       {config.EnvDeliveriesTable, config.EnvEdgeConfig, config.EnvGlobalTable, config.EnvQuarantineTable, config.EnvTenantsTable},
	}
	for _, fn := range registry.EdgeFunctions {
		f, ok := e.Functions[fn]
		if !ok {
			t.Fatalf("function %s not built", fn)
		}
		p := props(functions[logicalID(t, f.Function)])
		if p["FunctionName"] != "Lethe-edge-"+fn || p["Runtime"] != "provided.al2023" || toJSON(t, p["Architectures"]) != `["arm64"]` ||
			toJSON(t, p["TracingConfig"]) != `{"Mode":"Active"}` {
			t.Errorf("%s: %s", fn, toJSON(t, p))
		}
		if to, _ := p["Timeout"].(float64); to < 1 || to >= 30 {
			t.Errorf("%s: timeout %v is not below API Gateway's 30 s", fn, p["Timeout"])
		}
		vars := p["Environment"].(map[string]any)["Variables"].(map[string]any)
		var names []string
		for k := range vars {
			names = append(names, k)
		}
		sort.Strings(names)
		if diff := cmp.Diff(wantEnv[fn], names); diff != "" {
			t.Errorf("%s environment (-want +got):\n%s", fn, diff)
		}
		// Each table variable names its own table.
		for _, spec := range EdgeTableSpecs {
			if vars[spec.Env] == nil {
				continue
			}
			if got, want := toJSON(t, vars[spec.Env]), toJSON(t, map[string]any{"Ref": logicalID(t, e.Tables.Tables[spec.Role])}); got != want {
				t.Errorf("%s %s = %s, want %s", fn, spec.Env, got, want)
			}
		}
		if got, want := toJSON(t, vars[config.EnvOpsTopicArn]), toJSON(t, map[string]any{"Ref": logicalID(t, e.Ops)}); vars[config.EnvOpsTopicArn] != nil && got != want {
			t.Errorf("%s %s = %s, want %s", fn, config.EnvOpsTopicArn, got, want)
		}
		// LETHE_EDGE_CONFIG is the edge view, as the functions parse it.
		raw, _ := vars[config.EnvEdgeConfig].(string)
		view, err := config.EdgeFromEnv(raw)
		if err != nil {
			t.Errorf("%s: %s: %v", fn, config.EnvEdgeConfig, err)
		} else if diff := cmp.Diff(s.cfg.ForEdge(), view); diff != "" {
			t.Errorf("%s: edge view (-want +got):\n%s", fn, diff)
		}
		lg := props(resources(tpl, "AWS::Logs::LogGroup")[logicalID(t, f.LogGroup)])
		if lg["KmsKeyId"] == nil || lg["RetentionInDays"] == nil || lg["LogGroupName"] != "/aws/lambda/Lethe-edge-"+fn {
			t.Errorf("%s log group = %v", fn, lg)
		}
	}
}

func TestEdgeOpsTopic(t *testing.T) {
	s, e, tpl := edge(t)
	p := props(resources(tpl, "AWS::SNS::Topic")[logicalID(t, e.Ops)])
	if p["TopicName"] != "lethe-edge-ops" || toJSON(t, p["KmsMasterKeyId"]) != toJSON(t, map[string]any{"Fn::GetAtt": []any{logicalID(t, e.Keys.Data), "Arn"}}) {
		t.Errorf("ops topic = %s", toJSON(t, p))
	}
	var emails []string
	for _, sub := range resources(tpl, "AWS::SNS::Subscription") {
		if props(sub)["Protocol"] == "email" {
			emails = append(emails, props(sub)["Endpoint"].(string))
		}
	}
	if diff := cmp.Diff(s.cfg.Edge.OpsEmails, emails); diff != "" {
		t.Errorf("subscriptions (-want +got):\n%s", diff)
	}
	for _, pol := range resources(tpl, "AWS::SNS::TopicPolicy") {
		if !strings.Contains(toJSON(t, pol), `"aws:SecureTransport":"false"`) {
			t.Errorf("topic policy without TLS enforcement: %s", toJSON(t, pol))
		}
	}
}

func TestEdgeIAM(t *testing.T) {
	_, e, tpl := edge(t)
	byRole := roleStatements(t, tpl)
	tableID := func(role string) string { return logicalID(t, e.Tables.Tables[role]) }
	want := map[string][]string{
		registry.FnWebhookFanout: set(fnCommon, tableWrite, publish,
			[]string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "secretsmanager:GetSecretValue"}),
		// No execute-api:Invoke: the default configuration deploys no
		// region's apiUrl yet (TestEdgeRegionalCalls covers it).
		registry.FnEdgeAPI: set(fnCommon, tableWrite,
			[]string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Scan", "dynamodb:Query"}),
	}
	for fn, actions := range want {
		if diff := cmp.Diff(actions, actionsOf(byRole[logicalID(t, e.Functions[fn].Role)])); diff != "" {
			t.Errorf("role of %s (-want +got):\n%s", fn, diff)
		}
	}
	// Each table's actions are exactly EdgeTableActions, on that table only.
	for fn, access := range EdgeTableActions {
		sts := byRole[logicalID(t, e.Functions[fn].Role)]
		for _, spec := range EdgeTableSpecs {
			var got []string
			for _, st := range sts {
				if strings.Contains(st.Resources, `"`+tableID(spec.Role)+`"`) {
					if strings.Count(st.Resources, `"Fn::GetAtt"`) != 1 {
						t.Errorf("%s: a statement on %s names other resources too: %s", fn, spec.Role, st.Resources)
					}
					got = append(got, st.Actions...)
				}
			}
			sort.Strings(got)
			wantActions := append([]string(nil), access[spec.Role]...)
			sort.Strings(wantActions)
			if diff := cmp.Diff(wantActions, got); diff != "" {
				t.Errorf("%s on %s (-want +got):\n%s", fn, spec.Role, diff)
			}
		}
	}
	// Query, the listings', on each listing index alone: never on a table,
	// which it would read by any key, nor on the quarantine.
	api := byRole[logicalID(t, e.Functions[registry.FnEdgeAPI].Role)]
	var queried []string
	for _, st := range api {
		if !slices.Contains(st.Actions, "dynamodb:Query") {
			if strings.Contains(st.Resources, "/index/") {
				t.Errorf("%v granted on an index: %s", st.Actions, st.Resources)
			}
			continue
		}
		for _, spec := range EdgeTableSpecs {
			if strings.Contains(st.Resources, `"`+tableID(spec.Role)+`"`) {
				queried = append(queried, spec.Role)
			}
		}
		want := toJSON(t, map[string]any{"Fn::Join": []any{"", []any{map[string]any{"Fn::GetAtt": []any{"TABLE", "Arn"}}, "/index/listing"}}})
		if len(st.Actions) != 1 || len(queried) == 0 || st.Resources != strings.Replace(want, "TABLE", tableID(queried[len(queried)-1]), 1) {
			t.Errorf("dynamodb:Query statement %v on %s, want Query alone on one listing index", st.Actions, st.Resources)
		}
	}
	sort.Strings(queried)
	if diff := cmp.Diff([]string{EdgeDeliveries, EdgeGlobal, EdgeTenants}, queried); diff != "" {
		t.Errorf("listing indexes the API may query (-want +got):\n%s", diff)
	}
	fanout := byRole[logicalID(t, e.Functions[registry.FnWebhookFanout].Role)]
	if got := resourcesOf(fanout, "sns:Publish"); got != toJSON(t, map[string]any{"Ref": logicalID(t, e.Ops)}) {
		t.Errorf("sns:Publish on %s", got)
	}
	secret := resourcesOf(fanout, "secretsmanager:GetSecretValue")
	if !strings.Contains(secret, ":secretsmanager:"+*e.Stack.Region()+":") || !strings.HasSuffix(secret, `:secret:lethe/edge/webhooks/*"]]}`) {
		t.Errorf("GetSecretValue on %s", secret)
	}
	if !iamMatch(webhookSecretsPattern(config.EdgeScope), config.WebhookSecretName(config.EdgeScope, "zendesk", "eu-help")+"-AbCdEf") {
		t.Errorf("the edge's secret pattern misses its secrets")
	}
}

// TestEdgeRegionalCalls builds an edge alone for a configuration whose
// regions are deployed: eu on its default endpoint, us behind a custom
// domain, ap not yet.
func TestEdgeRegionalCalls(t *testing.T) {
	s := synth(t)
	cfg := *s.cfg
	cfg.Regions = append([]config.Region(nil), s.cfg.Regions...)
	cfg.Regions[0].APIURL = "https://a1b2c3d4e5.execute-api." + cfg.Regions[0].AWSRegion + ".amazonaws.com/v1/"
	cfg.Regions[1].APIURL = "https://erasure.us.example.com/"
	cfg.Regions[1].Account = "123456789012"
	ap := cfg.Regions[0]
	ap.Name, ap.AWSRegion, ap.APIURL = "ap", "ap-southeast-2", ""
	cfg.Regions = append(cfg.Regions, ap)
	cfg.Edge.OpsEmails = []string{"edge-ops@example.com"}

	outdir, err := os.MkdirTemp("", "lethe-infra-test-edge-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(outdir)
	buildDir, _, err := testBuildDir(s.root, registry.EdgeFunctions)
	if err != nil {
		t.Fatal(err)
	}
	if buildDir != filepath.Join(s.root, "build") {
		defer os.RemoveAll(buildDir)
	}
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outdir)})
	e, err := NewEdgeStack(app, "Edge", EdgeStackProps{
		StackProps: awscdk.StackProps{Env: &awscdk.Environment{Region: jsii.String(cfg.Edge.AWSRegion)}},
		Config:     &cfg, RootDir: s.root, BuildDir: buildDir,
	})
	if err != nil {
		t.Fatal(err)
	}
	awscdk.Aspects_Of(app).Add(nagChecks(), nil)
	tpl := *assertions.Template_FromStack(e.Stack, nil).ToJSON()
	got := resourcesOf(roleStatements(t, tpl)[logicalID(t, e.Functions[registry.FnEdgeAPI].Role)], "execute-api:Invoke")
	var arns []string
	var resourcesJSON []any
	if err := json.Unmarshal([]byte("["+got+"]"), &resourcesJSON); err != nil {
		t.Fatal(err)
	}
	for _, r := range resourcesJSON[0].([]any) {
		arns = append(arns, nagArn(e.Stack, *awscdk.Token_AsString(r, nil)))
	}
	want := []string{
		"arn:<AWS::Partition>:execute-api:" + cfg.Regions[0].AWSRegion + ":<AWS::AccountId>:a1b2c3d4e5/v1/POST/erasures",
		"arn:<AWS::Partition>:execute-api:" + cfg.Regions[0].AWSRegion + ":<AWS::AccountId>:a1b2c3d4e5/v1/GET/erasures/*",
		"arn:<AWS::Partition>:execute-api:" + cfg.Regions[0].AWSRegion + ":<AWS::AccountId>:a1b2c3d4e5/v1/POST/webhooks/*/release",
		"arn:<AWS::Partition>:execute-api:" + cfg.Regions[1].AWSRegion + ":123456789012:*/*/POST/erasures",
		"arn:<AWS::Partition>:execute-api:" + cfg.Regions[1].AWSRegion + ":123456789012:*/*/GET/erasures/*",
		"arn:<AWS::Partition>:execute-api:" + cfg.Regions[1].AWSRegion + ":123456789012:*/*/POST/webhooks/*/release",
	}
	if diff := cmp.Diff(want, arns); diff != "" {
		t.Errorf("execute-api:Invoke resources (-want +got):\n%s", diff)
	}
	if strings.Contains(toJSON(t, tpl), "Fn::ImportValue") {
		t.Error("the edge imports a value from another stack")
	}
	findings := *assertions.Annotations_FromStack(e.Stack).FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
	for _, f := range findings {
		t.Errorf("%s: %v", *f.Id, f.Entry.Data)
	}
	subs := resources(tpl, "AWS::SNS::Subscription")
	if len(subs) != 1 {
		t.Errorf("ops subscriptions = %d, want 1", len(subs))
	}
}

// TestMulticastOfErasureTopicsRefused: a configuration that would multicast
// an erasure request (a person's identifiers) to every region does not
// synthesize.
func TestMulticastOfErasureTopicsRefused(t *testing.T) {
	s := synth(t)
	cfg := *s.cfg
	cfg.Edge.MulticastTopics = []string{"shopify/app/uninstalled", "shopify/customers/redact"}
	app := awscdk.NewApp(nil)
	_, err := NewApp(app, AppProps{Config: &cfg, RootDir: s.root, BuildDir: filepath.Join(s.root, "build")})
	if err == nil || !strings.Contains(err.Error(), "edge.multicastTopics[1]") {
		t.Fatalf("NewApp = %v, want the erasure topic refused", err)
	}
}
