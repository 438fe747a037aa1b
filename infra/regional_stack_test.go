package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/google/go-cmp/cmp"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/registry"
)

// resources returns the template's resources of one type by logical id.
func resources(tpl map[string]any, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range tpl["Resources"].(map[string]any) {
		res := r.(map[string]any)
		if res["Type"] == typ {
			out[id] = res
		}
	}
	return out
}

func props(res map[string]any) map[string]any {
	p, _ := res["Properties"].(map[string]any)
	return p
}

func toJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func strs(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// statement is one IAM policy statement, with its resources as JSON.
type statement struct {
	Actions   []string
	Resources string
	Condition string
}

// roleStatements returns, per role logical id, the statements of every
// AWS::IAM::Policy attached to it and of its inline policies.
func roleStatements(t *testing.T, tpl map[string]any) map[string][]statement {
	t.Helper()
	out := map[string][]statement{}
	add := func(role string, doc any) {
		for _, s := range doc.(map[string]any)["Statement"].([]any) {
			st := s.(map[string]any)
			out[role] = append(out[role], statement{Actions: strs(st["Action"]), Resources: toJSON(t, st["Resource"]), Condition: toJSON(t, st["Condition"])})
		}
	}
	for _, p := range resources(tpl, "AWS::IAM::Policy") {
		for _, r := range props(p)["Roles"].([]any) {
			add(r.(map[string]any)["Ref"].(string), props(p)["PolicyDocument"])
		}
	}
	for id, r := range resources(tpl, "AWS::IAM::Role") {
		if pols, ok := props(r)["Policies"].([]any); ok {
			for _, p := range pols {
				add(id, p.(map[string]any)["PolicyDocument"])
			}
		}
	}
	return out
}

func actionsOf(sts []statement) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range sts {
		for _, a := range s.Actions {
			if !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	sort.Strings(out)
	return out
}

// cfnID is the logical id of a construct's CloudFormation resource in a
// regional stack.
func cfnID(t *testing.T, st *RegionalStack, c constructs.IConstruct) string {
	t.Helper()
	return logicalID(t, c)
}

// logicalID is the logical id of a construct's CloudFormation resource in
// its stack.
func logicalID(t *testing.T, c constructs.IConstruct) string {
	t.Helper()
	el, ok := c.Node().DefaultChild().(awscdk.CfnElement)
	if !ok {
		t.Fatalf("%s has no CloudFormation resource", *c.Node().Path())
	}
	return *awscdk.Stack_Of(c).GetLogicalId(el)
}

func forEachRegion(t *testing.T, f func(t *testing.T, s *synthesized, st *RegionalStack, tpl map[string]any)) {
	s := synth(t)
	for _, r := range s.cfg.Regions {
		t.Run(r.Name, func(t *testing.T) { f(t, s, s.stacks[r.Name], s.json[r.Name]) })
	}
}

// forEachStack runs f on every stack of the app: each region's and the
// edge's.
func forEachStack(t *testing.T, f func(t *testing.T, s *synthesized, stack awscdk.Stack, tpl map[string]any)) {
	s := synth(t)
	for _, r := range s.cfg.Regions {
		t.Run(r.Name, func(t *testing.T) { f(t, s, s.stacks[r.Name].Stack, s.json[r.Name]) })
	}
	if s.edge != nil {
		t.Run(config.EdgeScope, func(t *testing.T) { f(t, s, s.edge.Stack, s.json[config.EdgeScope]) })
	}
}

func TestOneStackPerRegion(t *testing.T) {
	s := synth(t)
	if len(s.stacks) != len(s.cfg.Regions) {
		t.Fatalf("stacks = %d, regions = %d", len(s.stacks), len(s.cfg.Regions))
	}
	for _, r := range s.cfg.Regions {
		st := s.stacks[r.Name].Stack
		if got := *st.StackName(); got != "Lethe-"+r.Name {
			t.Errorf("stack name = %q, want Lethe-%s", got, r.Name)
		}
		if got := *st.Region(); got != r.AWSRegion {
			t.Errorf("stack %s region = %q, want %q", r.Name, got, r.AWSRegion)
		}
		tags := st.Tags().TagValues()
		if *(*tags)["app"] != "lethe" || *(*tags)["lethe:region"] != r.Name {
			t.Errorf("stack %s tags = app:%v lethe:region:%v", r.Name, *(*tags)["app"], *(*tags)["lethe:region"])
		}
	}
}

func TestResourceCounts(t *testing.T) {
	forEachRegion(t, func(t *testing.T, s *synthesized, st *RegionalStack, tpl map[string]any) {
		secrets, emails := 0, 0
		for _, sub := range st.Region.Subsystems {
			if sub.Token.Kind == config.TokenSecretsManager && sub.Token.Name == "" {
				secrets++
			}
			emails += len(sub.AdminEmails)
		}
		emails += len(st.Region.OpsEmails)
		secrets++ // the subject key
		// The intake's four routes, the operators' five (retry, extension,
		// subject, attestation, audit), the suppression check, the
		// certificate, the keys and the callbacks.
		queues, methods := 1, 13
		if st.Webhooks != nil {
			queues, methods = 3, 17 // the webhook queue and its DLQ; POST /webhooks and its release, PUT and GET /tenants
		}
		template := s.templates[st.Region.Name]
		for typ, want := range map[string]int{
			"AWS::Lambda::Function":            len(registry.Functions),
			"AWS::DynamoDB::Table":             1,
			"AWS::SNS::Topic":                  len(st.Region.Subsystems) + 2, // and ops, subject notices
			"AWS::SNS::Subscription":           emails,
			"AWS::StepFunctions::StateMachine": len(registry.Machines),
			"AWS::SecretsManager::Secret":      secrets,
			"AWS::Lambda::EventSourceMapping":  1,
			"AWS::SQS::Queue":                  queues,
			"AWS::ApiGateway::RestApi":         1,
			"AWS::ApiGateway::Method":          methods,
			"AWS::KMS::Key":                    3, // data, logs, certificate signing
		} {
			check(t, typ+" count", func() { template.ResourceCountIs(jsii.String(typ), jsii.Number(float64(want))) })
		}
	})
}

func TestRequestsTable(t *testing.T) {
	forEachRegion(t, func(t *testing.T, s *synthesized, st *RegionalStack, tpl map[string]any) {
		check(t, "AWS::DynamoDB::Table", func() {
			s.templates[st.Region.Name].HasResource(jsii.String("AWS::DynamoDB::Table"), &map[string]any{
				"DeletionPolicy":      "Retain",
				"UpdateReplacePolicy": "Retain",
				"Properties": map[string]any{
					"BillingMode":                      "PAY_PER_REQUEST",
					"DeletionProtectionEnabled":        true,
					"KeySchema":                        []any{map[string]any{"AttributeName": "pk", "KeyType": "HASH"}},
					"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
					"SSESpecification": map[string]any{
						"SSEEnabled": true, "SSEType": "KMS",
						"KMSMasterKeyId": map[string]any{"Fn::GetAtt": []any{cfnID(t, st, st.Keys.Data), "Arn"}},
					},
					"StreamSpecification":     map[string]any{"StreamViewType": "NEW_IMAGE"},
					"TimeToLiveSpecification": map[string]any{"AttributeName": "expiresAt", "Enabled": true},
					"GlobalSecondaryIndexes": []any{map[string]any{
						"IndexName": "recent",
						"KeySchema": []any{
							map[string]any{"AttributeName": "kind", "KeyType": "HASH"},
							map[string]any{"AttributeName": "pk", "KeyType": "RANGE"},
						},
						"Projection": map[string]any{"ProjectionType": "ALL"},
					}, map[string]any{
						"IndexName": "open",
						"KeySchema": []any{
							map[string]any{"AttributeName": "open", "KeyType": "HASH"},
							map[string]any{"AttributeName": "deadline", "KeyType": "RANGE"},
						},
						"Projection": map[string]any{"ProjectionType": "ALL"},
					}},
				},
			})
		})
		for _, key := range resources(tpl, "AWS::KMS::Key") {
			// KMS rotates symmetric keys only; the signing key is ECC.
			if spec := props(key)["KeySpec"]; spec != nil && spec != "SYMMETRIC_DEFAULT" {
				continue
			}
			if props(key)["EnableKeyRotation"] != true {
				t.Errorf("KMS key without rotation: %v", props(key)["Description"])
			}
		}
	})
}

func TestFunctions(t *testing.T) {
	forEachRegion(t, func(t *testing.T, s *synthesized, st *RegionalStack, tpl map[string]any) {
		check(t, "AWS::Lambda::Function", func() {
			s.templates[st.Region.Name].AllResourcesProperties(jsii.String("AWS::Lambda::Function"), &map[string]any{
				"Architectures": []any{"arm64"},
				"Runtime":       "provided.al2023",
				"Handler":       "bootstrap",
				"MemorySize":    256,
				"TracingConfig": map[string]any{"Mode": "Active"},
				"Environment": map[string]any{"Variables": assertions.Match_ObjectLike(&map[string]any{
					"LETHE_REGION": st.Region.Name,
				})},
			})
		})
		want := map[string][]string{
			registry.FnAPI: {config.EnvTableName, config.EnvStateMachineArn, config.EnvNoticesTopicArn, config.EnvSubjectKeySecretArn,
				config.EnvSigningKeyArn, config.EnvCertifyFunction},
			// certify signs with the region's signing key.
			registry.FnCertify:        {config.EnvTableName, config.EnvSigningKeyArn},
			registry.FnStarter:        {config.EnvTableName, config.EnvStateMachineArn},
			registry.FnLoadSubsystems: {config.EnvTableName, config.EnvTopicArns},
			registry.FnSyncDelete:     {config.EnvTableName},
			registry.FnConnector:      {config.EnvTableName},
			registry.FnAsyncSubmit:    {config.EnvTableName, config.EnvCallbackURL},
			registry.FnAsyncCheck:     {config.EnvTableName},
			registry.FnRecordOutcome:  {config.EnvTableName},
			registry.FnReportFailure:  {config.EnvTableName},
			// The receiver files erasures (table), alerts ops on a misrouted
			// tenant and queues other topics.
			registry.FnWebhookReceiver: {config.EnvTableName, config.EnvOpsTopicArn, config.EnvWebhookQueueURL, config.EnvSubjectKeySecretArn},
			// The deadline watch reads the open index and mails ops.
			registry.FnDeadlineWatch: {config.EnvTableName, config.EnvOpsTopicArn},
		}
		functions := resources(tpl, "AWS::Lambda::Function")
		for _, fn := range registry.Functions {
			f, ok := st.Functions[fn]
			if !ok {
				t.Errorf("function %s not built", fn)
				continue
			}
			res := functions[cfnID(t, st, f.Function)]
			p := props(res)
			if p["FunctionName"] != FunctionName(st.Region.Name, fn) {
				t.Errorf("%s: FunctionName = %v", fn, p["FunctionName"])
			}
			vars := p["Environment"].(map[string]any)["Variables"].(map[string]any)
			var names []string
			for k := range vars {
				names = append(names, k)
			}
			sort.Strings(names)
			wantNames := append([]string{config.EnvRegion, config.EnvConfig}, want[fn]...)
			sort.Strings(wantNames)
			if diff := cmp.Diff(wantNames, names); diff != "" {
				t.Errorf("%s environment (-want +got):\n%s", fn, diff)
			}
			// LETHE_CONFIG is this region alone, as the functions parse it.
			cfgJSON, _ := vars[config.EnvConfig].(string)
			c, region, err := config.FromEnv(cfgJSON)
			if err != nil {
				t.Errorf("%s: LETHE_CONFIG: %v", fn, err)
			} else if region.Name != st.Region.Name || len(c.Regions) != 1 {
				t.Errorf("%s: LETHE_CONFIG holds %v", fn, c.Regions)
			}
			// Its own log group, encrypted, with a retention.
			lg := resources(tpl, "AWS::Logs::LogGroup")[cfnID(t, st, f.LogGroup)]
			if lp := props(lg); lp["KmsKeyId"] == nil || lp["RetentionInDays"] == nil {
				t.Errorf("%s log group: %v", fn, lp)
			}
			if toJSON(t, p["LoggingConfig"]) != toJSON(t, map[string]any{"LogGroup": map[string]any{"Ref": cfnID(t, st, f.LogGroup)}}) {
				t.Errorf("%s LoggingConfig = %v", fn, p["LoggingConfig"])
			}
		}
	})
}

func TestStarterEventSource(t *testing.T) {
	forEachRegion(t, func(t *testing.T, s *synthesized, st *RegionalStack, tpl map[string]any) {
		for _, m := range resources(tpl, "AWS::Lambda::EventSourceMapping") {
			p := props(m)
			if got := toJSON(t, p["FunctionResponseTypes"]); got != `["ReportBatchItemFailures"]` {
				t.Errorf("FunctionResponseTypes = %s", got)
			}
			if p["BisectBatchOnFunctionError"] != true || p["MaximumRetryAttempts"] != float64(StarterRetryAttempts) {
				t.Errorf("bisect/retries = %v/%v", p["BisectBatchOnFunctionError"], p["MaximumRetryAttempts"])
			}
			if p["StartingPosition"] != "TRIM_HORIZON" {
				t.Errorf("StartingPosition = %v", p["StartingPosition"])
			}
			if got, want := toJSON(t, p["EventSourceArn"]), toJSON(t, map[string]any{"Fn::GetAtt": []any{cfnID(t, st, st.Table.Table), "StreamArn"}}); got != want {
				t.Errorf("EventSourceArn = %s, want %s", got, want)
			}
			if got, want := toJSON(t, p["DestinationConfig"]), toJSON(t, map[string]any{"OnFailure": map[string]any{
				"Destination": map[string]any{"Fn::GetAtt": []any{cfnID(t, st, st.Starter.FailureQueue), "Arn"}}}}); got != want {
				t.Errorf("DestinationConfig = %s, want %s", got, want)
			}
			filters := p["FilterCriteria"].(map[string]any)["Filters"].([]any)
			if len(filters) != 1 {
				t.Fatalf("filters = %v", filters)
			}
			var pattern any
			if err := json.Unmarshal([]byte(filters[0].(map[string]any)["Pattern"].(string)), &pattern); err != nil {
				t.Fatal(err)
			}
			want := map[string]any{
				"eventName": []any{"INSERT"},
				"dynamodb":  map[string]any{"NewImage": map[string]any{"kind": map[string]any{"S": []any{"request"}}}},
			}
			if diff := cmp.Diff(want, pattern); diff != "" {
				t.Errorf("filter pattern (-want +got):\n%s", diff)
			}
		}
		q := props(resources(tpl, "AWS::SQS::Queue")[cfnID(t, st, st.Starter.FailureQueue)])
		if q["SqsManagedSseEnabled"] != true {
			t.Errorf("failure queue not encrypted: %v", q)
		}
		if pol := toJSON(t, resources(tpl, "AWS::SQS::QueuePolicy")); !strings.Contains(pol, `"aws:SecureTransport":"false"`) {
			t.Errorf("failure queue does not enforce TLS: %s", pol)
		}
		check(t, "AWS::CloudWatch::Alarm", func() {
			s.templates[st.Region.Name].HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), &map[string]any{
				"AlarmActions": []any{map[string]any{"Ref": cfnID(t, st, st.Topics.Ops)}},
			})
		})
	})
}

func TestTopicsAndTokens(t *testing.T) {
	forEachRegion(t, func(t *testing.T, s *synthesized, st *RegionalStack, tpl map[string]any) {
		topics := resources(tpl, "AWS::SNS::Topic")
		subs := resources(tpl, "AWS::SNS::Subscription")
		for _, sub := range st.Region.Subsystems {
			id := cfnID(t, st, st.Topics.Subsystem[sub.Name])
			p := props(topics[id])
			if p["TopicName"] != SubsystemTopicName(st.Region.Name, sub.Name) || p["KmsMasterKeyId"] == nil {
				t.Errorf("topic of %s: %v", sub.Name, p)
			}
			var emails []string
			for _, sp := range subs {
				if toJSON(t, props(sp)["TopicArn"]) == toJSON(t, map[string]any{"Ref": id}) && props(sp)["Protocol"] == "email" {
					emails = append(emails, props(sp)["Endpoint"].(string))
				}
			}
			sort.Strings(emails)
			want := slices.Clone(sub.AdminEmails)
			sort.Strings(want)
			if diff := cmp.Diff(want, emails); diff != "" {
				t.Errorf("subscriptions of %s (-want +got):\n%s", sub.Name, diff)
			}
		}
		opsID := cfnID(t, st, st.Topics.Ops)
		if p := props(topics[opsID]); p["TopicName"] != OpsTopicName(st.Region.Name) || p["KmsMasterKeyId"] == nil {
			t.Errorf("ops topic: %v", p)
		}
		// The subject-notices topic: encrypted with the region's data key,
		// and no subscription of Lethe's (the product subscribes).
		noticesID := cfnID(t, st, st.Topics.Notices)
		if p := props(topics[noticesID]); p["TopicName"] != NoticesTopicName(st.Region.Name) ||
			toJSON(t, p["KmsMasterKeyId"]) != toJSON(t, map[string]any{"Fn::GetAtt": []any{cfnID(t, st, st.Keys.Data), "Arn"}}) {
			t.Errorf("notices topic: %v", p)
		}
		for _, sp := range subs {
			if toJSON(t, props(sp)["TopicArn"]) == toJSON(t, map[string]any{"Ref": noticesID}) {
				t.Errorf("the notices topic has a subscription: %v", props(sp))
			}
		}
		var ops []string
		for _, sp := range subs {
			if toJSON(t, props(sp)["TopicArn"]) == toJSON(t, map[string]any{"Ref": opsID}) && props(sp)["Protocol"] == "email" {
				ops = append(ops, props(sp)["Endpoint"].(string))
			}
		}
		if diff := cmp.Diff(st.Region.OpsEmails, ops); diff != "" || len(ops) == 0 {
			t.Errorf("ops subscriptions (-want +got):\n%s", diff)
		}
		for _, pol := range resources(tpl, "AWS::SNS::TopicPolicy") {
			if !strings.Contains(toJSON(t, pol), `"aws:SecureTransport":"false"`) {
				t.Errorf("topic policy without TLS enforcement: %s", toJSON(t, pol))
			}
		}
		var names []string
		for _, sec := range resources(tpl, "AWS::SecretsManager::Secret") {
			names = append(names, props(sec)["Name"].(string))
			if props(sec)["KmsKeyId"] == nil {
				t.Errorf("secret %v not encrypted with the data key", props(sec)["Name"])
			}
		}
		sort.Strings(names)
		var want []string
		for _, sub := range st.Region.Subsystems {
			want = append(want, config.DefaultTokenName(st.Region.Name, sub.Name))
		}
		want = append(want, "lethe/"+st.Region.Name+"/subject-key")
		sort.Strings(want)
		if diff := cmp.Diff(want, names); diff != "" {
			t.Errorf("secrets (-want +got):\n%s", diff)
		}
	})
}

func TestStateMachines(t *testing.T) {
	forEachRegion(t, func(t *testing.T, s *synthesized, st *RegionalStack, tpl map[string]any) {
		machines := resources(tpl, "AWS::StepFunctions::StateMachine")
		logGroups := resources(tpl, "AWS::Logs::LogGroup")
		for _, m := range registry.Machines {
			sm, ok := st.StateMachines[m.Name]
			if !ok {
				t.Fatalf("machine %s not built", m.Name)
			}
			p := props(machines[cfnID(t, st, sm.Machine)])
			if p["StateMachineName"] != fmt.Sprintf("Lethe-%s-%s", st.Region.Name, m.Title) || p["StateMachineType"] != "STANDARD" {
				t.Errorf("%s: name/type = %v/%v", m.Name, p["StateMachineName"], p["StateMachineType"])
			}
			file, err := os.ReadFile(filepath.Join(s.root, "statemachines", m.Name+".asl.json"))
			if err != nil {
				t.Fatal(err)
			}
			definition, _ := p["DefinitionString"].(string)
			if definition != string(file) {
				t.Errorf("%s: DefinitionString is not the file's content", m.Name)
			}
			subs, _ := p["DefinitionSubstitutions"].(map[string]any)
			var keys []string
			for k, v := range subs {
				keys = append(keys, k)
				// Every value is a deployed resource of this stack.
				if j := toJSON(t, v); !strings.Contains(j, `"Ref"`) && !strings.Contains(j, `"Fn::GetAtt"`) {
					t.Errorf("%s: ${%s} = %s is not a resource reference", m.Name, k, j)
				}
			}
			sort.Strings(keys)
			if diff := cmp.Diff(registry.Find(string(file)), keys); diff != "" {
				t.Errorf("%s: DefinitionSubstitutions keys vs placeholders of the file (-file +template):\n%s", m.Name, diff)
			}
			// What CloudFormation will deploy: nothing of the form ${...} left.
			filled := definition
			for k := range subs {
				filled = strings.ReplaceAll(filled, "${"+k+"}", "arn:substituted")
			}
			if strings.Contains(filled, "${") {
				t.Errorf("%s: unsubstituted placeholder left: %v", m.Name, regexp.MustCompile(`\$\{[^}]*\}`).FindAllString(filled, -1))
			}
			if got := toJSON(t, p["TracingConfiguration"]); got != `{"Enabled":true}` {
				t.Errorf("%s: tracing = %s", m.Name, got)
			}
			lc := p["LoggingConfiguration"].(map[string]any)
			if lc["Level"] != "ALL" || lc["IncludeExecutionData"] != false {
				t.Errorf("%s: logging = %v", m.Name, lc)
			}
			lg := props(logGroups[cfnID(t, st, sm.LogGroup)])
			if lg["KmsKeyId"] == nil || lg["RetentionInDays"] == nil {
				t.Errorf("%s: log group = %v", m.Name, lg)
			}
		}
	})
}

func TestSubstitutionsFailOnUnknownPlaceholder(t *testing.T) {
	tests := []struct {
		name       string
		definition string
		values     map[string]string
		want       map[string]string
		wantErr    string
	}{
		{"all known", `{"a":"${A}","b":"${B}","a2":"${A}"}`, map[string]string{"A": "1", "B": "2", "C": "3"}, map[string]string{"A": "1", "B": "2"}, ""},
		{"none", `{"a":"x"}`, map[string]string{"A": "1"}, map[string]string{}, ""},
		{"missing one", `{"a":"${A}","m":"${Missing}"}`, map[string]string{"A": "1"}, nil, "Missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := substitutionsFor(tt.definition, tt.values)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestAPI(t *testing.T) {
	forEachRegion(t, func(t *testing.T, s *synthesized, st *RegionalStack, tpl map[string]any) {
		for _, api := range resources(tpl, "AWS::ApiGateway::RestApi") {
			// Webhook bodies must reach the receiver byte for byte.
			if got := toJSON(t, props(api)["BinaryMediaTypes"]); got != `["*/*"]` {
				t.Errorf("BinaryMediaTypes = %s, want every type passed as binary", got)
			}
		}
		apiResources := resources(tpl, "AWS::ApiGateway::Resource")
		var pathOf func(ref any) string
		pathOf = func(ref any) string {
			m, ok := ref.(map[string]any)
			if !ok {
				return ""
			}
			id, ok := m["Ref"].(string)
			if !ok { // Fn::GetAtt RootResourceId
				return ""
			}
			r := props(apiResources[id])
			return pathOf(r["ParentId"]) + "/" + r["PathPart"].(string)
		}
		fnArn := func(fn string) string {
			return toJSON(t, map[string]any{"Fn::GetAtt": []any{cfnID(t, st, st.Functions[fn].Function), "Arn"}})
		}
		var routes []string
		for id, m := range resources(tpl, "AWS::ApiGateway::Method") {
			p := props(m)
			route := p["HttpMethod"].(string) + " " + pathOf(p["ResourceId"])
			routes = append(routes, route)
			// Only the webhook receiver's route and the callbacks are
			// without IAM: providers and subsystems cannot SigV4; the
			// receiver verifies the HMAC signature, the api the callback
			// token.
			wantAuth, wantFn := "AWS_IAM", registry.FnAPI
			switch route {
			case "POST /callbacks":
				wantAuth = "NONE"
			case "POST /webhooks/{provider}":
				wantAuth, wantFn = "NONE", registry.FnWebhookReceiver
			case "POST /webhooks/{provider}/release":
				wantFn = registry.FnWebhookReceiver
			}
			if p["AuthorizationType"] != wantAuth {
				t.Errorf("%s %s: AuthorizationType = %v, want %s", id, route, p["AuthorizationType"], wantAuth)
			}
			if p["RequestValidatorId"] == nil {
				t.Errorf("%s: no request validator", id)
			}
			integ := p["Integration"].(map[string]any)
			if integ["Type"] != "AWS_PROXY" || !strings.Contains(toJSON(t, integ["Uri"]), fnArn(wantFn)) {
				t.Errorf("%s %s: integration = %s, want %s", id, route, toJSON(t, integ), wantFn)
			}
		}
		sort.Strings(routes)
		want := []string{"DELETE /api/user/{id}", "GET /audit", "GET /erasures", "GET /erasures/{requestId}", "GET /erasures/{requestId}/subject",
			"GET /erasures/{requestId}/certificate", "GET /keys", "POST /callbacks",
			"POST /erasures", "POST /erasures/{requestId}/extension", "POST /erasures/{requestId}/retry", "POST /erasures/{requestId}/subsystems/{name}/attestation",
			"POST /suppressions/check"}
		if st.Webhooks != nil {
			want = append(want, "GET /tenants/{tenant}", "POST /webhooks/{provider}", "POST /webhooks/{provider}/release", "PUT /tenants/{tenant}")
			sort.Strings(want)
		}
		if diff := cmp.Diff(want, routes); diff != "" {
			t.Errorf("routes (-want +got):\n%s", diff)
		}
		for _, stage := range resources(tpl, "AWS::ApiGateway::Stage") {
			p := props(stage)
			settings := toJSON(t, p["MethodSettings"])
			if !strings.Contains(settings, fmt.Sprintf(`"ThrottlingRateLimit":%d`, APIThrottleRate)) || !strings.Contains(settings, fmt.Sprintf(`"ThrottlingBurstLimit":%d`, APIThrottleBurst)) {
				t.Errorf("stage throttling = %s", settings)
			}
			if st.Webhooks != nil {
				var webhook map[string]any
				for _, ms := range p["MethodSettings"].([]any) {
					if m := ms.(map[string]any); m["ResourcePath"] == "/~1webhooks~1{provider}" && m["HttpMethod"] == "POST" {
						webhook = m
					}
				}
				if webhook["ThrottlingRateLimit"] != float64(WebhookThrottleRate) || webhook["ThrottlingBurstLimit"] != float64(WebhookThrottleBurst) ||
					webhook["LoggingLevel"] != "OFF" || webhook["DataTraceEnabled"] != false {
					t.Errorf("webhook route settings = %v (in %s)", webhook, settings)
				}
			}
			als := p["AccessLogSetting"].(map[string]any)
			format := als["Format"].(string)
			var line map[string]any
			if err := json.Unmarshal([]byte(format), &line); err != nil {
				t.Errorf("access log format is not JSON: %v", err)
			}
			// The path of DELETE /api/user/{id} is the subject id.
			for _, leak := range []string{"$context.path", "$input.body", "$context.error.message\""} {
				if strings.Contains(format, leak) {
					t.Errorf("access log format records %s", leak)
				}
			}
			if toJSON(t, als["DestinationArn"]) != toJSON(t, map[string]any{"Fn::GetAtt": []any{cfnID(t, st, st.API.AccessLog), "Arn"}}) {
				t.Errorf("access log destination = %v", als["DestinationArn"])
			}
		}
		if lg := props(resources(tpl, "AWS::Logs::LogGroup")[cfnID(t, st, st.API.AccessLog)]); lg["KmsKeyId"] == nil || lg["RetentionInDays"] == nil {
			t.Errorf("access log group = %v", lg)
		}
		check(t, "AWS::ApiGateway::RequestValidator", func() {
			s.templates[st.Region.Name].HasResourceProperties(jsii.String("AWS::ApiGateway::RequestValidator"), &map[string]any{
				"ValidateRequestBody": true, "ValidateRequestParameters": true,
			})
		})
	})
}

func TestOutputs(t *testing.T) {
	forEachRegion(t, func(t *testing.T, s *synthesized, st *RegionalStack, tpl map[string]any) {
		outputs := tpl["Outputs"].(map[string]any)
		names := []string{"ApiUrl", "RequestsTableName", "ErasureStateMachineArn"}
		if st.Webhooks != nil {
			names = append(names, "WebhookQueueUrl", "WebhookQueueArn")
		}
		for _, name := range names {
			if _, ok := outputs[name]; !ok {
				t.Errorf("output %s missing", name)
			}
		}
		if got, want := toJSON(t, outputs["ErasureStateMachineArn"].(map[string]any)["Value"]), toJSON(t, map[string]any{"Ref": cfnID(t, st, st.StateMachines.Main().Machine)}); got != want {
			t.Errorf("ErasureStateMachineArn = %s, want %s", got, want)
		}
	})
}
