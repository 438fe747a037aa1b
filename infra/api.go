package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// API settings.
const (
	APIStageName = "v1"
	// APIThrottleRate and APIThrottleBurst bound the whole stage: erasure
	// requests come from a privacy team and a few integrations, not from
	// the public.
	APIThrottleRate  = 20
	APIThrottleBurst = 50
	// WebhookThrottleRate and WebhookThrottleBurst bound POST
	// /webhooks/{provider} on its own, so that a provider's burst through
	// the edge neither eats the privacy team's budget nor is cut to it. A
	// throttled forward is answered 503 to the provider by the edge, and
	// the provider's retry delivers it later: nothing is lost.
	WebhookThrottleRate  = 50
	WebhookThrottleBurst = 100
	// APILogRetention keeps who filed or read which erasure request for a
	// year (GDPR Art. 5(2) accountability), not longer.
	APILogRetention = awslogs.RetentionDays_ONE_YEAR
)

// apiAccessLogFormat is one JSON line per request. It names the route
// template ($context.resourcePath), never the path: DELETE /api/user/{id}
// carries the subject id in its path. Likewise no error message (an IAM
// denial quotes the resource ARN, path included) and no request body.
const apiAccessLogFormat = `{"requestId":"$context.requestId","requestTime":"$context.requestTime",` +
	`"httpMethod":"$context.httpMethod","resourcePath":"$context.resourcePath","status":"$context.status",` +
	`"responseLength":"$context.responseLength","responseLatency":"$context.responseLatency",` +
	`"integrationLatency":"$context.integrationLatency","errorType":"$context.error.responseType",` +
	`"sourceIp":"$context.identity.sourceIp","caller":"$context.identity.caller","userArn":"$context.identity.userArn"}`

// apiErrorTemplate answers API Gateway's own errors (signature missing or
// refused, throttling, ...) in Lethe's error shape.
const apiErrorTemplate = `{"error":{"code":"$context.error.responseType","message":$context.error.messageString,"field":""}}`

// APIProps is what the API is wired to.
type APIProps struct {
	RegionName string
	Handler    awslambda.IFunction
	LogsKey    awskms.IKey
	// Webhooks is the webhook receiver; nil while the region does not
	// deploy it (registry.Functions does not list it). With it come POST
	// /webhooks/{provider} and /webhooks/{provider}/release, and the api's
	// PUT and GET /tenants/{tenant}.
	Webhooks awslambda.IFunction
}

// webhookMethodPath is the stage's method-settings key of the receiver's
// route: resource path and HTTP method.
const webhookMethodPath = "/webhooks/{provider}/POST"

// API is the region's REST API.
type API struct {
	RestAPI   awsapigateway.RestApi
	AccessLog awslogs.LogGroup
	Validator awsapigateway.RequestValidator
}

// NewAPI creates the REST API: POST/GET /erasures, GET
// /erasures/{requestId}, DELETE /api/user/{id} and (with the webhooks) PUT
// and GET /tenants/{tenant}, all proxied to the api function and all
// authorised with IAM (SigV4): the callers are the privacy team's roles,
// the edge and integrations inside AWS, so IAM is the authorisation, with
// no user pool. The one exception is POST /webhooks/{provider}, proxied to
// the webhook receiver without IAM: integrations' webhooks cannot be
// SigV4-signed, and the receiver authenticates each one by its HMAC
// signature with the region's own copy of the secret. The edge's
// quarantine releases come by POST /webhooks/{provider}/release, to the
// receiver too, with IAM. Access logs go to an
// encrypted log group; the stage is throttled.
func NewAPI(scope constructs.Construct, id string, p APIProps) API {
	c := constructs.NewConstruct(scope, jsii.String(id))
	var methodOptions *map[string]*awsapigateway.MethodDeploymentOptions
	if p.Webhooks != nil {
		methodOptions = &map[string]*awsapigateway.MethodDeploymentOptions{
			webhookMethodPath: {
				ThrottlingRateLimit:  jsii.Number(WebhookThrottleRate),
				ThrottlingBurstLimit: jsii.Number(WebhookThrottleBurst),
				MetricsEnabled:       jsii.Bool(true),
				LoggingLevel:         awsapigateway.MethodLoggingLevel_OFF,
				DataTraceEnabled:     jsii.Bool(false),
			},
		}
	}
	accessLog := awslogs.NewLogGroup(c, jsii.String("AccessLogs"), &awslogs.LogGroupProps{
		Retention:     APILogRetention,
		EncryptionKey: p.LogsKey,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	api := awsapigateway.NewRestApi(c, jsii.String("Api"), &awsapigateway.RestApiProps{
		RestApiName:   jsii.String("Lethe-" + p.RegionName),
		Description:   jsii.String("Lethe " + p.RegionName + ": GDPR erasure requests"),
		EndpointTypes: &[]awsapigateway.EndpointType{awsapigateway.EndpointType_REGIONAL},
		// Every body reaches the functions base64-encoded, byte for byte: a
		// webhook's HMAC is over its raw bytes, which a text conversion
		// could alter. (The handlers decode isBase64Encoded bodies.)
		BinaryMediaTypes: &[]*string{jsii.String("*/*")},
		// Access logging needs the account's API Gateway CloudWatch role.
		CloudWatchRole: jsii.Bool(true),
		DeployOptions: &awsapigateway.StageOptions{
			StageName:            jsii.String(APIStageName),
			AccessLogDestination: awsapigateway.NewLogGroupLogDestination(accessLog),
			AccessLogFormat:      awsapigateway.AccessLogFormat_Custom(jsii.String(apiAccessLogFormat)),
			ThrottlingRateLimit:  jsii.Number(APIThrottleRate),
			ThrottlingBurstLimit: jsii.Number(APIThrottleBurst),
			MetricsEnabled:       jsii.Bool(true),
			// Execution logs and X-Ray traces record the request URL, and
			// DELETE /api/user/{id} has the subject id in it: both stay off
			// for the API (the functions behind it are traced).
			LoggingLevel:     awsapigateway.MethodLoggingLevel_OFF,
			DataTraceEnabled: jsii.Bool(false),
			TracingEnabled:   jsii.Bool(false),
			MethodOptions:    methodOptions,
		},
		DefaultMethodOptions: &awsapigateway.MethodOptions{
			AuthorizationType: awsapigateway.AuthorizationType_IAM,
		},
	})
	// The account's API Gateway logging role is guarded like Lethe's own.
	cwRole, ok := api.Node().TryFindChild(jsii.String("CloudWatchRole")).(awsiam.Role)
	if !ok {
		panic("infra: the REST API has no CloudWatchRole child to guard")
	}
	guardRegions(cwRole, []string{*awscdk.Stack_Of(c).Region()})
	validator := api.AddRequestValidator(jsii.String("Validator"), &awsapigateway.RequestValidatorOptions{
		RequestValidatorName:      jsii.String("body-and-parameters"),
		ValidateRequestBody:       jsii.Bool(true),
		ValidateRequestParameters: jsii.Bool(true),
	})
	for _, t := range []awsapigateway.ResponseType{awsapigateway.ResponseType_DEFAULT_4XX(), awsapigateway.ResponseType_DEFAULT_5XX()} {
		api.AddGatewayResponse(jsii.String("Gateway"+*t.ResponseType()), &awsapigateway.GatewayResponseOptions{
			Type:      t,
			Templates: &map[string]*string{"application/json": jsii.String(apiErrorTemplate)},
		})
	}

	lambdaIntegration := func(fn awslambda.IFunction) awsapigateway.Integration {
		return awsapigateway.NewLambdaIntegration(fn, &awsapigateway.LambdaIntegrationOptions{Proxy: jsii.Bool(true)})
	}
	apiIntegration := lambdaIntegration(p.Handler)
	method := func(r awsapigateway.IResource, verb string, integration awsapigateway.Integration, auth awsapigateway.AuthorizationType, params ...string) awsapigateway.Method {
		required := map[string]*bool{}
		for _, name := range params {
			required["method.request.path."+name] = jsii.Bool(true)
		}
		return r.AddMethod(jsii.String(verb), integration, &awsapigateway.MethodOptions{
			AuthorizationType: auth,
			RequestValidator:  validator,
			RequestParameters: &required,
		})
	}
	iam := awsapigateway.AuthorizationType_IAM
	erasures := api.Root().AddResource(jsii.String("erasures"), nil)
	method(erasures, "POST", apiIntegration, iam)
	method(erasures, "GET", apiIntegration, iam)
	request := erasures.AddResource(jsii.String("{requestId}"), nil)
	method(request, "GET", apiIntegration, iam, "requestId")
	// The operator routes. The subject route is a resource of its own, so
	// that reading a subject id can be granted apart (execute-api:Invoke on
	// .../GET/erasures/*/subject).
	method(request.AddResource(jsii.String("retry"), nil), "POST", apiIntegration, iam, "requestId")
	method(request.AddResource(jsii.String("extension"), nil), "POST", apiIntegration, iam, "requestId")
	method(request.AddResource(jsii.String("subject"), nil), "GET", apiIntegration, iam, "requestId")
	method(request.AddResource(jsii.String("certificate"), nil), "GET", apiIntegration, iam, "requestId")
	method(request.AddResource(jsii.String("subsystems"), nil).AddResource(jsii.String("{name}"), nil).
		AddResource(jsii.String("attestation"), nil), "POST", apiIntegration, iam, "requestId", "name")
	method(api.Root().AddResource(jsii.String("audit"), nil), "GET", apiIntegration, iam)
	method(api.Root().AddResource(jsii.String("keys"), nil), "GET", apiIntegration, iam)
	method(api.Root().AddResource(jsii.String("suppressions"), nil).AddResource(jsii.String("check"), nil), "POST", apiIntegration, iam)
	// Async subsystems call back without SigV4: the callback token Lethe
	// gave at submission is their authentication (checked by the api).
	callbacks := method(api.Root().AddResource(jsii.String("callbacks"), nil), "POST", apiIntegration, awsapigateway.AuthorizationType_NONE)
	suppress(callbacks, "APIG4", reasonCallbackAuth)
	suppress(callbacks, "COG4", reasonCallbackAuth)
	method(api.Root().AddResource(jsii.String("api"), nil).
		AddResource(jsii.String("user"), nil).
		AddResource(jsii.String("{id}"), nil), "DELETE", apiIntegration, iam, "id")
	if p.Webhooks != nil {
		tenant := api.Root().AddResource(jsii.String("tenants"), nil).AddResource(jsii.String("{tenant}"), nil)
		method(tenant, "PUT", apiIntegration, iam, "tenant")
		method(tenant, "GET", apiIntegration, iam, "tenant")
		receiverIntegration := lambdaIntegration(p.Webhooks)
		provider := api.Root().AddResource(jsii.String("webhooks"), nil).AddResource(jsii.String("{provider}"), nil)
		public := method(provider, "POST", receiverIntegration, awsapigateway.AuthorizationType_NONE, "provider")
		suppress(public, "APIG4", reasonWebhookAuth)
		suppress(public, "COG4", reasonWebhookAuth)
		// The edge's quarantine releases: signed by the edge's operator
		// API, since a held delivery's own timestamp may be older than the
		// public route's replay window.
		method(provider.AddResource(jsii.String("release"), nil), "POST", receiverIntegration, iam, "provider")
	}

	suppress(api, "APIG3", "IAM (SigV4) authorisation admits only principals of the privacy team's accounts, and the stage is throttled; a WAF web ACL would add cost without a threat it stops here. Deployers may attach one.")
	suppress(api, "APIG6", "Execution logs record request paths and IAM denial messages that quote the path, and DELETE /api/user/{id} carries the subject id in its path; the access log (route template only) records every request instead.")
	suppress(api, "COG4", "The API is authorised with IAM (SigV4) on every method: its callers are roles of the privacy team and integrations, not end users, so there is no Cognito user pool.")
	suppress(api, "IAM4", "The account-level API Gateway CloudWatch role, required for access logging, uses the AWS managed policy AWS documents for it.",
		"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs")
	return API{RestAPI: api, AccessLog: accessLog, Validator: validator}
}
