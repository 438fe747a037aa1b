package main

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/lethe-erasure/lethe/internal/config"
)

// TokensProps configures the subsystems' bearer-token sources.
type TokensProps struct {
	Region config.Region
	Key    awskms.IKey
}

// Tokens are where the region's subsystems keep their bearer tokens: the
// secrets this stack created, and the ARNs of every secret or parameter the
// connectors may read.
type Tokens struct {
	// Created maps a subsystem name to the secret made for it.
	Created map[string]awssecretsmanager.Secret
	// SecretArns and ParameterArns are what the connectors may read.
	SecretArns    []string
	ParameterArns []string
	key           awskms.IKey
	awsRegion     string
}

// NewTokens creates lethe/<region>/<subsystem>/token for every subsystem
// whose token kind is secretsmanager without a name, and resolves the ARNs
// of named secrets and SSM parameters. The created secret starts with a
// random value that no subsystem accepts: its owner stores the real token.
func NewTokens(scope constructs.Construct, id string, p TokensProps) Tokens {
	c := constructs.NewConstruct(scope, jsii.String(id))
	stack := awscdk.Stack_Of(scope)
	t := Tokens{Created: map[string]awssecretsmanager.Secret{}, key: p.Key, awsRegion: p.Region.AWSRegion}
	for _, s := range p.Region.Subsystems {
		switch s.Token.Kind {
		case config.TokenSecretsManager:
			if s.Token.Name == "" {
				secret := awssecretsmanager.NewSecret(c, jsii.String(s.Name), &awssecretsmanager.SecretProps{
					SecretName:    jsii.String(config.DefaultTokenName(p.Region.Name, s.Name)),
					Description:   jsii.String(fmt.Sprintf("Bearer token Lethe %s sends to %s; its owner stores the token here", p.Region.Name, s.Name)),
					EncryptionKey: p.Key,
					RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
				})
				suppress(secret, "SMG4", "The token is issued by the subsystem's owner, outside Lethe; Lethe cannot rotate it. The owner replaces the secret value when they rotate the token on their side.")
				t.Created[s.Name] = secret
				t.SecretArns = append(t.SecretArns, *secret.SecretArn())
				continue
			}
			// A named secret's ARN ends in a random 6-character suffix.
			t.SecretArns = append(t.SecretArns, *stack.FormatArn(&awscdk.ArnComponents{
				Service: jsii.String("secretsmanager"), Resource: jsii.String("secret"),
				ResourceName: jsii.String(s.Token.Name + "-??????"), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME,
			}))
		case config.TokenSSM:
			t.ParameterArns = append(t.ParameterArns, *stack.FormatArn(&awscdk.ArnComponents{
				Service: jsii.String("ssm"), Resource: jsii.String("parameter"),
				ResourceName: jsii.String(strings.TrimPrefix(s.Token.Name, "/")), ArnFormat: awscdk.ArnFormat_SLASH_RESOURCE_NAME,
			}))
		}
	}
	return t
}

// GrantRead lets a connector read exactly the region's token secrets and
// parameters, and decrypt the secrets this stack created through Secrets
// Manager only.
func (t Tokens) GrantRead(role awsiam.IRole) {
	if len(t.SecretArns) > 0 {
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("secretsmanager:GetSecretValue"),
			Resources: jsii.Strings(t.SecretArns...),
		}))
	}
	if len(t.Created) > 0 {
		grantKeyUse(role, t.key, "secretsmanager", t.awsRegion, "kms:Decrypt")
	}
	if len(t.ParameterArns) > 0 {
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("ssm:GetParameter"),
			Resources: jsii.Strings(t.ParameterArns...),
		}))
	}
}

// WithTokenNames returns a copy of the region whose created secrets carry
// their names, so that the connectors read the secret name from
// LETHE_CONFIG instead of deriving it.
func (t Tokens) WithTokenNames(region config.Region) config.Region {
	out := region
	out.Subsystems = append([]config.Subsystem(nil), region.Subsystems...)
	for i, s := range out.Subsystems {
		if _, ok := t.Created[s.Name]; ok {
			out.Subsystems[i].Token.Name = config.DefaultTokenName(region.Name, s.Name)
		}
	}
	return out
}
