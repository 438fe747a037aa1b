package main

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// KeysProps configures the regional stack's KMS keys.
type KeysProps struct {
	// RegionName is Lethe's short name of the region (eu, us, ...).
	RegionName string
	// AWSRegion is the AWS region the keys live in; the logs service
	// principal is regional.
	AWSRegion string
	// DataPurpose says what the data key encrypts, for the key's
	// description an auditor reads in the KMS console.
	DataPurpose string
}

// Keys are the region's two customer-managed keys, both rotated yearly.
// Data holds what Lethe keeps about people and subsystems (the Requests
// table with subject ids, the subsystems' bearer tokens, the failure
// topics); Logs encrypts every log group. A customer-managed key rather than
// an AWS-managed one lets the privacy team restrict and audit decryption of
// subject ids in one key policy and disable the key if the data must become
// unreadable.
type Keys struct {
	Data awskms.Key
	Logs awskms.Key
}

// NewKeys creates the data and logs keys.
func NewKeys(scope constructs.Construct, id string, p KeysProps) Keys {
	c := constructs.NewConstruct(scope, jsii.String(id))
	data := awskms.NewKey(c, jsii.String("Data"), &awskms.KeyProps{
		Alias:             jsii.String(fmt.Sprintf("alias/lethe/%s/data", p.RegionName)),
		Description:       jsii.String(fmt.Sprintf("Lethe %s: %s", p.RegionName, p.DataPurpose)),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
	})
	// CloudWatch alarms publish to the encrypted ops topic as the
	// cloudwatch.amazonaws.com service, which needs the key (SNS encryption
	// docs: "Enable compatibility between event sources and encrypted topics").
	data.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AllowCloudWatchAlarmsToPublishToEncryptedTopics"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{
			"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()},
		},
	}), nil)

	logs := awskms.NewKey(c, jsii.String("Logs"), &awskms.KeyProps{
		Alias:             jsii.String(fmt.Sprintf("alias/lethe/%s/logs", p.RegionName)),
		Description:       jsii.String(fmt.Sprintf("Lethe %s: CloudWatch log groups", p.RegionName)),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
	})
	// CloudWatch Logs encrypts with the key as the regional logs service
	// principal, only for this account's log groups (CloudWatch Logs user
	// guide, "Encrypt log data in CloudWatch Logs using AWS KMS").
	logs.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AllowCloudWatchLogsOfThisAccount"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("logs."+p.AWSRegion+".amazonaws.com"), nil)},
		Actions: jsii.Strings("kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo",
			"kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey"),
		Resources: jsii.Strings("*"),
		Conditions: &map[string]any{
			"ArnLike": map[string]any{
				"kms:EncryptionContext:aws:logs:arn": awscdk.Fn_Join(jsii.String(""), &[]*string{
					jsii.String("arn:"), awscdk.Aws_PARTITION(), jsii.String(":logs:" + p.AWSRegion + ":"),
					awscdk.Aws_ACCOUNT_ID(), jsii.String(":log-group:*"),
				}),
			},
		},
	}), nil)
	return Keys{Data: data, Logs: logs}
}

// grantKeyUse lets a role use a key only through one AWS service
// (kms:ViaService), e.g. DynamoDB decrypting the Requests table on the
// role's behalf, never directly.
func grantKeyUse(role awsiam.IRole, key awskms.IKey, service, awsRegion string, actions ...string) {
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings(actions...),
		Resources: jsii.Strings(*key.KeyArn()),
		Conditions: &map[string]any{
			"StringEquals": map[string]any{"kms:ViaService": service + "." + awsRegion + ".amazonaws.com"},
		},
	}))
}
