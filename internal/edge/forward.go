package edge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/pause"
)

// Doer sends one HTTP request; *http.Client implements it. Build it with
// NewHTTPClient so that redirects are answers, not followed.
type Doer interface {
	Do(req *http.Request) (*http.Response, error)
}

var _ Doer = (*http.Client)(nil)

// NewHTTPClient returns the client the edge calls regions with: it never
// follows a redirect (a region answering 3xx is misconfigured, and a body
// must not be re-posted to wherever a Location points) and keeps
// connections to the regions alive across invocations.
func NewHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 32
	return &http.Client{
		Transport:     t,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// RetryPolicy bounds the calls to a region: Attempts tries, each cut off
// after Timeout, with Backoff[i] between try i+1 and i+2 (the last entry
// repeats). The default stays under 20 s in all, inside the fan-out
// function's timeout and API Gateway's 30 s.
type RetryPolicy struct {
	Attempts int
	Timeout  time.Duration
	Backoff  []time.Duration
}

// DefaultRetry is 3 attempts of at most 5 s with 250 ms and 1 s between
// them: 16.25 s at worst.
var DefaultRetry = RetryPolicy{Attempts: 3, Timeout: 5 * time.Second, Backoff: []time.Duration{250 * time.Millisecond, time.Second}}

// Budget is the longest a call under the policy can take.
func (p RetryPolicy) Budget() time.Duration {
	d := time.Duration(p.Attempts) * p.Timeout
	for i := 0; i < p.Attempts-1; i++ {
		d += p.backoff(i)
	}
	return d
}

func (p RetryPolicy) backoff(i int) time.Duration {
	if len(p.Backoff) == 0 {
		return 0
	}
	if i >= len(p.Backoff) {
		i = len(p.Backoff) - 1
	}
	return p.Backoff[i]
}

// outgoing is one request to a region, rebuilt for every attempt.
type outgoing struct {
	method string
	url    string
	header http.Header
	body   []byte
	// sign, when set, signs each attempt (SigV4 for IAM-authorised routes).
	sign func(ctx context.Context, req *http.Request, body []byte) error
}

// answer is a region's final answer: status and at most maxAnswerBytes of
// its body.
type answer struct {
	status int
	body   []byte
}

// maxAnswerBytes bounds what is read of a region's answer.
const maxAnswerBytes = 64 << 10

// retryable reports a status worth another attempt.
func retryable(status int) bool {
	return status >= 500 || status == http.StatusTooManyRequests || status == http.StatusRequestTimeout
}

// callRegion sends o to region under the policy. It returns the answer of the
// first attempt that was not retryable, or *RegionUnavailable when every
// attempt failed or was retryable. It never returns an error that quotes a
// body.
func callRegion(ctx context.Context, client Doer, p RetryPolicy, sleep func(context.Context, time.Duration) error, region string, o outgoing) (answer, error) {
	var last answer
	var lastErr error
	for i := 0; i < p.Attempts; i++ {
		if i > 0 {
			if err := sleep(ctx, p.backoff(i-1)); err != nil {
				return answer{}, &RegionUnavailable{Region: region, Status: last.status, Err: err}
			}
		}
		a, err := attempt(ctx, client, p.Timeout, o)
		if err == nil && !retryable(a.status) {
			return a, nil
		}
		last, lastErr = a, err
		if ctx.Err() != nil {
			break
		}
	}
	return answer{}, &RegionUnavailable{Region: region, Status: last.status, Err: lastErr}
}

func attempt(ctx context.Context, client Doer, timeout time.Duration, o outgoing) (answer, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, o.method, o.url, bytes.NewReader(o.body))
	if err != nil {
		return answer{}, err
	}
	for k, vs := range o.header {
		req.Header[k] = append([]string(nil), vs...)
	}
	if o.body == nil {
		req.Body, req.GetBody, req.ContentLength = http.NoBody, nil, 0
	}
	if o.sign != nil {
		if err := o.sign(ctx, req, o.body); err != nil {
			return answer{}, fmt.Errorf("sign request: %w", err)
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		return answer{}, redactURLError(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return answer{status: resp.StatusCode}, fmt.Errorf("read answer: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // keep the connection reusable
	return answer{status: resp.StatusCode, body: body}, nil
}

// redactURLError drops the URL from a transport error: a redirect URL's
// path could hold a tenant key or more.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// errorCodeOf returns the code of a house error body, "" otherwise.
func errorCodeOf(body []byte) string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || len(e.Error.Code) > 64 {
		return ""
	}
	return e.Error.Code
}

// Forwarder posts webhooks to a region's receiver, byte for byte, with the
// provider's headers and query parameters unchanged.
type Forwarder struct {
	client Doer
	policy RetryPolicy
	sleep  func(context.Context, time.Duration) error
	// release posts to the receiver's IAM-authorised release route
	// (<apiUrl>/webhooks/<provider>/release), signing with sign: what a
	// quarantine release is, because the provider's signed timestamp may
	// be older there than the public route's replay window.
	release bool
	sign    func(awsRegion string) func(ctx context.Context, req *http.Request, body []byte) error
}

// NewForwarder builds a forwarder over client with the retry policy.
func NewForwarder(client Doer, policy RetryPolicy) *Forwarder {
	return &Forwarder{client: client, policy: policy, sleep: pause.For}
}

// webhookPost is one webhook as the region's receiver must see it.
type webhookPost struct {
	provider string
	body     []byte
	header   http.Header
	rawQuery string
}

// Forward posts w to <region apiUrl>/webhooks/<provider>. It returns nil
// once the region answered 2xx, *Misrouted on 409, *RegionRejected on any
// other final answer, *RegionUnavailable when the retries ran out and
// *RegionNotDeployed for a region without an apiUrl.
func (f *Forwarder) Forward(ctx context.Context, r config.RegionEndpoint, w webhookPost) error {
	if r.APIURL == "" {
		return &RegionNotDeployed{Region: r.Name}
	}
	path := "/webhooks/" + url.PathEscape(w.provider)
	o := outgoing{method: http.MethodPost, header: w.header, body: w.body}
	if f.release {
		path += "/release"
		o.sign = f.sign(r.AWSRegion)
	}
	o.url = regionURL(r.APIURL, path)
	if w.rawQuery != "" {
		o.url += "?" + w.rawQuery
	}
	a, err := callRegion(ctx, f.client, f.policy, f.sleep, r.Name, o)
	if err != nil {
		return err
	}
	switch {
	case a.status >= 200 && a.status < 300:
		return nil
	case a.status == http.StatusConflict:
		return &Misrouted{Region: r.Name}
	default:
		return &RegionRejected{Region: r.Name, Status: a.status, Code: errorCodeOf(a.body)}
	}
}
