package main

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
	"github.com/lethe-erasure/lethe/internal/config"
	ddbconn "github.com/lethe-erasure/lethe/internal/connector/dynamodb"
	s3conn "github.com/lethe-erasure/lethe/internal/connector/s3"
)

// ConnectorGrant is what one built-in connector may do: the actions each of
// its calls needs, on its configured resource only.
type ConnectorGrant struct {
	Subsystem  string
	Statements []awsiam.PolicyStatement
	// Wildcards are the resource patterns with "*" (an S3 prefix of any
	// subject, a secret's random suffix), for the cdk-nag suppression.
	Wildcards []string
}

// ConnectorGrants computes the grants of the region's built-in connectors.
// It refuses, naming the key, what cannot be deployed: an endpoint
// override (for lethe local only) and a resource in another AWS region
// than the stack's (config.Parse refuses it too; this is the stack's own
// guard, so that no template of this region can name another's store).
func ConnectorGrants(stack awscdk.Stack, region config.Region) ([]ConnectorGrant, error) {
	var grants []ConnectorGrant
	for i, s := range region.Subsystems {
		c := s.Connector
		if c.Kind() == "" {
			continue
		}
		key := fmt.Sprintf("region %s: subsystems[%d].connector.%s", region.Name, i, c.Kind())
		if ep := c.Endpoint(); ep != "" {
			return nil, fmt.Errorf("%s.endpoint: %q is for lethe local; a deployed connector reaches the store in the stack's region: remove it to deploy", key, ep)
		}
		if r := c.ResourceRegion(); r != "" && r != region.AWSRegion {
			return nil, fmt.Errorf("%s: names AWS region %s, not the stack's %s: a connector erases only in its own region", key, r, region.AWSRegion)
		}
		g := ConnectorGrant{Subsystem: s.Name}
		statement := func(resources []string, actions ...string) awsiam.PolicyStatement {
			return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Actions: jsii.Strings(actions...), Resources: jsii.Strings(resources...)})
		}
		switch c.Kind() {
		case config.ConnectorDynamoDB:
			g.Statements = dynamoDBStatements(stack, *c.DynamoDB, statement)
		case config.ConnectorS3:
			bucket, objects := s3Resources(stack, *c.S3)
			prefix := strings.ReplaceAll(c.S3.Prefix, s3conn.Placeholder, "*") + "*"
			g.Statements = []awsiam.PolicyStatement{
				awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
					Actions:    jsii.Strings("s3:ListBucket", "s3:ListBucketVersions"),
					Resources:  jsii.Strings(bucket),
					Conditions: &map[string]any{"StringLike": map[string]any{"s3:prefix": prefix}},
				}),
				statement([]string{bucket}, "s3:GetBucketVersioning"),
				statement([]string{objects}, "s3:DeleteObject", "s3:DeleteObjectVersion"),
			}
			g.Wildcards = append(g.Wildcards, objects)
		case config.ConnectorCognito:
			pool := *stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("cognito-idp"), Resource: jsii.String("userpool"),
				ResourceName: jsii.String(c.Cognito.UserPoolID), ArnFormat: awscdk.ArnFormat_SLASH_RESOURCE_NAME})
			actions := []string{"cognito-idp:AdminDeleteUser"}
			if a := c.Cognito.Attribute; a != "" && a != "username" {
				actions = append(actions, "cognito-idp:ListUsers")
			}
			g.Statements = []awsiam.PolicyStatement{statement([]string{pool}, actions...)}
		case config.ConnectorStripe:
			secret := c.Stripe.APIKeySecret
			if !strings.HasPrefix(secret, "arn:") {
				secret = *stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("secretsmanager"), Resource: jsii.String("secret"),
					ResourceName: jsii.String(secret + "-??????"), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME})
				g.Wildcards = append(g.Wildcards, secret)
			}
			g.Statements = []awsiam.PolicyStatement{statement([]string{secret}, "secretsmanager:GetSecretValue")}
		}
		grants = append(grants, g)
	}
	return grants, nil
}

// dynamoDBStatements: DeleteItem of the one item by key; or Query of the
// index and BatchWriteItem's deletes on the table.
func dynamoDBStatements(stack awscdk.Stack, c ddbconn.Config, statement func([]string, ...string) awsiam.PolicyStatement) []awsiam.PolicyStatement {
	table := c.Table
	if !strings.HasPrefix(table, "arn:") {
		table = *stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("dynamodb"), Resource: jsii.String("table"),
			ResourceName: jsii.String(table), ArnFormat: awscdk.ArnFormat_SLASH_RESOURCE_NAME})
	}
	if len(c.Key) > 0 {
		return []awsiam.PolicyStatement{statement([]string{table}, "dynamodb:DeleteItem")}
	}
	return []awsiam.PolicyStatement{
		statement([]string{table + "/index/" + c.Index}, "dynamodb:Query"),
		statement([]string{table}, "dynamodb:BatchWriteItem"),
	}
}

// s3Resources are the bucket's ARN and the ARN pattern of every subject's
// objects under the prefix template.
func s3Resources(stack awscdk.Stack, c s3conn.Config) (bucket, objects string) {
	bucket = *stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("s3"), Region: jsii.String(""), Account: jsii.String(""),
		Resource: jsii.String(c.Bucket)})
	return bucket, bucket + "/" + strings.ReplaceAll(c.Prefix, s3conn.Placeholder, "*") + "*"
}

// grantConnectors adds each connector's statements to the connector
// function's role.
func grantConnectors(stack awscdk.Stack, role awsiam.IRole, region config.Region) error {
	grants, err := ConnectorGrants(stack, region)
	if err != nil {
		return err
	}
	var wildcards []string
	for _, g := range grants {
		for _, st := range g.Statements {
			role.AddToPrincipalPolicy(st)
		}
		for _, w := range g.Wildcards {
			wildcards = append(wildcards, "Resource::"+nagArn(stack, w))
		}
	}
	if len(wildcards) > 0 {
		suppress(role, "IAM5", "A built-in connector erases one subject's data, whose key the subject id names: the S3 grant names the configured bucket and prefix template with the subject's segment as \"*\" (and ListBucket is conditioned on that prefix); a named secret's ARN ends in the random suffix Secrets Manager adds.", wildcards...)
	}
	return nil
}
