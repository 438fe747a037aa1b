// Package stripe is Lethe's built-in Stripe connector: it erases a
// subject's Stripe customers, every customer whose email is the subject id,
// listed with Stripe's email filter (auto-paging) and deleted one by one,
// with the official client stripe-go. Deleting a customer in Stripe deletes
// its payment methods and cancels its subscriptions; Stripe keeps what the
// law obliges it to keep (charges, invoices) itself.
//
// stripe-go retries broken connections and 429 lock timeouts itself
// (MaxNetworkRetries); every other answer of Stripe's, 5xx included, it
// returns at once, so rate limiting (429), conflicts (409) and 5xx are
// retried here with back-off. A customer already deleted (404
// resource_missing) counts as deleted, so Erase is idempotent.
package stripe

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	stripe "github.com/stripe/stripe-go/v82"

	"github.com/lethe-erasure/lethe/internal/connector"
)

// MatchEmail matches the subject id against the customers' email (exact
// and case-sensitive, as Stripe's filter is).
const MatchEmail = "email"

// Config is a stripe connector as configuration declares it.
type Config struct {
	// APIKeySecret is the name or ARN of the Secrets Manager secret holding
	// the restricted API key (Customers: write). The caller reads it and
	// passes the key to New.
	APIKeySecret string `json:"apiKeySecret"`
	// Match says what the subject id is: "email" (the default and only
	// value), the customers' email.
	Match string `json:"match,omitempty"`
	// Endpoint overrides Stripe's API base URL (stripe-mock, a proxy).
	Endpoint string `json:"endpoint,omitempty"`
}

// Validate checks the configuration; errors name the key under prefix.
func (c Config) Validate(prefix string) error {
	bad := func(key, msg string) error { return connector.Invalid(prefix, key, msg) }
	if c.APIKeySecret == "" {
		return bad("apiKeySecret", "is required: the name or ARN of the Secrets Manager secret holding the restricted API key")
	}
	switch c.Match {
	case "", MatchEmail:
	default:
		return bad("match", fmt.Sprintf("must be %q (the subject id is the customer's email), not %q", MatchEmail, c.Match))
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return bad("endpoint", "must be an absolute http(s) URL, e.g. http://127.0.0.1:12111")
		}
	}
	return nil
}

// MaxNetworkRetries is how often stripe-go retries a call that failed by a
// broken connection (or a 429 lock timeout).
const MaxNetworkRetries = 2

// Eraser erases a subject's customers in one Stripe account.
type Eraser struct {
	cfg    Config
	key    string
	client *stripe.Client
	connector.Budget
	// Retry retries calls Stripe rate-limited (429) or failed with a
	// conflict (409) or on its side (5xx).
	Retry connector.Retrier
}

var _ connector.Eraser = (*Eraser)(nil)

// New returns the connector of a validated configuration, calling Stripe
// with apiKey (the content of cfg.APIKeySecret).
func New(cfg Config, apiKey string) *Eraser {
	bc := &stripe.BackendConfig{
		MaxNetworkRetries: stripe.Int64(MaxNetworkRetries),
		// stripe-go's default logger writes Stripe's error messages, which
		// may quote a part of the key; the connector's errors say enough.
		LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull},
	}
	if cfg.Endpoint != "" {
		bc.URL = stripe.String(cfg.Endpoint)
	}
	backends := &stripe.Backends{
		API:         stripe.GetBackendWithConfig(stripe.APIBackend, bc),
		Connect:     stripe.GetBackendWithConfig(stripe.ConnectBackend, bc),
		Uploads:     stripe.GetBackendWithConfig(stripe.UploadsBackend, bc),
		MeterEvents: stripe.GetBackendWithConfig(stripe.MeterEventsBackend, bc),
	}
	return &Eraser{cfg: cfg, key: apiKey, client: stripe.NewClient(apiKey, stripe.WithBackends(backends)),
		Budget: connector.Budget{Margin: connector.DefaultMargin},
		Retry:  connector.Retrier{Attempts: 6, Throttled: transient}}
}

// Erase deletes every customer whose email is subject.
func (e *Eraser) Erase(ctx context.Context, subject string) (connector.Outcome, error) {
	if e.key == "" {
		return "", &connector.Error{Code: "NoAPIKey", Detail: "the secret " + e.cfg.APIKeySecret + " holds no API key"}
	}
	var ids []string
	err := e.Retry.Do(ctx, func() error {
		ids = ids[:0]
		params := &stripe.CustomerListParams{Email: stripe.String(subject)}
		params.Limit = stripe.Int64(100)
		for c, err := range e.client.V1Customers.List(ctx, params) {
			if err != nil {
				return err
			}
			if !c.Deleted {
				ids = append(ids, c.ID)
			}
		}
		return nil
	})
	if err != nil {
		return "", e.classify("listing customers by email", err)
	}
	if len(ids) == 0 {
		return connector.NotFound, nil
	}
	for i, id := range ids {
		// Out of time with customers left, after deleting some (so each
		// call gets on).
		if i > 0 && e.Spent(ctx) {
			return connector.More, nil
		}
		err := e.Retry.Do(ctx, func() error {
			_, err := e.client.V1Customers.Delete(ctx, id, nil)
			return err
		})
		if err != nil && !missing(err) {
			return "", e.classify("deleting a customer", err)
		}
	}
	return connector.Deleted, nil
}

func stripeError(err error) *stripe.Error {
	var se *stripe.Error
	if errors.As(err, &se) {
		return se
	}
	return nil
}

// transient: an answer of Stripe's worth another call, which stripe-go
// does not make (it retries only broken connections and lock timeouts).
func transient(err error) bool {
	se := stripeError(err)
	return se != nil && (se.HTTPStatusCode == http.StatusTooManyRequests ||
		se.HTTPStatusCode == http.StatusConflict || se.HTTPStatusCode >= 500)
}

// missing: the customer is gone already.
func missing(err error) bool {
	se := stripeError(err)
	return se != nil && se.HTTPStatusCode == http.StatusNotFound &&
		(se.Code == stripe.ErrorCodeResourceMissing || se.Code == "")
}

// classify types an error as the HTTP contract's answers are typed. Its
// detail names the call, the secret and Stripe's request id, never the
// subject (Stripe's messages may quote the email or a part of the key, so
// they are left out).
func (e *Eraser) classify(op string, err error) error {
	se := stripeError(err)
	if se == nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return &connector.Error{Retryable: true, Code: "Timeout", Detail: op + " did not finish in time"}
		}
		return &connector.Error{Retryable: true, Code: "NoAnswer", Detail: op + ": no (valid) answer from Stripe"}
	}
	status := se.HTTPStatusCode
	code := strconv.Itoa(status)
	if se.Code != "" {
		code += " " + string(se.Code)
	}
	req := ""
	if se.RequestID != "" {
		req = " (request " + se.RequestID + ")"
	}
	ce := &connector.Error{Code: code}
	switch {
	case status == http.StatusTooManyRequests:
		ce.Retryable, ce.Detail = true, op+" was rate-limited by Stripe"+req
	case status >= 500 || status == http.StatusConflict:
		ce.Retryable, ce.Detail = true, op+" failed on Stripe's side"+req
	case status == http.StatusUnauthorized:
		ce.Detail = op + ": the API key was refused: check the secret " + e.cfg.APIKeySecret +
			" holds a valid, unexpired restricted key of the right account and mode (live or test)" + req
	case status == http.StatusForbidden:
		ce.Detail = op + " was denied: the restricted key in the secret " + e.cfg.APIKeySecret +
			" needs the Customers write permission" + req
	default:
		ce.Detail = op + " was refused by Stripe (" + string(se.Type) + "): check the connector's configuration" + req
	}
	return ce
}
