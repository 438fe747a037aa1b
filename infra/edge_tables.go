package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/lethe-erasure/lethe/internal/config"
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
var EdgeTableSpecs = []EdgeTableSpec{
	{Role: EdgeTenants, Env: config.EnvTenantsTable, Retain: true, Purpose: "tenant directory: tenant key -> home region"},
	{Role: EdgeDeliveries, Env: config.EnvDeliveriesTable, TTL: true, Retain: true, Purpose: "de-duplication claims and residency receipts (no body)"},
	{Role: EdgeQuarantine, Env: config.EnvQuarantineTable, TTL: true, Purpose: "unknown tenants' deliveries, held for release for QuarantineHours"},
	{Role: EdgeGlobal, Env: config.EnvGlobalTable, TTL: true, Retain: true, Purpose: "global erasures: regional request ids and states (no subject id)"},
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
// expiresAt where EdgeTableSpecs says so.
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
		t.Tables[spec.Role] = awsdynamodb.NewTable(c, jsii.String(spec.Role), props)
	}
	return t
}

// Grant gives a role exactly the item actions named on each table (role ->
// actions), plus the use of the data key through DynamoDB that those
// actions need.
func (t EdgeTables) Grant(role awsiam.IRole, access map[string][]string) {
	var all []string
	for _, spec := range EdgeTableSpecs {
		actions, ok := access[spec.Role]
		if !ok {
			continue
		}
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings(actions...),
			Resources: jsii.Strings(*t.Tables[spec.Role].TableArn()),
		}))
		all = append(all, actions...)
	}
	if len(all) > 0 {
		grantKeyUse(role, t.key, "dynamodb", t.awsRegion, tableKeyActions(all...)...)
	}
}

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
