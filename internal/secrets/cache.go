package secrets

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/lethe-erasure/lethe/internal/config"
)

// DefaultTTL is how long a token is reused before it is read again: short
// enough that a rotated token is picked up within minutes, long enough that
// a Lambda container reads each secret a handful of times an hour.
const DefaultTTL = 5 * time.Minute

// Errors of Cache.Token that are about the configuration, not the store.
var (
	// ErrUnknownKind means the token source's kind is not one Lethe knows.
	ErrUnknownKind = errors.New("unknown token source kind")
	// ErrNoName means the token source names no secret or parameter.
	ErrNoName = errors.New("token source names no secret or parameter")
	// ErrMalformed means the stored value cannot be an HTTP bearer token.
	ErrMalformed = errors.New("stored value is not a usable bearer token")
)

// Cache hands out tokens, reading each from its store at most once per TTL.
// It is safe for concurrent use (the local runtime calls handlers from many
// goroutines); failures are not cached, so the next call tries again.
type Cache struct {
	stores map[string]fetcher
	ttl    time.Duration
	now    func() time.Time

	mu      sync.Mutex
	entries map[config.TokenSource]entry
}

type entry struct {
	token   string
	expires time.Time
}

// NewCache builds the per-container token cache over the two stores. now is
// the clock (time.Now in Lambda; tests inject their own).
func NewCache(secretsManager, parameterStore fetcher, ttl time.Duration, now func() time.Time) *Cache {
	return &Cache{
		stores:  map[string]fetcher{config.TokenSecretsManager: secretsManager, config.TokenSSM: parameterStore},
		ttl:     ttl,
		now:     now,
		entries: map[config.TokenSource]entry{},
	}
}

// Token returns the bearer token of src, or "" for kind none (the subsystem
// wants no Authorization header).
func (c *Cache) Token(ctx context.Context, src config.TokenSource) (string, error) {
	if src.Kind == config.TokenNone {
		return "", nil
	}
	store, ok := c.stores[src.Kind]
	if !ok || store == nil {
		return "", fmt.Errorf("%q: %w", src.Kind, ErrUnknownKind)
	}
	if src.Name == "" {
		return "", fmt.Errorf("%s: %w", src.Kind, ErrNoName)
	}
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[src]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.token, nil
	}
	raw, err := store.Fetch(ctx, src.Name)
	if err != nil {
		return "", fmt.Errorf("read %s %s: %w", src.Kind, src.Name, err)
	}
	token := strings.TrimSpace(raw)
	if token == "" {
		return "", fmt.Errorf("%s %s: %w", src.Kind, src.Name, ErrEmpty)
	}
	if strings.IndexFunc(token, func(r rune) bool { return r > unicode.MaxASCII || unicode.IsControl(r) || unicode.IsSpace(r) }) >= 0 {
		// Never echo the value: it is a credential.
		return "", fmt.Errorf("%s %s: %w", src.Kind, src.Name, ErrMalformed)
	}
	c.mu.Lock()
	c.entries[src] = entry{token: token, expires: now.Add(c.ttl)}
	c.mu.Unlock()
	return token, nil
}

// Invalidate forgets the cached token of src, so that a subsystem answering
// 401 right after a rotation gets the new token on the next call.
func (c *Cache) Invalidate(src config.TokenSource) {
	c.mu.Lock()
	delete(c.entries, src)
	c.mu.Unlock()
}
