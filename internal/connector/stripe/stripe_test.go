package stripe_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lethe-erasure/lethe/internal/connector"
	stripeconn "github.com/lethe-erasure/lethe/internal/connector/stripe"
)

const (
	subject = "jane.doe+shop@example.com"
	apiKey  = "rk_test_51SecretKeyThatMustNeverLeak"
	secret  = "lethe/stripe-api-key"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  stripeconn.Config
		want string // "" when valid
	}{
		{"minimal", stripeconn.Config{APIKeySecret: secret}, ""},
		{"full", stripeconn.Config{APIKeySecret: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:stripe-AbCdEf", Match: "email", Endpoint: "http://127.0.0.1:12111"}, ""},
		{"no secret", stripeconn.Config{Match: "email"}, "subsystems.billing.stripe.apiKeySecret: is required"},
		{"bad match", stripeconn.Config{APIKeySecret: secret, Match: "id"}, "subsystems.billing.stripe.match: must be \"email\""},
		{"relative endpoint", stripeconn.Config{APIKeySecret: secret, Endpoint: "127.0.0.1:12111"}, "subsystems.billing.stripe.endpoint: must be an absolute http(s) URL"},
		{"ftp endpoint", stripeconn.Config{APIKeySecret: secret, Endpoint: "ftp://example.com"}, "subsystems.billing.stripe.endpoint:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate("subsystems.billing.stripe")
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Validate: %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
				t.Fatalf("Validate: %v, want an error starting %q", err, tc.want)
			}
		})
	}
}

// request is what the connector sent.
type request struct {
	Method, Path string
	Query        url.Values
	Auth         string
}

// recorder records the requests it passes to next.
type recorder struct {
	mu   sync.Mutex
	reqs []request
	next http.Handler
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.reqs = append(r.reqs, request{req.Method, req.URL.Path, req.URL.Query(), req.Header.Get("Authorization")})
	r.mu.Unlock()
	r.next.ServeHTTP(w, req)
}

func (r *recorder) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reqs)
}

// TestEraseStripeMock erases against stripe-mock through a recording
// reverse proxy. stripe-mock is stateless (any list answers its fixture
// customers, any deletion succeeds), so the test asserts on what the
// connector sent: the list filtered by the subject's email, then a deletion
// of each customer listed.
func TestEraseStripeMock(t *testing.T) {
	endpoint := os.Getenv("LETHE_STRIPE_ENDPOINT")
	if endpoint == "" {
		t.Skip("stripe-mock is not running: set LETHE_STRIPE_ENDPOINT (ep=$(scripts/stripe-mock.sh start))")
	}
	target, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var listed []string
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(res *http.Response) error {
		if res.Request.Method != http.MethodGet || res.Request.URL.Path != "/v1/customers" || res.StatusCode != http.StatusOK {
			return nil
		}
		body, err := io.ReadAll(res.Body)
		if err != nil {
			return err
		}
		res.Body = io.NopCloser(bytes.NewReader(body))
		var page struct {
			Data []struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return fmt.Errorf("stripe-mock's list: %w", err)
		}
		mu.Lock()
		for _, c := range page.Data {
			listed = append(listed, c.ID)
		}
		mu.Unlock()
		return nil
	}
	rec := &recorder{next: proxy}
	srv := httptest.NewServer(rec)
	defer srv.Close()

	e := stripeconn.New(stripeconn.Config{APIKeySecret: secret, Endpoint: srv.URL}, apiKey)
	out, err := e.Erase(context.Background(), subject)
	if err != nil {
		t.Fatalf("Erase: %v", err)
	}
	if out != connector.Deleted {
		t.Fatalf("Erase = %q, want %q", out, connector.Deleted)
	}

	reqs := rec.requests()
	if len(listed) == 0 {
		t.Fatalf("stripe-mock listed no customer; requests: %+v", reqs)
	}
	var lists, deletes []request
	for _, r := range reqs {
		if r.Auth != "Bearer "+apiKey {
			t.Errorf("%s %s: Authorization %q, want the API key as a bearer token", r.Method, r.Path, r.Auth)
		}
		switch {
		case r.Method == http.MethodGet && r.Path == "/v1/customers":
			lists = append(lists, r)
		case r.Method == http.MethodDelete && strings.HasPrefix(r.Path, "/v1/customers/"):
			deletes = append(deletes, r)
		default:
			t.Errorf("unexpected request %s %s", r.Method, r.Path)
		}
	}
	if len(lists) == 0 {
		t.Fatal("no GET /v1/customers was sent")
	}
	for _, l := range lists {
		if got := l.Query.Get("email"); got != subject {
			t.Errorf("GET /v1/customers?%s: email = %q, want %q", l.Query.Encode(), got, subject)
		}
	}
	var deleted []string
	for _, d := range deletes {
		deleted = append(deleted, strings.TrimPrefix(d.Path, "/v1/customers/"))
	}
	slices.Sort(deleted)
	want := slices.Clone(listed)
	slices.Sort(want)
	if !slices.Equal(deleted, want) {
		t.Errorf("DELETE /v1/customers/{id} sent for %v, want one for each listed customer %v", deleted, want)
	}
}

// fakeStripe plays Stripe with handler and returns a connector calling it.
func fakeStripe(t *testing.T, handler http.HandlerFunc) *stripeconn.Eraser {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	e := stripeconn.New(stripeconn.Config{APIKeySecret: secret, Match: "email", Endpoint: srv.URL}, apiKey)
	e.Retry.Sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
	return e
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Request-Id", "req_test123")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func customers(ids ...string) string {
	var data []string
	for _, id := range ids {
		data = append(data, fmt.Sprintf(`{"id":%q,"object":"customer","email":%q}`, id, subject))
	}
	return `{"object":"list","url":"/v1/customers","has_more":false,"data":[` + strings.Join(data, ",") + `]}`
}

func TestEraseNotFound(t *testing.T) {
	var calls []string
	e := fakeStripe(t, func(w http.ResponseWriter, r *http.Request) {
		calls = append(calls, r.Method+" "+r.URL.Path)
		if r.Method != http.MethodGet || r.URL.Path != "/v1/customers" || r.URL.Query().Get("email") != subject {
			writeJSON(w, 400, `{"error":{"type":"invalid_request_error","message":"unexpected"}}`)
			return
		}
		writeJSON(w, 200, customers())
	})
	out, err := e.Erase(context.Background(), subject)
	if err != nil || out != connector.NotFound {
		t.Fatalf("Erase = %q, %v; want %q", out, err, connector.NotFound)
	}
	if !slices.Equal(calls, []string{"GET /v1/customers"}) {
		t.Errorf("calls %v, want one list", calls)
	}
}

func TestEraseRefused(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		detail string
	}{
		{401, `{"error":{"type":"invalid_request_error","message":"Invalid API Key provided: rk_test_****Leak"}}`, "the API key was refused: check the secret " + secret},
		{403, `{"error":{"type":"invalid_request_error","message":"The provided key 'rk_test_****Leak' does not have the required permissions for this endpoint (customers for ` + subject + `)."}}`, "needs the Customers write permission"},
		{400, `{"error":{"type":"invalid_request_error","code":"parameter_invalid_string","param":"email","message":"Invalid email: ` + subject + `"}}`, "was refused by Stripe"},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			calls := 0
			e := fakeStripe(t, func(w http.ResponseWriter, r *http.Request) {
				calls++
				writeJSON(w, tc.status, tc.body)
			})
			out, err := e.Erase(context.Background(), subject)
			var ce *connector.Error
			if !errors.As(err, &ce) {
				t.Fatalf("Erase = %q, %v; want a *connector.Error", out, err)
			}
			if ce.Retryable {
				t.Errorf("error %v is retryable, want permanent", ce)
			}
			if !strings.Contains(ce.Detail, tc.detail) {
				t.Errorf("Detail %q, want it to contain %q", ce.Detail, tc.detail)
			}
			if !strings.HasPrefix(ce.Code, fmt.Sprint(tc.status)) {
				t.Errorf("Code %q, want the status %d", ce.Code, tc.status)
			}
			for _, leak := range []string{subject, "jane.doe", apiKey, "rk_test", "Leak"} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("error %q holds %q", err, leak)
				}
			}
			if calls != 1 {
				t.Errorf("%d calls, want 1 (no retry of a %d)", calls, tc.status)
			}
		})
	}
}

func TestEraseRateLimitedThenDeleted(t *testing.T) {
	var mu sync.Mutex
	var calls []string
	e := fakeStripe(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls = append(calls, r.Method+" "+r.URL.Path)
		n := len(calls)
		mu.Unlock()
		switch {
		case n == 1 || n == 3: // the list, then the deletion: rate-limited once each
			writeJSON(w, 429, `{"error":{"type":"invalid_request_error","code":"rate_limit","message":"Too many requests hit the API too quickly."}}`)
		case r.Method == http.MethodGet && r.URL.Path == "/v1/customers":
			writeJSON(w, 200, customers("cus_A"))
		case r.Method == http.MethodDelete && r.URL.Path == "/v1/customers/cus_A":
			writeJSON(w, 200, `{"id":"cus_A","object":"customer","deleted":true}`)
		default:
			writeJSON(w, 404, `{"error":{"type":"invalid_request_error","code":"resource_missing","message":"no such route"}}`)
		}
	})
	out, err := e.Erase(context.Background(), subject)
	if err != nil || out != connector.Deleted {
		t.Fatalf("Erase = %q, %v; want %q", out, err, connector.Deleted)
	}
	want := []string{"GET /v1/customers", "GET /v1/customers", "DELETE /v1/customers/cus_A", "DELETE /v1/customers/cus_A"}
	if !slices.Equal(calls, want) {
		t.Errorf("calls %v, want %v", calls, want)
	}
}

func TestEraseServerErrorRetryable(t *testing.T) {
	calls := 0
	e := fakeStripe(t, func(w http.ResponseWriter, r *http.Request) {
		calls++
		writeJSON(w, 500, `{"error":{"type":"api_error","message":"Sorry, something went wrong."}}`)
	})
	_, err := e.Erase(context.Background(), subject)
	var ce *connector.Error
	if !errors.As(err, &ce) || !ce.Retryable {
		t.Fatalf("Erase error %v, want a retryable *connector.Error", err)
	}
	if ce.Code != "500" || !strings.Contains(ce.Detail, "req_test123") {
		t.Errorf("error %v, want code 500 and Stripe's request id", ce)
	}
	if want := e.Retry.Attempts; calls != want {
		t.Errorf("%d calls, want %d (the connector's retries)", calls, want)
	}
}

func TestEraseNoAnswerRetryable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	endpoint := srv.URL
	srv.Close() // nothing listens there any more
	e := stripeconn.New(stripeconn.Config{APIKeySecret: secret, Endpoint: endpoint}, apiKey)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := e.Erase(ctx, subject)
	var ce *connector.Error
	if !errors.As(err, &ce) || !ce.Retryable || ce.Code != "NoAnswer" {
		t.Fatalf("Erase error %v, want a retryable NoAnswer", err)
	}
	if strings.Contains(err.Error(), subject) || strings.Contains(err.Error(), apiKey) {
		t.Errorf("error %q holds the subject or the key", err)
	}
}

// TestErasePagesAndAlreadyDeleted: every page is listed, and a customer
// deleted meanwhile (404 resource_missing) counts as deleted.
func TestErasePagesAndAlreadyDeleted(t *testing.T) {
	var mu sync.Mutex
	var calls []string
	e := fakeStripe(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls = append(calls, r.Method+" "+r.URL.RequestURI())
		mu.Unlock()
		switch {
		case r.Method == http.MethodGet && r.URL.Query().Get("starting_after") == "":
			writeJSON(w, 200, strings.Replace(customers("cus_A", "cus_B"), `"has_more":false`, `"has_more":true`, 1))
		case r.Method == http.MethodGet && r.URL.Query().Get("starting_after") == "cus_B":
			writeJSON(w, 200, customers("cus_C"))
		case r.Method == http.MethodDelete && r.URL.Path == "/v1/customers/cus_B":
			writeJSON(w, 404, `{"error":{"type":"invalid_request_error","code":"resource_missing","param":"id","message":"No such customer: 'cus_B'"}}`)
		case r.Method == http.MethodDelete:
			id := strings.TrimPrefix(r.URL.Path, "/v1/customers/")
			writeJSON(w, 200, `{"id":"`+id+`","object":"customer","deleted":true}`)
		default:
			writeJSON(w, 400, `{"error":{"type":"invalid_request_error","message":"unexpected"}}`)
		}
	})
	out, err := e.Erase(context.Background(), subject)
	if err != nil || out != connector.Deleted {
		t.Fatalf("Erase = %q, %v; want %q", out, err, connector.Deleted)
	}
	var deletes []string
	for _, c := range calls {
		if id, ok := strings.CutPrefix(c, "DELETE /v1/customers/"); ok {
			deletes = append(deletes, id)
		}
	}
	if !slices.Equal(deletes, []string{"cus_A", "cus_B", "cus_C"}) {
		t.Errorf("deleted %v, want cus_A, cus_B and cus_C; calls %v", deletes, calls)
	}
}

// TestEraseMore: with less time left than the margin, Erase deletes one
// customer (so every call gets on) and reports More.
func TestEraseMore(t *testing.T) {
	deletes := 0
	e := fakeStripe(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete {
			deletes++
		}
		writeJSON(w, 200, customers("cus_A", "cus_B"))
	})
	e.Margin = time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := e.Erase(ctx, subject)
	if err != nil || out != connector.More || deletes != 1 {
		t.Fatalf("Erase = %q, %v after %d deletions; want %q after one", out, err, deletes, connector.More)
	}
}

func TestEraseNoKey(t *testing.T) {
	e := stripeconn.New(stripeconn.Config{APIKeySecret: secret, Endpoint: "http://127.0.0.1:1"}, "")
	_, err := e.Erase(context.Background(), subject)
	var ce *connector.Error
	if !errors.As(err, &ce) || ce.Retryable || !strings.Contains(ce.Detail, secret) {
		t.Fatalf("Erase error %v, want a permanent error naming the secret", err)
	}
}

// TestEraseStripeMockBadKey: stripe-mock refuses a key that does not look
// like a test-mode key with a 401 whose message quotes the key; the
// connector's error is permanent and quotes neither the key nor the subject.
func TestEraseStripeMockBadKey(t *testing.T) {
	endpoint := os.Getenv("LETHE_STRIPE_ENDPOINT")
	if endpoint == "" {
		t.Skip("stripe-mock is not running: set LETHE_STRIPE_ENDPOINT (ep=$(scripts/stripe-mock.sh start))")
	}
	const badKey = "not-a-stripe-key-but-secret"
	e := stripeconn.New(stripeconn.Config{APIKeySecret: secret, Endpoint: endpoint}, badKey)
	_, err := e.Erase(context.Background(), subject)
	var ce *connector.Error
	if !errors.As(err, &ce) || ce.Retryable || ce.Code != "401" || !strings.Contains(ce.Detail, "the API key was refused") {
		t.Fatalf("Erase error %v, want a permanent 401 saying the key was refused", err)
	}
	if strings.Contains(err.Error(), badKey) || strings.Contains(err.Error(), subject) {
		t.Errorf("error %q holds the key or the subject", err)
	}
}
