package main

import (
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
	reasonXRay       = "X-Ray's PutTraceSegments/PutTelemetryRecords (and the sampling reads) do not support resource-level permissions; AWS requires Resource \"*\" for them."
	reasonVendedLogs = "Step Functions log delivery uses the CloudWatch Logs vended-log APIs (CreateLogDelivery, PutResourcePolicy, ...), which do not support resource-level permissions; AWS requires Resource \"*\"."
)
