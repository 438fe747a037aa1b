package main

import (
	"github.com/lethe-erasure/lethe/internal/store/dynamo"
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// The Requests table's layout (owned by internal/store/dynamo; the infra
// only declares the keys, the index, the stream and the TTL attribute).
const (
	TablePartitionKey = "pk"
	RecentIndexName   = "recent"
	RecentIndexPK     = "kind"
	RecentIndexSK     = "pk"
	TTLAttribute      = "expiresAt"
)

// RequestsTableProps configures the Requests table.
type RequestsTableProps struct {
	Key       awskms.IKey
	AWSRegion string
}

// RequestsTable is the region's single table of erasure requests, subject
// locks and idempotency keys.
type RequestsTable struct {
	Table     awsdynamodb.Table
	key       awskms.IKey
	awsRegion string
}

// NewRequestsTable creates the table: on demand (erasures are rare and
// bursty), point-in-time recovery, encrypted with the data key, a NEW_IMAGE
// stream for the starter, TTL on idempotency items. It is retained and
// protected from deletion: the table is the proof that each erasure was
// done in time.
func NewRequestsTable(scope constructs.Construct, id string, p RequestsTableProps) RequestsTable {
	t := awsdynamodb.NewTable(scope, jsii.String(id), &awsdynamodb.TableProps{
		PartitionKey: &awsdynamodb.Attribute{Name: jsii.String(TablePartitionKey), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:  awsdynamodb.BillingMode_PAY_PER_REQUEST,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		Encryption:          awsdynamodb.TableEncryption_CUSTOMER_MANAGED,
		EncryptionKey:       p.Key,
		Stream:              awsdynamodb.StreamViewType_NEW_IMAGE,
		TimeToLiveAttribute: jsii.String(TTLAttribute),
		DeletionProtection:  jsii.Bool(true),
		RemovalPolicy:       awscdk.RemovalPolicy_RETAIN,
	})
	t.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
		IndexName:      jsii.String(RecentIndexName),
		PartitionKey:   &awsdynamodb.Attribute{Name: jsii.String(RecentIndexPK), Type: awsdynamodb.AttributeType_STRING},
		SortKey:        &awsdynamodb.Attribute{Name: jsii.String(RecentIndexSK), Type: awsdynamodb.AttributeType_STRING},
		ProjectionType: awsdynamodb.ProjectionType_ALL,
	})
	// The open requests, soonest deadline first, for the deadline watch
	// (sparse: only open requests have the key).
	t.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
		IndexName:      jsii.String(dynamo.IndexOpen),
		PartitionKey:   &awsdynamodb.Attribute{Name: jsii.String(dynamo.AttrOpen), Type: awsdynamodb.AttributeType_STRING},
		SortKey:        &awsdynamodb.Attribute{Name: jsii.String("deadline"), Type: awsdynamodb.AttributeType_STRING},
		ProjectionType: awsdynamodb.ProjectionType_ALL,
	})
	return RequestsTable{Table: t, key: p.Key, awsRegion: p.AWSRegion}
}

// Grant gives a role exactly the DynamoDB item actions named, on the table
// (and on the recent index when Query is among them), plus the use of the
// table's key through DynamoDB only: Decrypt to read, Encrypt and
// GenerateDataKey as well when the role writes.
func (r RequestsTable) Grant(role awsiam.IRole, actions ...string) {
	resources := []string{*r.Table.TableArn()}
	if slices.Contains(actions, "dynamodb:Query") {
		resources = append(resources, *r.Table.TableArn()+"/index/"+RecentIndexName)
	}
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings(actions...),
		Resources: jsii.Strings(resources...),
	}))
	grantKeyUse(role, r.key, "dynamodb", r.awsRegion, tableKeyActions(actions...)...)
}

// GrantQueryOpen lets a role query the open index (the deadline watch),
// and nothing else of the table.
func (r RequestsTable) GrantQueryOpen(role awsiam.IRole) {
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("dynamodb:Query"),
		Resources: jsii.Strings(*r.Table.TableArn() + "/index/" + dynamo.IndexOpen),
	}))
	grantKeyUse(role, r.key, "dynamodb", r.awsRegion, tableKeyActions("dynamodb:Query")...)
}

// tableKeyActions is the use of a table's KMS key that DynamoDB makes on a
// role's behalf for the item actions named: Decrypt (and DescribeKey) to
// read, Encrypt and GenerateDataKey as well to write.
func tableKeyActions(actions ...string) []string {
	keyActions := []string{"kms:Decrypt", "kms:DescribeKey"}
	for _, a := range actions {
		switch a {
		case "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem":
			return append(keyActions, "kms:Encrypt", "kms:GenerateDataKey")
		}
	}
	return keyActions
}

// GrantStreamRead gives the starter's role what its event source mapping
// polls the stream with, on this table's stream only (DynamoDB developer
// guide, "IAM policy to allow an AWS Lambda function to access DynamoDB
// stream records").
func (r RequestsTable) GrantStreamRead(role awsiam.IRole) {
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"),
		Resources: jsii.Strings(*r.Table.TableStreamArn()),
	}))
	grantKeyUse(role, r.key, "dynamodb", r.awsRegion, "kms:Decrypt", "kms:DescribeKey")
}
