package edge

import (
	"context"
	"errors"
	"fmt"

	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/secrets"
)

// Secrets hands out tenants' webhook signing secrets at the edge.
type Secrets interface {
	// WebhookSecret returns the tenant's secret for provider, or an error
	// wrapping ErrNoSecret when the edge holds none (an unknown tenant, or
	// a registered one whose secret was never put at the edge).
	WebhookSecret(ctx context.Context, provider, tenant string) ([]byte, error)
}

// ErrNoSecret means the edge holds no webhook secret for the tenant.
var ErrNoSecret = errors.New("no webhook secret at the edge")

// tokenCache is what SecretsManagerSecrets needs of secrets.Cache.
type tokenCache interface {
	Token(ctx context.Context, src config.TokenSource) (string, error)
}

var (
	_ tokenCache = (*secrets.Cache)(nil)
	_ Secrets    = (*CachedSecrets)(nil)
)

// CachedSecrets reads webhook secrets from Secrets Manager through the
// container's token cache (each secret read at most once per TTL), under
// config.WebhookSecretName(scope, provider, tenant).
type CachedSecrets struct {
	cache tokenCache
	scope string
}

// NewCachedSecrets adapts a token cache; scope is config.EdgeScope at the
// edge.
func NewCachedSecrets(cache tokenCache, scope string) *CachedSecrets {
	return &CachedSecrets{cache: cache, scope: scope}
}

// WebhookSecret implements Secrets. A secret that does not exist, or exists
// without a value, is ErrNoSecret; any other failure is returned as is.
func (s *CachedSecrets) WebhookSecret(ctx context.Context, provider, tenant string) ([]byte, error) {
	name := config.WebhookSecretName(s.scope, provider, tenant)
	v, err := s.cache.Token(ctx, config.TokenSource{Kind: config.TokenSecretsManager, Name: name})
	var nf *smtypes.ResourceNotFoundException
	switch {
	case err == nil:
		return []byte(v), nil
	case errors.As(err, &nf), errors.Is(err, secrets.ErrEmpty):
		return nil, fmt.Errorf("%s: %w", name, ErrNoSecret)
	}
	return nil, err
}

// StaticSecrets serves secrets from memory, keyed "<provider>/<tenant>":
// the local runtime's configuration-supplied secrets and tests.
type StaticSecrets map[string]string

var _ Secrets = StaticSecrets(nil)

// WebhookSecret implements Secrets.
func (s StaticSecrets) WebhookSecret(_ context.Context, provider, tenant string) ([]byte, error) {
	if v, ok := s[provider+"/"+tenant]; ok && v != "" {
		return []byte(v), nil
	}
	return nil, ErrNoSecret
}
