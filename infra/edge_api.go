package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2authorizers"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/lethe-erasure/lethe/internal/config"
)

// Edge API settings. The edge takes every integration's webhooks for every
// region, so its budget is larger than a region's; a provider that is
// throttled (429) retries, as it does on any non-2xx answer.
const (
	EdgeThrottleRate  = 100
	EdgeThrottleBurst = 200
)

// EdgeRoute is one route of the edge's HTTP API.
type EdgeRoute struct {
	Method awsapigatewayv2.HttpMethod
	Path   string
	// Function is the registry.Fn* folder of the function behind it.
	Function string
	// Public routes have no IAM authorisation: Reason says what protects
	// them instead (cdk-nag suppression and review).
	Public bool
	Reason string
}

const (
	reasonEdgeWebhook = reasonWebhookAuth
	reasonRedirect    = "The region redirect answers integrations' and browsers' plain GETs with a 302/307 to the tenant's regional URL (or 404 for an unknown tenant); it reads the tenant directory only, forwards nothing and discloses only which region serves a tenant, which the redirect target discloses anyway. The stage is throttled."
)

// reasonDefaultRoute says why the $default route is public.
const reasonDefaultRoute = "A request no route matches reaches the fan-out, which answers it 404 (or 405) in Lethe's error shape instead of API Gateway's {\"message\"}; it serves none of the operator routes, reads and writes nothing for such a request, and the stage is throttled."

// EdgeRoutes lists the edge's routes. The webhook and redirect routes are
// public; the operator routes (tenant directory, quarantine release,
// global erasures, the listings of tenants, erasures and residency
// receipts) are IAM-authorised (SigV4), like the regional APIs.
func EdgeRoutes(fanout, api string) []EdgeRoute {
	return []EdgeRoute{
		{awsapigatewayv2.HttpMethod_POST, "/webhooks/{provider}", fanout, true, reasonEdgeWebhook},
		{awsapigatewayv2.HttpMethod_ANY, "/t/{tenant}", fanout, true, reasonRedirect},
		{awsapigatewayv2.HttpMethod_ANY, "/t/{tenant}/{proxy+}", fanout, true, reasonRedirect},
		{awsapigatewayv2.HttpMethod_GET, "/tenants", api, false, ""},
		{awsapigatewayv2.HttpMethod_PUT, "/tenants/{tenant}", api, false, ""},
		{awsapigatewayv2.HttpMethod_GET, "/tenants/{tenant}", api, false, ""},
		{awsapigatewayv2.HttpMethod_GET, "/quarantine", api, false, ""},
		{awsapigatewayv2.HttpMethod_POST, "/quarantine/{id}/release", api, false, ""},
		{awsapigatewayv2.HttpMethod_GET, "/erasures", api, false, ""},
		{awsapigatewayv2.HttpMethod_POST, "/erasures", api, false, ""},
		{awsapigatewayv2.HttpMethod_GET, "/erasures/{globalId}", api, false, ""},
		{awsapigatewayv2.HttpMethod_GET, "/receipts", api, false, ""},
	}
}

// edgeAccessLogFormat is one JSON line per request. It names the route
// ($context.routeKey), never the path: /t/{tenant}/{proxy+} carries
// whatever path an integration redirects, which may name a person. No
// error message (an IAM denial quotes the path) and no body either.
const edgeAccessLogFormat = `{"requestId":"$context.requestId","requestTime":"$context.requestTime",` +
	`"httpMethod":"$context.httpMethod","routeKey":"$context.routeKey","status":"$context.status",` +
	`"responseLength":"$context.responseLength","responseLatency":"$context.responseLatency",` +
	`"integrationLatency":"$context.integrationLatency","integrationStatus":"$context.integrationStatus",` +
	`"errorType":"$context.error.responseType","sourceIp":"$context.identity.sourceIp",` +
	`"caller":"$context.identity.caller","userArn":"$context.identity.userArn"}`

// EdgeAPIProps is what the edge's API is wired to.
type EdgeAPIProps struct {
	// Functions maps registry.Fn* to the function behind its routes.
	Functions map[string]awslambda.IFunction
	Routes    []EdgeRoute
	// Default is the function (one of the routes') that answers a request
	// no route matches: the $default route, public.
	Default string
	LogsKey awskms.IKey
}

// EdgeAPI is the edge's HTTP API.
type EdgeAPI struct {
	HttpAPI   awsapigatewayv2.HttpApi
	Stage     awsapigatewayv2.HttpStage
	AccessLog awslogs.LogGroup
	// Routes are the routes made, by "METHOD /path".
	Routes map[string]awsapigatewayv2.HttpRoute
}

// NewEdgeAPI creates the HTTP API with its $default stage (auto-deployed,
// throttled, access-logged to an encrypted log group) and the routes, each
// with a Lambda proxy integration (payload format 2.0).
func NewEdgeAPI(scope constructs.Construct, id string, p EdgeAPIProps) EdgeAPI {
	c := constructs.NewConstruct(scope, jsii.String(id))
	accessLog := awslogs.NewLogGroup(c, jsii.String("AccessLogs"), &awslogs.LogGroupProps{
		Retention:     APILogRetention,
		EncryptionKey: p.LogsKey,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	api := awsapigatewayv2.NewHttpApi(c, jsii.String("Api"), &awsapigatewayv2.HttpApiProps{
		ApiName:            jsii.String(StackName(config.EdgeScope)),
		Description:        jsii.String("Lethe edge: integrations' webhooks to the tenant's home region, region redirects, tenant directory, global erasures"),
		CreateDefaultStage: jsii.Bool(false),
	})
	stage := awsapigatewayv2.NewHttpStage(c, jsii.String("Stage"), &awsapigatewayv2.HttpStageProps{
		HttpApi:    api,
		StageName:  jsii.String("$default"),
		AutoDeploy: jsii.Bool(true),
		Throttle: &awsapigatewayv2.ThrottleSettings{
			RateLimit: jsii.Number(EdgeThrottleRate), BurstLimit: jsii.Number(EdgeThrottleBurst),
		},
	})
	// The L2 stage takes access log settings as an interface; the L1
	// property says the same plainly.
	stage.Node().DefaultChild().(awsapigatewayv2.CfnStage).SetAccessLogSettings(&awsapigatewayv2.CfnStage_AccessLogSettingsProperty{
		DestinationArn: accessLog.LogGroupArn(),
		Format:         jsii.String(edgeAccessLogFormat),
	})

	integrations := map[string]awsapigatewayv2integrations.HttpLambdaIntegration{}
	iam := awsapigatewayv2authorizers.NewHttpIamAuthorizer()
	none := awsapigatewayv2.NewHttpNoneAuthorizer()
	routes := map[string]awsapigatewayv2.HttpRoute{}
	for _, r := range p.Routes {
		integ, ok := integrations[r.Function]
		if !ok {
			integ = awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String("Fn-"+r.Function), p.Functions[r.Function], &awsapigatewayv2integrations.HttpLambdaIntegrationProps{
				PayloadFormatVersion: awsapigatewayv2.PayloadFormatVersion_VERSION_2_0(),
			})
			integrations[r.Function] = integ
		}
		var auth awsapigatewayv2.IHttpRouteAuthorizer = iam
		if r.Public {
			auth = none
		}
		made := api.AddRoutes(&awsapigatewayv2.AddRoutesOptions{
			Path: jsii.String(r.Path), Methods: &[]awsapigatewayv2.HttpMethod{r.Method},
			Integration: integ, Authorizer: auth,
		})
		for _, route := range *made {
			if r.Public {
				suppress(route, "APIG4", r.Reason)
			}
			routes[string(r.Method)+" "+r.Path] = route
		}
	}
	if integ, ok := integrations[p.Default]; ok {
		def := awsapigatewayv2.NewHttpRoute(c, jsii.String("DefaultRoute"), &awsapigatewayv2.HttpRouteProps{
			HttpApi: api, RouteKey: awsapigatewayv2.HttpRouteKey_DEFAULT(), Integration: integ, Authorizer: none,
		})
		suppress(def, "APIG4", reasonDefaultRoute)
		routes[DefaultRouteKey] = def
	}
	return EdgeAPI{HttpAPI: api, Stage: stage, AccessLog: accessLog, Routes: routes}
}

// DefaultRouteKey is the route a request takes that no other route matches.
const DefaultRouteKey = "$default"
