package main

import (
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/google/go-cmp/cmp"
	"github.com/lethe-erasure/lethe/internal/registry"
)

var (
	fnCommon   = []string{"logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTelemetryRecords", "xray:PutTraceSegments"}
	sfnCommon  = []string{"logs:CreateLogDelivery", "logs:DeleteLogDelivery", "logs:DescribeLogGroups", "logs:DescribeResourcePolicies", "logs:GetLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:UpdateLogDelivery", "xray:GetSamplingRules", "xray:GetSamplingTargets", "xray:PutTelemetryRecords", "xray:PutTraceSegments"}
	tableWrite = []string{"kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"}
	publish    = []string{"sns:Publish", "kms:Decrypt", "kms:GenerateDataKey"}
	// wildcardOK are the only actions AWS requires on Resource "*".
	wildcardOK = map[string]bool{}
)

func init() {
	for _, a := range append(append([]string{}, fnCommon[2:]...), sfnCommon...) {
		wildcardOK[a] = true
	}
}

func set(parts ...[]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range parts {
		for _, a := range p {
			if !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	sort.Strings(out)
	return out
}

func TestIAMActionsPerRole(t *testing.T) {
	forEachRegion(t, func(t *testing.T, s *synthesized, st *RegionalStack, tpl map[string]any) {
		byRole := roleStatements(t, tpl)
		connector := set(fnCommon, []string{"dynamodb:GetItem", "dynamodb:PutItem"}, tableWrite, []string{"secretsmanager:GetSecretValue"}, publish)
		// The await (async-check) completes its wait when a callback came
		// before it armed.
		awaiter := set(connector, []string{"states:SendTaskSuccess", "states:SendTaskFailure"})
		progress := set(fnCommon, []string{"dynamodb:GetItem", "dynamodb:PutItem"}, tableWrite)
		want := map[string][]string{
			registry.FnAPI: set(fnCommon, []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchGetItem", "dynamodb:Query", "states:StartExecution"},
				tableWrite, publish, []string{"secretsmanager:GetSecretValue", "kms:GetPublicKey", "lambda:InvokeFunction", "states:SendTaskSuccess", "states:SendTaskFailure"}),
			registry.FnCertify:        set(fnCommon, []string{"dynamodb:GetItem", "dynamodb:PutItem"}, tableWrite, []string{"kms:Sign", "kms:GetPublicKey"}),
			registry.FnStarter:        set(fnCommon, []string{"dynamodb:UpdateItem"}, tableWrite, []string{"states:StartExecution", "dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams", "sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}),
			registry.FnLoadSubsystems: progress,
			registry.FnReportFailure:  progress,
			registry.FnSyncDelete:     connector,
			// No connector configured here: the progress writes and the
			// escalation mails (connectors_test.go grants the stores).
			registry.FnConnector:     set(progress, publish),
			registry.FnAsyncSubmit:   connector,
			registry.FnAsyncCheck:    awaiter,
			registry.FnRecordOutcome: set(fnCommon, []string{"dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}, tableWrite),
			registry.FnDeadlineWatch: set(fnCommon, []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"}, tableWrite, publish),
		}
		if st.Webhooks != nil {
			want[registry.FnWebhookReceiver] = set(fnCommon, []string{"dynamodb:GetItem", "dynamodb:PutItem"}, tableWrite, publish,
				[]string{"sqs:SendMessage", "secretsmanager:GetSecretValue"})
		}
		for fn, actions := range want {
			got := actionsOf(byRole[cfnID(t, st, st.Functions[fn].Role)])
			if diff := cmp.Diff(actions, got); diff != "" {
				t.Errorf("role of %s (-want +got):\n%s", fn, diff)
			}
		}
		wantMachine := map[string][]string{
			registry.MachineErasure:       set(sfnCommon, publish, []string{"lambda:InvokeFunction", "states:StartExecution", "states:DescribeExecution", "states:StopExecution", "events:PutTargets", "events:PutRule", "events:DescribeRule"}),
			registry.MachineSyncDeletion:  set(sfnCommon, publish, []string{"lambda:InvokeFunction"}),
			registry.MachineAsyncDeletion: set(sfnCommon, publish, []string{"lambda:InvokeFunction"}),
		}
		for m, actions := range wantMachine {
			got := actionsOf(byRole[cfnID(t, st, st.StateMachines[m].Role)])
			if diff := cmp.Diff(actions, got); diff != "" {
				t.Errorf("role of machine %s (-want +got):\n%s", m, diff)
			}
		}
	})
}

// resourcesOf returns the JSON of the resources of the role's statements
// that grant action.
func resourcesOf(sts []statement, action string) string {
	var out []string
	for _, s := range sts {
		for _, a := range s.Actions {
			if a == action {
				out = append(out, s.Resources)
			}
		}
	}
	return strings.Join(out, " ")
}

func TestIAMResourcesAreNamed(t *testing.T) {
	forEachRegion(t, func(t *testing.T, s *synthesized, st *RegionalStack, tpl map[string]any) {
		byRole := roleStatements(t, tpl)
		type check struct {
			role   string
			action string
			want   []string // logical ids that must be the only ones named
		}
		fnID := func(fn string) string { return cfnID(t, st, st.Functions[fn].Function) }
		machineRole := func(m string) string { return cfnID(t, st, st.StateMachines[m].Role) }
		var topicIDs []string
		for _, sub := range st.Region.Subsystems {
			topicIDs = append(topicIDs, cfnID(t, st, st.Topics.Subsystem[sub.Name]))
		}
		var secretIDs []string
		for _, sec := range st.Tokens.Created {
			secretIDs = append(secretIDs, cfnID(t, st, sec))
		}
		checks := []check{
			{machineRole(registry.MachineErasure), "lambda:InvokeFunction", []string{fnID(registry.FnLoadSubsystems), fnID(registry.FnRecordOutcome), fnID(registry.FnCertify)}},
			{machineRole(registry.MachineErasure), "states:StartExecution", []string{cfnID(t, st, st.StateMachines[registry.MachineSyncDeletion].Machine), cfnID(t, st, st.StateMachines[registry.MachineAsyncDeletion].Machine)}},
			{machineRole(registry.MachineErasure), "sns:Publish", []string{cfnID(t, st, st.Topics.Ops)}},
			{machineRole(registry.MachineSyncDeletion), "lambda:InvokeFunction", []string{fnID(registry.FnSyncDelete), fnID(registry.FnConnector), fnID(registry.FnReportFailure)}},
			{machineRole(registry.MachineSyncDeletion), "sns:Publish", topicIDs},
			{machineRole(registry.MachineAsyncDeletion), "lambda:InvokeFunction", []string{fnID(registry.FnAsyncSubmit), fnID(registry.FnAsyncCheck), fnID(registry.FnReportFailure)}},
			{machineRole(registry.MachineAsyncDeletion), "sns:Publish", topicIDs},
			{cfnID(t, st, st.Functions[registry.FnStarter].Role), "states:StartExecution", []string{cfnID(t, st, st.StateMachines.Main().Machine)}},
			{cfnID(t, st, st.Functions[registry.FnAPI].Role), "sns:Publish", []string{cfnID(t, st, st.Topics.Notices)}},
			// Certificates: certify signs, the api reads the public key and
			// invokes certify.
			{cfnID(t, st, st.Functions[registry.FnCertify].Role), "kms:Sign", []string{cfnID(t, st, st.Proof.SigningKey)}},
			{cfnID(t, st, st.Functions[registry.FnAPI].Role), "kms:GetPublicKey", []string{cfnID(t, st, st.Proof.SigningKey)}},
			{cfnID(t, st, st.Functions[registry.FnAPI].Role), "lambda:InvokeFunction", []string{fnID(registry.FnCertify)}},
			{cfnID(t, st, st.Functions[registry.FnAPI].Role), "secretsmanager:GetSecretValue", []string{cfnID(t, st, st.Proof.SubjectKey)}},
		}
		// The api starts the main machine, and it and the await complete
		// the async machine's waits: by the machines' name-built ARNs.
		for role, want := range map[string]map[string]string{
			cfnID(t, st, st.Functions[registry.FnAPI].Role): {"states:StartExecution": st.StateMachines.Main().Name,
				"states:SendTaskSuccess": st.StateMachines[registry.MachineAsyncDeletion].Name, "states:SendTaskFailure": st.StateMachines[registry.MachineAsyncDeletion].Name},
			cfnID(t, st, st.Functions[registry.FnAsyncCheck].Role): {"states:SendTaskSuccess": st.StateMachines[registry.MachineAsyncDeletion].Name,
				"states:SendTaskFailure": st.StateMachines[registry.MachineAsyncDeletion].Name},
		} {
			for action, name := range want {
				if got := resourcesOf(byRole[role], action); !strings.HasSuffix(got, `:stateMachine:`+name+`"]]}`) {
					t.Errorf("%s %s on %s, want only %s", role, action, got, name)
				}
			}
		}
		// kms:Sign with the signing key is certify's alone.
		for role, sts := range byRole {
			if role != cfnID(t, st, st.Functions[registry.FnCertify].Role) && resourcesOf(sts, "kms:Sign") != "" {
				t.Errorf("role %s may sign certificates", role)
			}
		}
		for _, fn := range connectors {
			checks = append(checks, check{cfnID(t, st, st.Functions[fn].Role), "secretsmanager:GetSecretValue", secretIDs},
				check{cfnID(t, st, st.Functions[fn].Role), "sns:Publish", topicIDs})
		}
		allIDs := map[string]bool{}
		for id := range tpl["Resources"].(map[string]any) {
			allIDs[id] = true
		}
		for _, c := range checks {
			got := resourcesOf(byRole[c.role], c.action)
			if got == "" {
				t.Errorf("%s: no %s", c.role, c.action)
				continue
			}
			wanted := map[string]bool{}
			for _, id := range c.want {
				wanted[id] = true
				if !strings.Contains(got, `"`+id+`"`) {
					t.Errorf("%s %s does not name %s: %s", c.role, c.action, id, got)
				}
			}
			for id := range allIDs {
				if !wanted[id] && strings.Contains(got, `"`+id+`"`) {
					t.Errorf("%s %s also names %s: %s", c.role, c.action, id, got)
				}
			}
		}
		// The .sync wait: describe/stop only the child machines' executions,
		// and the one managed EventBridge rule.
		erasure := byRole[machineRole(registry.MachineErasure)]
		for _, child := range []string{registry.MachineSyncDeletion, registry.MachineAsyncDeletion} {
			if got := resourcesOf(erasure, "states:DescribeExecution"); !strings.Contains(got, ":execution:"+st.StateMachines[child].Name+":*") {
				t.Errorf("DescribeExecution resources %s lack the executions of %s", got, child)
			}
		}
		if got := resourcesOf(erasure, "events:PutRule"); !strings.Contains(got, ":rule/StepFunctionsGetEventsForStepFunctionsExecutionRule") || strings.Contains(got, `rule/*`) {
			t.Errorf("events:PutRule resources = %s", got)
		}
	})
}

func TestNoWildcardActions(t *testing.T) {
	forEachStack(t, func(t *testing.T, s *synthesized, stack awscdk.Stack, tpl map[string]any) {
		for role, sts := range roleStatements(t, tpl) {
			for _, s := range sts {
				for _, a := range s.Actions {
					if strings.Contains(a, "*") {
						t.Errorf("role %s has wildcard action %q", role, a)
					}
					if s.Resources == `"*"` && !wildcardOK[a] {
						t.Errorf("role %s grants %s on Resource *", role, a)
					}
					if a == "kms:Sign" || a == "kms:GetPublicKey" {
						// The certificate key is used directly, and only it.
						if !strings.HasPrefix(s.Resources, `{"Fn::GetAtt":["ProofSigning`) {
							t.Errorf("role %s uses %s on %s", role, a, s.Resources)
						}
						continue
					}
					if strings.HasPrefix(a, "kms:") && !strings.Contains(s.Condition, "kms:ViaService") {
						t.Errorf("role %s uses KMS (%s) outside a kms:ViaService condition", role, a)
					}
				}
			}
		}
	})
}
