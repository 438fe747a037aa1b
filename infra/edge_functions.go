package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/registry"
)

// EdgeTableActions is what each edge function may do on each edge table,
// from the calls internal/store/edgedynamo makes for it. The fan-out reads
// the directory (GetItem), claims a delivery id and settles the claim with
// conditional UpdateItems (reading the current receipt with GetItem when
// the claim is refused) and quarantines an unknown tenant's delivery
// (PutItem). The operator API reads and registers tenants (GetItem, a
// conditional PutItem), reads, lists (Scan: the quarantine is small and
// short-lived) and drops quarantined deliveries, records a release on the
// delivery's receipt (UpdateItem), and records global erasures and their
// idempotency keys (PutItem, GetItem, UpdateItem of the regions' states);
// it lists tenants, receipts and global erasures with Query, which
// EdgeTables.Grant allows on the tables' listing indexes only.
var EdgeTableActions = map[string]map[string][]string{
	registry.FnWebhookFanout: {
		EdgeTenants:    {"dynamodb:GetItem"},
		EdgeDeliveries: {"dynamodb:GetItem", "dynamodb:UpdateItem"},
		EdgeQuarantine: {"dynamodb:PutItem"},
	},
	registry.FnEdgeAPI: {
		EdgeTenants:    {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"},
		EdgeDeliveries: {"dynamodb:UpdateItem", "dynamodb:Query"},
		EdgeQuarantine: {"dynamodb:GetItem", "dynamodb:Scan", "dynamodb:DeleteItem"},
		EdgeGlobal:     {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"},
	},
}

// EdgeRegionalCalls are the regional API routes the edge's operator API
// calls with SigV4 (its role's execute-api:Invoke): filing one regional
// erasure per home region involved, reading their states, and releasing a
// quarantined delivery to the receiver. The fan-out calls only the
// regions' public webhook route, which needs no grant.
var EdgeRegionalCalls = []string{"POST/erasures", "GET/erasures/*", "POST/webhooks/*/release"}

// EdgeFunctionsProps is what the edge's functions are wired to.
type EdgeFunctionsProps struct {
	// Config is the whole configuration: the functions get its edge view,
	// the IAM grants name each region's AWS region and account.
	Config   *config.Config
	BuildDir string
	LogsKey  awskms.IKey
	DataKey  awskms.IKey
	Tables   EdgeTables
	Ops      awssns.Topic
}

// edgeFunctionTimeout bounds each edge function below API Gateway's 30 s
// integration timeout: the fan-out's forward gives up within 20 s
// (bounded retries) and answers 503 so the provider retries; the operator
// API's global erasure calls each region involved once.
var edgeFunctionTimeout = map[string]float64{registry.FnWebhookFanout: 25, registry.FnEdgeAPI: 25}

// NewEdgeFunctions creates the fan-out and the operator API, each with the
// edge view (LETHE_EDGE_CONFIG) and the names of the tables it uses in its
// environment (and the ops topic for the fan-out, which alerts), and
// exactly the grants it needs.
func NewEdgeFunctions(scope constructs.Construct, p EdgeFunctionsProps) (Functions, error) {
	view, err := json.Marshal(p.Config.ForEdge())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", config.EnvEdgeConfig, err)
	}
	awsRegion := *awscdk.Stack_Of(scope).Region()

	descriptions := map[string]string{
		registry.FnWebhookFanout: "Lethe edge fan-out: verifies integrations' webhooks and forwards each to its tenant's home region; region redirects",
		registry.FnEdgeAPI:       "Lethe edge operator API: tenant directory, quarantine release, global erasures",
	}
	fns := Functions{}
	for _, fn := range registry.EdgeFunctions {
		desc, ok := descriptions[fn]
		if !ok {
			return nil, fmt.Errorf("registry edge function %q has no wiring in infra/edge_functions.go", fn)
		}
		env := p.Tables.Environment(EdgeTableActions[fn])
		env[config.EnvEdgeConfig] = jsii.String(string(view))
		if fn == registry.FnWebhookFanout {
			env[config.EnvOpsTopicArn] = p.Ops.TopicArn()
		}
		f := NewGoFunction(scope, "Fn-"+fn, GoFunctionProps{
			Name:         fn,
			FunctionName: FunctionName(config.EdgeScope, fn),
			BuildDir:     p.BuildDir,
			Timeout:      awscdk.Duration_Seconds(jsii.Number(edgeFunctionTimeout[fn])),
			Environment:  env,
			LogsKey:      p.LogsKey,
			Description:  desc,
			Regions:      edgeRegions(p.Config),
		})
		p.Tables.Grant(f.Role, EdgeTableActions[fn])
		fns[fn] = f
	}
	fanout := fns[registry.FnWebhookFanout]
	grantPublish(fanout.Role, p.DataKey, awsRegion, p.Ops)
	grantWebhookSecrets(fanout.Role, p.DataKey, config.EdgeScope, awsRegion)
	grantRegionalCalls(fns[registry.FnEdgeAPI].Role, p.Config)
	return fns, nil
}

// executeAPIHostRE matches a regional API's default endpoint host, whose
// first label is the API id.
var executeAPIHostRE = regexp.MustCompile(`^([a-z0-9]+)\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$`)

// regionalAPIScope is the "<api id>/<stage>" part of the execute-api ARNs
// of a region's API: exact when the region's apiUrl is its default
// execute-api endpoint (https://<id>.execute-api.<region>.amazonaws.com/<stage>/),
// "*/*" when it is a custom domain, which does not name the API. ok is
// false for a region without apiUrl: the edge sends it nothing, so it
// grants nothing.
func regionalAPIScope(r config.Region) (scope string, exact, ok bool) {
	if r.APIURL == "" {
		return "", false, false
	}
	u, err := url.Parse(r.APIURL)
	if err != nil {
		return "", false, false
	}
	stage, _, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	if m := executeAPIHostRE.FindStringSubmatch(u.Hostname()); m != nil && m[2] == r.AWSRegion && stage != "" {
		return m[1] + "/" + stage, true, true
	}
	return "*/*", false, true
}

// grantRegionalCalls lets the operator API invoke EdgeRegionalCalls on
// each deployed region's API. The ARNs are built from the configuration
// (each region's AWS region, its account or else the edge's, the API id
// from its apiUrl), never from references to the regional stacks: the
// edge and the regions deploy independently, in different AWS regions.
func grantRegionalCalls(role awsiam.IRole, cfg *config.Config) {
	stack := awscdk.Stack_Of(role)
	var arns, wildcards []string
	for _, r := range cfg.Regions {
		scope, exact, ok := regionalAPIScope(r)
		if !ok {
			continue
		}
		account := r.Account
		if account == "" {
			account = *awscdk.Aws_ACCOUNT_ID()
		}
		for _, call := range EdgeRegionalCalls {
			arn := *stack.FormatArn(&awscdk.ArnComponents{
				Service: jsii.String("execute-api"), Region: jsii.String(r.AWSRegion), Account: jsii.String(account),
				Resource: jsii.String(scope), ResourceName: jsii.String(call), ArnFormat: awscdk.ArnFormat_SLASH_RESOURCE_NAME,
			})
			arns = append(arns, arn)
			if !exact || strings.Contains(call, "*") {
				wildcards = append(wildcards, "Resource::"+nagArn(stack, arn))
			}
		}
	}
	if len(arns) == 0 {
		return
	}
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("execute-api:Invoke"),
		Resources: jsii.Strings(arns...),
	}))
	if len(wildcards) > 0 {
		suppress(role, "IAM5", "The operator API files and reads erasures on the regional APIs by SigV4. GET /erasures/* stands for any request id, POST /webhooks/*/release for any provider. A region reached through a custom domain (apiUrl) does not name its API id, so its ARN names the region, account, method and path but any API and stage. The edge cannot reference the regional stacks (other AWS regions, deployed independently): the ARNs come from the configuration.",
			wildcards...)
	}
}
