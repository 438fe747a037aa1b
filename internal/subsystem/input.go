package subsystem

import (
	"context"
	"errors"
	"net/url"
	"slices"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
)

// target checks a task's subsystem against what the state machine files and
// the region's configuration allow, and fills the default secret name.
func (c *Connector) target(requestID string, t erasure.Target, mode config.Mode) (erasure.Target, error) {
	if _, err := erasure.ParseID(requestID); err != nil {
		return t, &InvalidInput{Field: "requestId", Reason: "is not a request id (er_<region>_<uuidv7>)"}
	}
	if t.Name == "" {
		return t, &InvalidInput{Field: "subsystem.name", Reason: "is missing"}
	}
	if t.Mode != mode {
		return t, &InvalidInput{Field: "subsystem.mode", Reason: "of " + t.Name + " is " + string(t.Mode) + ", this connector is " + string(mode)}
	}
	u, err := url.Parse(t.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return t, &InvalidInput{Field: "subsystem.baseUrl", Reason: "of " + t.Name + " is not an absolute http(s) URL without query, fragment or credentials"}
	}
	if t.TimeoutSeconds == 0 {
		t.TimeoutSeconds = config.DefaultTimeoutSeconds
	}
	if t.TimeoutSeconds < 1 || t.TimeoutSeconds > 60 {
		return t, &InvalidInput{Field: "subsystem.timeoutSeconds", Reason: "of " + t.Name + " must be between 1 and 60"}
	}
	if t.Token.Kind == "" {
		t.Token.Kind = config.TokenSecretsManager
	}
	if t.Token.Kind == config.TokenSecretsManager && t.Token.Name == "" && c.region != nil {
		t.Token.Name = config.DefaultTokenName(c.region.Name, t.Name)
	}
	if c.region != nil {
		s, ok := c.region.Subsystem(t.Name)
		if !ok {
			return t, &InvalidInput{Field: "subsystem.name", Reason: t.Name + " is not a subsystem of region " + c.region.Name}
		}
		want := c.region.TokenOf(s)
		switch {
		case s.Mode != t.Mode:
			return t, &InvalidInput{Field: "subsystem.mode", Reason: "of " + t.Name + " differs from the region's configuration"}
		case s.BaseURL != t.BaseURL:
			return t, &InvalidInput{Field: "subsystem.baseUrl", Reason: "of " + t.Name + " differs from the region's configuration"}
		case s.Callback != t.Callback:
			return t, &InvalidInput{Field: "subsystem.callback", Reason: "of " + t.Name + " differs from the region's configuration"}
		case want != t.Token:
			return t, &InvalidInput{Field: "subsystem.token", Reason: "of " + t.Name + " differs from the region's configuration"}
		}
	}
	if !slices.Contains([]string{config.TokenSecretsManager, config.TokenSSM, config.TokenNone}, t.Token.Kind) {
		return t, &InvalidInput{Field: "subsystem.token.kind", Reason: "of " + t.Name + " must be secretsmanager, ssm or none"}
	}
	if t.Token.Kind != config.TokenNone && t.Token.Name == "" {
		return t, &InvalidInput{Field: "subsystem.token.name", Reason: "of " + t.Name + " is missing"}
	}
	return t, nil
}

// subject reads the subject id of a request.
func (c *Connector) subject(ctx context.Context, requestID string) (string, error) {
	s, err := c.subjects.SubjectOf(ctx, requestID)
	switch {
	case errors.Is(err, erasure.ErrNotFound):
		return "", &RequestNotFound{RequestID: requestID}
	case err != nil:
		return "", &erasure.StoreUnavailable{Op: "look up the subject of " + requestID, Err: err}
	case s == "":
		return "", &RequestNotFound{RequestID: requestID}
	}
	return s, nil
}
