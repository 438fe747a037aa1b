package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/store/edgedynamo"
)

// The edge's tables, by the role each plays (internal/edge owns the item
// layouts; the infra declares the key, encryption, recovery and TTL).
const (
	EdgeTenants    = "tenants"
	EdgeDeliveries = "deliveries"
	EdgeQuarantine = "quarantine"
	EdgeGlobal     = "global"
)

// EdgeTableSpec is how one edge table is made. Retain says whether the
// table outlives the stack: tables that are proof or hard to rebuild are
// retained and protected from deletion; the quarantine, which holds
// webhook bodies of unknown tenants for a few days only, goes with the
// stack, so that deleting the edge never leaves personal data behind in a
// forgotten table.
type EdgeTableSpec struct {
	Role string
	// Env is the environment variable that names the table.
	Env    string
	TTL    bool
	Retain bool
	// ListingSortKey is the sort key of the table's listing index
	// (edgedynamo.IndexListing, partition kind), which the operator API's
	// listings query; "" for a table without one.
	ListingSortKey string
	// Purpose describes the table in reviews and the README.
	Purpose string
}

// EdgeTableSpecs lists the edge's tables.
//   - tenants: the directory (tenant key -> home region). No personal data,
//     no TTL; retained, since losing it would quarantine every tenant's
//     webhooks until each is registered again.
//   - deliveries: de-duplication claims and residency receipts (delivery
//     id, tenant key hash, where it was received and forwarded, outcome; no
//     body). Retained: the receipts are the proof that each webhook went to
//     its tenant's home region only. TTL expires claims and old receipts.
//   - quarantine: unknown tenants' deliveries, body included, for
//     QuarantineHours. TTL; destroyed with the stack.
//   - global: global erasures (global id -> regional request ids and
//     states; no subject id). Retained: the proof a global erasure reached
//     every region involved. TTL expires only the Idempotency-Key records
//     kept beside them; global records carry no expiresAt.
//
// The listing indexes (internal/store/edgedynamo/list.go says why this
// shape) page GET /tenants by tenant key, GET /receipts and GET /erasures
// newest first; the quarantine, small and short-lived, is scanned.
var EdgeTableSpecs = []EdgeTableSpec{
	{Role: EdgeTenants, Env: config.EnvTenantsTable, Retain: true, ListingSortKey: edgedynamo.AttrPK,
		Purpose: "tenant directory: tenant key -> home region"},
	{Role: EdgeDeliveries, Env: config.EnvDeliveriesTable, TTL: true, Retain: true, ListingSortKey: edgedynamo.AttrReceivedAt,
		Purpose: "de-duplication claims and residency receipts (no body)"},
	{Role: EdgeQuarantine, Env: config.EnvQuarantineTable, TTL: true,
		Purpose: "unknown tenants' deliveries, held for release for QuarantineHours"},
	{Role: EdgeGlobal, Env: config.EnvGlobalTable, TTL: true, Retain: true, ListingSortKey: edgedynamo.AttrPK,
		Purpose: "global erasures: regional request ids and states (no subject id)"},
}

// EdgeTablesProps configures the edge's tables.
type EdgeTablesProps struct {
	Key       awskms.IKey
	AWSRegion string
}

// EdgeTables are the edge's four tables by role.
type EdgeTables struct {
	Tables    map[string]awsdynamodb.Table
	key       awskms.IKey
	awsRegion string
}

// NewEdgeTables creates the tables: partition key pk (S) only, on demand,
// point-in-time recovery, encrypted with the edge's data key, TTL on
// expiresAt and a listing index where EdgeTableSpecs says so.
func NewEdgeTables(scope constructs.Construct, id string, p EdgeTablesProps) EdgeTables {
	c := constructs.NewConstruct(scope, jsii.String(id))
	t := EdgeTables{Tables: map[string]awsdynamodb.Table{}, key: p.Key, awsRegion: p.AWSRegion}
	for _, spec := range EdgeTableSpecs {
		props := &awsdynamodb.TableProps{
			PartitionKey: &awsdynamodb.Attribute{Name: jsii.String(TablePartitionKey), Type: awsdynamodb.AttributeType_STRING},
			BillingMode:  awsdynamodb.BillingMode_PAY_PER_REQUEST,
			PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
				PointInTimeRecoveryEnabled: jsii.Bool(true),
			},
			Encryption:         awsdynamodb.TableEncryption_CUSTOMER_MANAGED,
			EncryptionKey:      p.Key,
			DeletionProtection: jsii.Bool(spec.Retain),
			RemovalPolicy:      awscdk.RemovalPolicy_DESTROY,
		}
		if spec.Retain {
			props.RemovalPolicy = awscdk.RemovalPolicy_RETAIN
		}
		if spec.TTL {
			props.TimeToLiveAttribute = jsii.String(TTLAttribute)
		}
		table := awsdynamodb.NewTable(c, jsii.String(spec.Role), props)
		if spec.ListingSortKey != "" {
			table.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
				IndexName:      jsii.String(edgedynamo.IndexListing),
				PartitionKey:   &awsdynamodb.Attribute{Name: jsii.String(edgedynamo.AttrKind), Type: awsdynamodb.AttributeType_STRING},
				SortKey:        &awsdynamodb.Attribute{Name: jsii.String(spec.ListingSortKey), Type: awsdynamodb.AttributeType_STRING},
				ProjectionType: awsdynamodb.ProjectionType_ALL,
			})
		}
		t.Tables[spec.Role] = table
	}
	return t
}

// Grant gives a role exactly the item actions named on each table (role ->
// actions), plus the use of the data key through DynamoDB that those
// actions need. dynamodb:Query is granted on the table's listing index
// and nothing else: the one query the edge makes is a listing, and a Query
// of the table itself would read any item by its key.
func (t EdgeTables) Grant(role awsiam.IRole, access map[string][]string) {
	var all []string
	for _, spec := range EdgeTableSpecs {
		actions, ok := access[spec.Role]
		if !ok {
			continue
		}
		arn := *t.Tables[spec.Role].TableArn()
		var items []string
		for _, a := range actions {
			if a == actionQuery {
				role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
					Actions:   jsii.Strings(a),
					Resources: jsii.Strings(arn + "/index/" + edgedynamo.IndexListing),
				}))
				continue
			}
			items = append(items, a)
		}
		if len(items) > 0 {
			role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Actions:   jsii.Strings(items...),
				Resources: jsii.Strings(arn),
			}))
		}
		all = append(all, actions...)
	}
	if len(all) > 0 {
		grantKeyUse(role, t.key, "dynamodb", t.awsRegion, tableKeyActions(all...)...)
	}
}

// actionQuery is the DynamoDB action Grant puts on a listing index.
const actionQuery = "dynamodb:Query"

// Environment names the tables of access (role -> actions) in their
// EdgeTableSpecs variables: a function learns the names of the tables it
// may use, and no other.
func (t EdgeTables) Environment(access map[string][]string) map[string]*string {
	env := map[string]*string{}
	for _, spec := range EdgeTableSpecs {
		if _, ok := access[spec.Role]; ok {
			env[spec.Env] = t.Tables[spec.Role].TableName()
		}
	}
	return env
}
