package main

import (
	"encoding/json"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// suppress records why a cdk-nag AwsSolutions finding does not apply to one
// construct and its children. appliesTo narrows an IAM5/IAM4 suppression to
// the exact wildcard or managed policy named, so a new, unexpected wildcard
// on the same role is still reported.
func suppress(construct any, rule, reason string, appliesTo ...string) {
	s := &cdknag.NagPackSuppression{Id: jsii.String("AwsSolutions-" + rule), Reason: jsii.String(reason)}
	if len(appliesTo) > 0 {
		list := make([]any, len(appliesTo))
		for i, a := range appliesTo {
			list[i] = a
		}
		s.AppliesTo = &list
	}
	cdknag.NagSuppressions_AddResourceSuppressions(construct, &[]*cdknag.NagPackSuppression{s}, jsii.Bool(true))
}

// Reasons shared by several suppressions.
const (
	reasonXRay         = "X-Ray's PutTraceSegments/PutTelemetryRecords (and the sampling reads) do not support resource-level permissions; AWS requires Resource \"*\" for them."
	reasonCallbackAuth = "Async subsystems call back outside AWS and cannot sign with SigV4: the callback token (256 random bits, one per request and subsystem, only its hash stored) is their authentication, checked by the api; a wrong one is refused 401 and settles nothing."
	reasonWebhookAuth  = "Integrations (Shopify, Zendesk, ...) cannot sign their webhooks with SigV4 or a token; the function verifies each webhook's HMAC-SHA256 signature over the raw body (with a timestamp and replay window where the provider sends one) against the tenant's secret in constant time before anything else, and rejects it otherwise. The stage is throttled."
	reasonVendedLogs   = "Step Functions log delivery uses the CloudWatch Logs vended-log APIs (CreateLogDelivery, PutResourcePolicy, ...), which do not support resource-level permissions; AWS requires Resource \"*\"."
)

// nagArn is how cdk-nag names a resource in an IAM5 finding
// ("Resource::<this>"): the value resolved to CloudFormation, with Fn::Join
// concatenated and each Ref or GetAtt written <LogicalId> or
// <LogicalId.Attribute> (cdk-nag's flattenCfnReference). Suppressions then
// name the exact wildcard resource they allow, computed from the same value
// the policy uses.
func nagArn(stack awscdk.Stack, value string) string {
	return flattenCfn(stack.Resolve(jsii.String(value)))
}

func flattenCfn(node any) string {
	switch n := node.(type) {
	case nil:
		return ""
	case *string:
		return flattenCfn(*n)
	case string:
		return strings.NewReplacer("${", "<", "}", ">").Replace(n)
	case map[string]any:
		if j, ok := n["Fn::Join"].([]any); ok && len(j) == 2 {
			sep, _ := j[0].(string)
			items, _ := j[1].([]any)
			parts := make([]string, len(items))
			for i, it := range items {
				parts[i] = flattenCfn(it)
			}
			return strings.Join(parts, sep)
		}
		if ref, ok := n["Ref"]; ok {
			return "<" + flattenCfn(ref) + ">"
		}
		if g, ok := n["Fn::GetAtt"].([]any); ok && len(g) == 2 {
			return "<" + flattenCfn(g[0]) + "." + flattenCfn(g[1]) + ">"
		}
	}
	b, _ := json.Marshal(node)
	return string(b)
}
