package local

import (
	"context"
	"fmt"
	"os"
	"strings"
)

// EnvSecrets stands in for Secrets Manager and SSM Parameter Store when
// `lethe local` calls subsystems of your own (--demo=false): the value of
// the secret or parameter NAME is read from the environment variable
// SecretEnvVar(NAME), e.g. lethe/eu/orders/token from
// LETHE_SECRET_LETHE_EU_ORDERS_TOKEN. The environment rather than a file in
// the data directory: tokens stay out of a folder that is easily copied or
// committed, and a shell or a .env loader already manages them. It plugs
// into secrets.NewCache in place of both stores, so tokens go through the
// very cache (TTL, validation, invalidation on 401) Lambda uses.
type EnvSecrets struct {
	lookup func(string) (string, bool)
}

// NewEnvSecrets reads the process environment.
func NewEnvSecrets() *EnvSecrets { return &EnvSecrets{lookup: os.LookupEnv} }

// SecretEnvVar is the environment variable that holds a secret or
// parameter: LETHE_SECRET_ and the name upper-cased, every run of other
// characters than letters and digits one underscore.
func SecretEnvVar(name string) string {
	var b strings.Builder
	b.WriteString("LETHE_SECRET_")
	under := true
	for _, r := range strings.ToUpper(name) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			under = false
		} else if !under {
			b.WriteByte('_')
			under = true
		}
	}
	return strings.TrimSuffix(b.String(), "_")
}

// Fetch returns the secret's value. The error names the variable to set,
// never a value.
func (s *EnvSecrets) Fetch(_ context.Context, name string) (string, error) {
	v, ok := s.lookup(SecretEnvVar(name))
	if !ok || strings.TrimSpace(v) == "" {
		return "", fmt.Errorf("secret %s: set the environment variable %s (lethe local reads secrets from the environment)", name, SecretEnvVar(name))
	}
	return v, nil
}
