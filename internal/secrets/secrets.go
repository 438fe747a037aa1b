// Package secrets reads the bearer tokens Lethe presents to subsystems, from
// AWS Secrets Manager or SSM Parameter Store, and caches them per Lambda
// container so that a burst of erasures does not become a burst of
// GetSecretValue calls (each billed, each throttled per account).
package secrets

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// fetcher reads one token by name from one store. The cache uses it; the
// adapters below implement it over the AWS SDK, tests over maps.
type fetcher interface {
	Fetch(ctx context.Context, name string) (string, error)
}

// secretsManagerAPI is the one Secrets Manager call Lethe makes.
type secretsManagerAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// ssmAPI is the one SSM call Lethe makes.
type ssmAPI interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, opts ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

var (
	_ secretsManagerAPI = (*secretsmanager.Client)(nil)
	_ ssmAPI            = (*ssm.Client)(nil)
	_ fetcher           = (*SecretsManager)(nil)
	_ fetcher           = (*SSM)(nil)
)

// ErrEmpty means the secret or parameter exists but holds no token yet: the
// regional stack creates an empty secret for the subsystem's owner to fill.
var ErrEmpty = errors.New("holds no token")

// SecretsManager reads tokens from the SecretString of a Secrets Manager
// secret, Lethe's default token store.
type SecretsManager struct{ api secretsManagerAPI }

// NewSecretsManager adapts a Secrets Manager client (built once by main).
func NewSecretsManager(api secretsManagerAPI) *SecretsManager { return &SecretsManager{api: api} }

// Fetch returns the current value of the secret.
func (s *SecretsManager) Fetch(ctx context.Context, name string) (string, error) {
	out, err := s.api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)})
	if err != nil {
		return "", err
	}
	if out.SecretString == nil {
		return "", fmt.Errorf("secret has no SecretString (binary secrets are not supported): %w", ErrEmpty)
	}
	return *out.SecretString, nil
}

// SSM reads tokens from SecureString (or String) parameters, for teams that
// keep their credentials in Parameter Store.
type SSM struct{ api ssmAPI }

// NewSSM adapts an SSM client (built once by main).
func NewSSM(api ssmAPI) *SSM { return &SSM{api: api} }

// Fetch returns the decrypted value of the parameter.
func (s *SSM) Fetch(ctx context.Context, name string) (string, error) {
	out, err := s.api.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
	if err != nil {
		return "", err
	}
	if out.Parameter == nil || out.Parameter.Value == nil {
		return "", fmt.Errorf("parameter has no value: %w", ErrEmpty)
	}
	return *out.Parameter.Value, nil
}
