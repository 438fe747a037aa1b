package secrets

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/lethe-erasure/lethe/internal/config"
)

// fakeSM records GetSecretValue calls and answers from a map.
type fakeSM struct {
	values map[string]*string
	err    error
	calls  []secretsmanager.GetSecretValueInput
}

func (f *fakeSM) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.calls = append(f.calls, *in)
	if f.err != nil {
		return nil, f.err
	}
	v, ok := f.values[aws.ToString(in.SecretId)]
	if !ok {
		return nil, errors.New("ResourceNotFoundException: Secrets Manager can't find the specified secret")
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: v}, nil
}

type fakeSSM struct {
	values map[string]string
	calls  []ssm.GetParameterInput
}

func (f *fakeSSM) GetParameter(_ context.Context, in *ssm.GetParameterInput, _ ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	f.calls = append(f.calls, *in)
	v, ok := f.values[aws.ToString(in.Name)]
	if !ok {
		return nil, errors.New("ParameterNotFound")
	}
	return &ssm.GetParameterOutput{Parameter: &ssmtypes.Parameter{Value: aws.String(v)}}, nil
}

func TestAdaptersAskTheRightThing(t *testing.T) {
	sm := &fakeSM{values: map[string]*string{"lethe/eu/projects/token": aws.String("s3cr3t\n")}}
	ps := &fakeSSM{values: map[string]string{"/lethe/orders": "p4ram"}}
	c := NewCache(NewSecretsManager(sm), NewSSM(ps), DefaultTTL, time.Now)

	got, err := c.Token(t.Context(), config.TokenSource{Kind: config.TokenSecretsManager, Name: "lethe/eu/projects/token"})
	if err != nil || got != "s3cr3t" {
		t.Fatalf("secretsmanager token = %q, %v; want s3cr3t (trimmed)", got, err)
	}
	got, err = c.Token(t.Context(), config.TokenSource{Kind: config.TokenSSM, Name: "/lethe/orders"})
	if err != nil || got != "p4ram" {
		t.Fatalf("ssm token = %q, %v", got, err)
	}
	if len(ps.calls) != 1 || !aws.ToBool(ps.calls[0].WithDecryption) {
		t.Errorf("GetParameter calls = %+v, want one WithDecryption", ps.calls)
	}
	if len(sm.calls) != 1 || aws.ToString(sm.calls[0].SecretId) != "lethe/eu/projects/token" {
		t.Errorf("GetSecretValue calls = %+v", sm.calls)
	}
}

func TestTokenErrors(t *testing.T) {
	sm := &fakeSM{values: map[string]*string{
		"empty":  aws.String("  "),
		"binary": nil,
		"crlf":   aws.String("abc\r\nX-Evil: 1"),
	}}
	c := NewCache(NewSecretsManager(sm), NewSSM(&fakeSSM{}), DefaultTTL, time.Now)
	tests := []struct {
		name string
		src  config.TokenSource
		want error
	}{
		{"unknown kind", config.TokenSource{Kind: "vault", Name: "x"}, ErrUnknownKind},
		{"no name", config.TokenSource{Kind: config.TokenSecretsManager}, ErrNoName},
		{"empty secret", config.TokenSource{Kind: config.TokenSecretsManager, Name: "empty"}, ErrEmpty},
		{"binary secret", config.TokenSource{Kind: config.TokenSecretsManager, Name: "binary"}, ErrEmpty},
		{"header injection", config.TokenSource{Kind: config.TokenSecretsManager, Name: "crlf"}, ErrMalformed},
		{"missing secret", config.TokenSource{Kind: config.TokenSecretsManager, Name: "nope"}, nil},
		{"missing parameter", config.TokenSource{Kind: config.TokenSSM, Name: "/nope"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := c.Token(t.Context(), tt.src)
			if err == nil || tok != "" {
				t.Fatalf("Token = %q, %v; want an error", tok, err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error %v is not %v", err, tt.want)
			}
		})
	}
}

func TestNoneNeedsNoStore(t *testing.T) {
	c := NewCache(nil, nil, DefaultTTL, time.Now)
	if tok, err := c.Token(t.Context(), config.TokenSource{Kind: config.TokenNone}); tok != "" || err != nil {
		t.Fatalf("Token(none) = %q, %v", tok, err)
	}
}

// TestCacheTTL reads once per TTL, re-reads after it, after Invalidate, and
// never caches a failure.
func TestCacheTTL(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	sm := &fakeSM{values: map[string]*string{"s": aws.String("v1")}}
	c := NewCache(NewSecretsManager(sm), nil, 5*time.Minute, clock)
	src := config.TokenSource{Kind: config.TokenSecretsManager, Name: "s"}
	get := func() string {
		t.Helper()
		tok, err := c.Token(t.Context(), src)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	steps := []struct {
		name      string
		advance   time.Duration
		set       string
		fail      bool
		invalid   bool
		want      string
		wantCalls int
	}{
		{name: "first read", want: "v1", wantCalls: 1},
		{name: "cached", advance: 4 * time.Minute, set: "v2", want: "v1", wantCalls: 1},
		{name: "just before expiry", advance: time.Minute - time.Nanosecond, want: "v1", wantCalls: 1},
		{name: "expired", advance: time.Nanosecond, want: "v2", wantCalls: 2},
		{name: "invalidated", set: "v3", invalid: true, want: "v3", wantCalls: 3},
		{name: "failure not cached", advance: 10 * time.Minute, fail: true, wantCalls: 4},
		{name: "recovers", want: "v3", wantCalls: 5},
	}
	for _, s := range steps {
		now = now.Add(s.advance)
		if s.set != "" {
			sm.values["s"] = aws.String(s.set)
		}
		if s.invalid {
			c.Invalidate(src)
		}
		sm.err = nil
		if s.fail {
			sm.err = errors.New("ThrottlingException")
			if _, err := c.Token(t.Context(), src); err == nil {
				t.Fatalf("%s: no error", s.name)
			}
		} else if got := get(); got != s.want {
			t.Errorf("%s: token %q, want %q", s.name, got, s.want)
		}
		if len(sm.calls) != s.wantCalls {
			t.Errorf("%s: %d GetSecretValue calls, want %d", s.name, len(sm.calls), s.wantCalls)
		}
	}
}

type countingFetcher struct {
	mu sync.Mutex
	n  int
}

func (f *countingFetcher) Fetch(context.Context, string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	return "tok", nil
}

func TestCacheConcurrentUse(t *testing.T) {
	f := &countingFetcher{}
	c := NewCache(f, f, time.Hour, time.Now)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			kind := config.TokenSecretsManager
			if i%2 == 0 {
				kind = config.TokenSSM
			}
			if tok, err := c.Token(context.Background(), config.TokenSource{Kind: kind, Name: "/x"}); tok != "tok" || err != nil {
				t.Errorf("Token = %q, %v", tok, err)
			}
		})
	}
	wg.Wait()
	if f.n < 2 {
		t.Errorf("fetches = %d, want at least one per source", f.n)
	}
}
