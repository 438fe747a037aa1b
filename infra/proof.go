package main

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// ProofProps configures the region's proof and forgetting keys.
type ProofProps struct {
	RegionName string
	AWSRegion  string
	// DataKey encrypts the subject key secret.
	DataKey awskms.IKey
}

// Proof holds the region's two keys of proof and forgetting:
//   - SubjectKey, the secret under which Lethe names subjects it has
//     forgotten (HMAC-SHA256, internal/subjectkey): the open-request lock and
//     the suppression list. The stack generates it; it never leaves Secrets
//     Manager except into the functions that name subjects.
//   - SigningKey, the KMS key (ECC_NIST_P256, SIGN_VERIFY) that signs the
//     region's certificates of erasure. Its private half never leaves KMS.
type Proof struct {
	SubjectKey awssecretsmanager.Secret
	SigningKey awskms.Key
	awsRegion  string
}

// NewProof creates the subject key secret and the signing key.
func NewProof(scope constructs.Construct, id string, p ProofProps) Proof {
	c := constructs.NewConstruct(scope, jsii.String(id))
	secret := awssecretsmanager.NewSecret(c, jsii.String("SubjectKey"), &awssecretsmanager.SecretProps{
		SecretName:  jsii.String(fmt.Sprintf("lethe/%s/subject-key", p.RegionName)),
		Description: jsii.String(fmt.Sprintf("Lethe %s: the key of subjects' keyed hashes (open-request locks, the suppression list)", p.RegionName)),
		// 64 characters of [A-Za-z0-9], read as base64: 48 random bytes.
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			PasswordLength: jsii.Number(64), ExcludePunctuation: jsii.Bool(true), IncludeSpace: jsii.Bool(false),
		},
		EncryptionKey: p.DataKey,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	suppress(secret, "SMG4", "The subject key names every forgotten subject on the suppression list: a new key would no longer match them, so it is never rotated. It never leaves Secrets Manager except into the functions that name subjects.")
	signing := awskms.NewKey(c, jsii.String("Signing"), &awskms.KeyProps{
		Alias:         jsii.String(fmt.Sprintf("alias/lethe/%s/certificates", p.RegionName)),
		Description:   jsii.String(fmt.Sprintf("Lethe %s: signs certificates of erasure (ES256)", p.RegionName)),
		KeySpec:       awskms.KeySpec_ECC_NIST_P256,
		KeyUsage:      awskms.KeyUsage_SIGN_VERIFY,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	return Proof{SubjectKey: secret, SigningKey: signing, awsRegion: p.AWSRegion}
}

// GrantSubjectKey lets a function read the subject key (and decrypt it
// through Secrets Manager only).
func (p Proof) GrantSubjectKey(role awsiam.IRole, dataKey awskms.IKey) {
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("secretsmanager:GetSecretValue"),
		Resources: jsii.Strings(*p.SubjectKey.SecretArn()),
	}))
	grantKeyUse(role, dataKey, "secretsmanager", p.awsRegion, "kms:Decrypt")
}

// GrantSign lets the one function that issues certificates sign with the
// signing key.
func (p Proof) GrantSign(role awsiam.IRole) {
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("kms:Sign", "kms:GetPublicKey"),
		Resources: jsii.Strings(*p.SigningKey.KeyArn()),
	}))
}

// GrantPublicKey lets a function read the signing key's public half (the
// API's GET /keys).
func (p Proof) GrantPublicKey(role awsiam.IRole) {
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("kms:GetPublicKey"),
		Resources: jsii.Strings(*p.SigningKey.KeyArn()),
	}))
}
