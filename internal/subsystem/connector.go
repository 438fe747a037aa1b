// Package subsystem is Lethe's connector to the systems that hold a
// subject's data: the sync delete, async submit and async check task
// handlers of the deletion state machines, speaking the HTTP contract of
// DESIGN.md with a bearer token per subsystem. The subject id is read from
// the requests table by request id (execution history never carries it),
// sent to the subsystem, and nowhere else: not in errors, logs or outputs.
package subsystem

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/progress"
	"github.com/lethe-erasure/lethe/internal/secrets"
)

// subjectLookup finds the subject of a request in the requests table; the
// DynamoDB store (internal/store/dynamo) implements it in Lambda and the
// embedded store locally. It returns erasure.ErrNotFound for an unknown id.
type subjectLookup interface {
	SubjectOf(ctx context.Context, requestID string) (string, error)
}

// tokenSource hands out subsystems' bearer tokens ("" for kind none) and
// forgets one when a subsystem answers 401 to it.
type tokenSource interface {
	Token(ctx context.Context, src config.TokenSource) (string, error)
	Invalidate(src config.TokenSource)
}

var _ tokenSource = (*secrets.Cache)(nil)

// MaxBodyBytes bounds what Lethe reads of a subsystem's answer: the contract's
// answers are a few hundred bytes, and a misbehaving subsystem must not be
// able to exhaust a 128 MB Lambda.
const MaxBodyBytes = 64 << 10

// MaxDetailBytes bounds the detail an async subsystem reports, which travels
// through execution history into the request's report and failure mail.
const MaxDetailBytes = 1024

// MaxTicketBytes bounds a ticket, which travels through execution history.
const MaxTicketBytes = 512

// tracker records each call's answer on the request and decides what
// comes next (internal/progress).
type tracker interface {
	Record(ctx context.Context, id string, target erasure.Target, s progress.Step, now time.Time) (progress.Decision, error)
}

var _ tracker = (*progress.Tracker)(nil)

// Connector holds what the three task handlers share: one HTTP client, the
// token cache, the subject lookup and the progress tracker, built once per
// Lambda container.
type Connector struct {
	client   *http.Client
	tokens   tokenSource
	subjects subjectLookup
	progress tracker
	log      *slog.Logger
	region   *config.Region
	// callbacks, tasks and callbackURL serve subsystems that call back.
	callbacks   CallbackStore
	tasks       TaskSender
	callbackURL string
	// erasers are the built-in connectors (the connector function's).
	erasers EraserSource
}

// Option configures a Connector.
type Option func(*Connector)

// WithLogger sets where the handlers log (JSON lines in Lambda). Default: a
// logger that discards.
func WithLogger(l *slog.Logger) Option { return func(c *Connector) { c.log = l } }

// WithRegion gives the connector its region's configuration: it names the
// default secret of a subsystem whose token source names none, and it is the
// allow-list of subsystems: a task payload whose subsystem is not configured
// there (other base URL, mode or token) is refused before the subject id is
// read, so a forged payload cannot send a subject id elsewhere. Without it,
// any payload's target is trusted (the local runtime's choice to make).
func WithRegion(r config.Region) Option { return func(c *Connector) { c.region = &r } }

// New builds the connector. client should come from NewHTTPClient.
func New(client *http.Client, tokens tokenSource, subjects subjectLookup, progress tracker, opts ...Option) *Connector {
	c := &Connector{client: client, tokens: tokens, subjects: subjects, progress: progress, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(c)
	}
	return c
}

// NewHTTPClient is the client the connectors share: it follows no redirects
// (a redirect would resend the subject id and the token to wherever a
// subsystem points), and bounds connection set-up; each call's own timeout
// comes from the subsystem's configuration.
func NewHTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 4
	tr.ResponseHeaderTimeout = 60 * time.Second
	return &http.Client{
		Transport:     tr,
		Timeout:       60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// answer is what came back from one HTTP call.
type answer struct {
	status   int
	body     []byte
	tooLarge bool
}

// do makes one HTTP call to t with its token and timeout. subject is only
// used to scrub it from transport error texts; path is appended to the base
// URL and must already be escaped. A 401 with a token is retried once with
// a freshly read token, in case the token was rotated under the cache, within
// the same timeout.
func (c *Connector) do(ctx context.Context, t erasure.Target, call Call, method, path string, body []byte, subject string) (answer, error) {
	// One budget for the call and its retry, so that the function's
	// timeout (the subsystem's timeout plus a margin) holds.
	ctx, cancel := context.WithTimeout(ctx, time.Duration(t.TimeoutSeconds)*time.Second)
	defer cancel()
	a, token, err := c.once(ctx, t, call, method, path, body, subject, "")
	if err != nil || a.status != http.StatusUnauthorized || token == "" {
		return a, err
	}
	c.tokens.Invalidate(t.Token)
	fresh, err := c.token(ctx, t)
	if err != nil || fresh == token {
		return a, err
	}
	c.log.InfoContext(ctx, "token refused, retrying with a fresh one", "subsystem", t.Name, "op", call.Op)
	a, _, err = c.once(ctx, t, call, method, path, body, subject, fresh)
	return a, err
}

func (c *Connector) token(ctx context.Context, t erasure.Target) (string, error) {
	tok, err := c.tokens.Token(ctx, t.Token)
	if err != nil {
		return "", &TokenUnavailable{Subsystem: t.Name, Source: t.Token.Kind + " " + t.Token.Name, Err: err}
	}
	return tok, nil
}

func (c *Connector) once(ctx context.Context, t erasure.Target, call Call, method, path string, body []byte, subject, token string) (answer, string, error) {
	if token == "" {
		var err error
		if token, err = c.token(ctx, t); err != nil {
			return answer{}, "", err
		}
	}
	timeout := time.Duration(t.TimeoutSeconds) * time.Second
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(t.BaseURL, "/")+path, rd)
	if err != nil {
		// Validated base URLs and escaped paths do not get here; the error
		// text would hold the URL, so it is not passed on.
		return answer{}, token, &InvalidInput{Field: "subsystem.baseUrl", Reason: "does not make a valid request URL"}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "lethe-erasure")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client := *c.client
	client.Timeout = timeout
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return answer{}, token, &SubsystemUnavailable{Call: call, Reason: transportReason(err, timeout, subject)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodyBytes+1))
	if err != nil {
		return answer{}, token, &SubsystemUnavailable{Call: call, Reason: "answer broke off: " + transportReason(err, timeout, subject)}
	}
	a := answer{status: resp.StatusCode, body: data}
	if len(data) > MaxBodyBytes {
		a.body, a.tooLarge = nil, true
	}
	c.log.InfoContext(ctx, "subsystem answered", "subsystem", t.Name, "op", call.Op, "attempt", call.Attempt,
		"httpStatus", resp.StatusCode, "ms", time.Since(start).Milliseconds())
	return a, token, nil
}

// transportReason describes a failed call without the URL (*url.Error puts
// the URL, which holds the subject id, in its text).
func transportReason(err error, timeout time.Duration, subject string) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return fmt.Sprintf("timed out after %s", timeout)
	case errors.Is(err, context.Canceled):
		return "call cancelled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return erasure.Redact(err.Error(), subject)
}

// escapeSegment path-escapes one URL path segment, including "." and ".."
// which would otherwise be dot-segments that a proxy may resolve away.
func escapeSegment(s string) string {
	if s == "." || s == ".." {
		return strings.Repeat("%2E", len(s))
	}
	return url.PathEscape(s)
}

// classify maps the statuses every call shares: 408, 429 and 5xx are worth
// retrying, a redirect is outside the contract, other 4xx are refusals. It
// returns nil for 1xx-less 2xx and for 404, which each handler reads itself.
func classify(call Call, a answer) error {
	switch s := a.status; {
	case s == http.StatusRequestTimeout || s == http.StatusTooManyRequests || s >= 500:
		return &SubsystemUnavailable{Call: call, StatusCode: s}
	case s >= 300 && s < 400:
		return &SubsystemProtocolError{Call: call, StatusCode: s, Reason: "redirects are not followed (the base URL must point at the API itself)"}
	case s == http.StatusNotFound:
		return nil
	case s >= 400:
		return &SubsystemRejected{Call: call, StatusCode: s}
	case s < 200:
		return &SubsystemProtocolError{Call: call, StatusCode: s, Reason: "informational status as final answer"}
	}
	return nil
}

// track records the answer of one call (err, or step when err is nil) on
// the request. An unavailable subsystem (or token store) is not an error of
// the task: it is recorded, and the decision says how long to wait and
// whether to give up. Any other err is recorded as a refusal and returned.
func (c *Connector) track(ctx context.Context, id string, t erasure.Target, call Call, err error, step progress.Step, now time.Time) (progress.Decision, progress.Step, error) {
	if now.IsZero() {
		now = time.Now()
	}
	var unavailable *SubsystemUnavailable
	var noToken *TokenUnavailable
	var se *erasure.StoreUnavailable
	switch {
	case errors.As(err, &unavailable) || errors.As(err, &noToken):
		c.log.WarnContext(ctx, "subsystem unavailable; persisting", "requestId", id, "subsystem", t.Name, "op", call.Op,
			"errorType", errorName(err), "error", err.Error())
		step = progress.Step{Called: unavailable != nil, Answer: progress.Unavailable, Error: CleanDetail(err.Error(), "")}
	case errors.As(err, &se):
		return progress.Decision{}, step, c.fail(ctx, id, t.Name, call.Op, err)
	case err != nil:
		var in *InvalidInput
		var nf *RequestNotFound
		called := !errors.As(err, &in) && !errors.As(err, &nf)
		if _, rerr := c.progress.Record(ctx, id, t, progress.Step{Called: called, Answer: progress.Refused, Error: CleanDetail(err.Error(), "")}, now); rerr != nil {
			c.log.WarnContext(ctx, "progress not recorded", "requestId", id, "subsystem", t.Name, "error", rerr.Error())
		}
		return progress.Decision{}, step, c.fail(ctx, id, t.Name, call.Op, err)
	}
	d, rerr := c.progress.Record(ctx, id, t, step, now)
	if rerr != nil {
		return progress.Decision{}, step, c.fail(ctx, id, t.Name, call.Op, rerr)
	}
	return d, step, nil
}
