package main

// AcceptedGuardFailure is a failure of AWS Control Tower's proactive
// controls (the guard rules of @cdklabs/cdk-validator-cfnguard, run on every
// synthesized template by make test) that Lethe is right not to fix. The
// rules read no suppression metadata: this list is the one place that
// accepts a failure, and the test fails on any failure not in it, and on
// any entry that no longer matches one.
type AcceptedGuardFailure struct {
	// Rule is the guard rule's name.
	Rule string
	// Path matches the resource's CDK path (a regular expression, anchored).
	Path   string
	Reason string
}

// AcceptedGuardFailures are Lethe's reasons, rule by rule.
var AcceptedGuardFailures = []AcceptedGuardFailure{
	{"api_gw_v1_execution_logging_enabled_check", `Lethe-[a-z0-9]+/Api/Api/DeploymentStage\.v1/Resource`,
		"Execution logs record the request URL, and DELETE /api/user/{id} carries the subject id in it: the REST API logs access (without the path) instead."},
	{"api_gw_xray_enabled_check", `Lethe-[a-z0-9]+/Api/Api/DeploymentStage\.v1/Resource`,
		"X-Ray traces of the REST API stage record the request URL, which carries the subject id (DELETE /api/user/{id}); the functions behind it are traced."},
	{"lambda_function_public_access_prohibited_check", `Lethe-[a-z0-9]+/Api/Api/Default/.*/ApiPermission\..*`,
		"API Gateway's permission to invoke the api function is scoped by SourceArn to this REST API's execute-api ARN; the rule cannot read an ARN built with Fn::Join."},
	{"lambda_function_public_access_prohibited_check", `Lethe-edge/Api/(Api/[^/]+|DefaultRoute)/Fn-[a-z-]+-Permission`,
		"API Gateway's permission to invoke the edge functions is scoped by SourceArn to the edge's HTTP API ARN; the rule cannot read an ARN built with Fn::Join."},
	{"lambda_inside_vpc_check", `Lethe-[a-z0-9]+/Fn-[a-z-]+/Function/Resource`,
		"Lethe's functions call subsystems on the internet and AWS APIs only, over TLS with IAM or bearer tokens; a VPC would add NAT gateways and endpoints (cost, a fixed IP surface) and protect no data that is not already encrypted in transit and at rest."},
	{"sqs_dlq_check", `Lethe-[a-z0-9]+/(StarterFailures/Queue|Webhooks/DeadLetters)/Resource`,
		"These queues are where failures end up (the starter's on-failure destination, the webhook queue's dead-letter queue); a dead-letter queue of a dead-letter queue would only hide them. Both alarm when not empty."},
	{"kms_create_grant_aws_service_check", `Lethe-[a-z0-9]+/(Keys/(Data|Logs)|Proof/Signing)/Resource`,
		"The account root's administrative statement CDK gives every key (kms:*, without which the key cannot be managed) and Secrets Manager's own ViaService grant; Lethe's roles get kms: actions only by IAM policies on their own resources."},
	{"api_gw_v2_authorization_type_configured_check", `Lethe-edge/Api/(Api/(POST--webhooks--\{provider\}|ANY--t--\{tenant\}|ANY--t--\{tenant\}--\{proxy\+\})|DefaultRoute)/Resource`,
		"Integrations' webhooks cannot sign with SigV4: their HMAC, checked by the fan-out, is their authentication; the redirects and $default answer without reading or writing anything. The operator routes are IAM-authorised."},
}
