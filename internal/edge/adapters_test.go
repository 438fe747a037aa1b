package edge

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/secrets"
)

// fakeSM answers GetSecretValue from a map, as Secrets Manager does.
type fakeSM struct {
	values map[string]string
	err    error
	asked  []string
}

func (f *fakeSM) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.asked = append(f.asked, aws.ToString(in.SecretId))
	if f.err != nil {
		return nil, f.err
	}
	v, ok := f.values[aws.ToString(in.SecretId)]
	if !ok {
		return nil, &smtypes.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret.")}
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(v)}, nil
}

func TestCachedSecrets(t *testing.T) {
	sm := &fakeSM{values: map[string]string{
		"lethe/edge/webhooks/shopify/eu-shop.myshopify.com": "shpss_0123456789abcdef\n",
		"lethe/edge/webhooks/zendesk/eu-help":               " ",
	}}
	s := NewCachedSecrets(secrets.NewCache(secrets.NewSecretsManager(sm), nil, time.Minute, time.Now), config.EdgeScope)
	ctx := context.Background()
	got, err := s.WebhookSecret(ctx, "shopify", euShop)
	if err != nil || string(got) != "shpss_0123456789abcdef" {
		t.Fatalf("secret = %q, %v", got, err)
	}
	if _, err := s.WebhookSecret(ctx, "shopify", euShop); err != nil || len(sm.asked) != 1 {
		t.Errorf("second read asked Secrets Manager again: %v %v", sm.asked, err)
	}
	for _, tenant := range []string{newShop} {
		if _, err := s.WebhookSecret(ctx, "shopify", tenant); !errors.Is(err, ErrNoSecret) {
			t.Errorf("missing secret: %v, want ErrNoSecret", err)
		}
	}
	if _, err := s.WebhookSecret(ctx, "zendesk", euHelp); !errors.Is(err, ErrNoSecret) {
		t.Errorf("empty secret: %v, want ErrNoSecret", err)
	}
	sm.err = errors.New("AccessDeniedException")
	if _, err := s.WebhookSecret(ctx, "generic", euHelp); err == nil || errors.Is(err, ErrNoSecret) {
		t.Errorf("access denied: %v, want a plain error (a fault, not an unknown tenant)", err)
	}
}

type fakeSNS struct{ in []*sns.PublishInput }

func (f *fakeSNS) Publish(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	f.in = append(f.in, in)
	return &sns.PublishOutput{MessageId: aws.String("m-1")}, nil
}

func TestSNSAlerter(t *testing.T) {
	f := &fakeSNS{}
	a := NewSNSAlerter(f, "arn:aws:sns:eu-central-1:123456789012:lethe-edge-ops")
	verified := false
	if err := a.Alert(context.Background(), Alert{Kind: AlertQuarantined, Provider: "shopify", DeliveryID: "d-1",
		TenantHash: Hash(newShop), QuarantineID: "q_1", Verified: &verified, ReceivedIn: "eu-central-1"}); err != nil {
		t.Fatal(err)
	}
	in := f.in[0]
	if aws.ToString(in.TopicArn) != "arn:aws:sns:eu-central-1:123456789012:lethe-edge-ops" {
		t.Errorf("topic %s", aws.ToString(in.TopicArn))
	}
	if s := aws.ToString(in.Subject); len(s) > 100 || !strings.Contains(s, "quarantined") {
		t.Errorf("subject %q", s)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(aws.ToString(in.Message)), &m); err != nil {
		t.Fatal(err)
	}
	if m["tenantKeySha256"] != Hash(newShop) || m["deliveryId"] != "d-1" || m["signatureVerified"] != false || m["quarantineId"] != "q_1" {
		t.Errorf("message %v", m)
	}
	if strings.Contains(aws.ToString(in.Message), newShop) {
		t.Error("alert names the tenant in clear")
	}
	for _, k := range []string{AlertMisrouted, AlertRegionRejected, AlertUndeliverable, AlertSecretMissing, AlertRegionNotDeployed, "other"} {
		if s := (Alert{Kind: k, Provider: strings.Repeat("p", 120), Region: "eu"}).subject(); len(s) > 100 || s == "" {
			t.Errorf("%s subject %q", k, s)
		}
	}
}

func TestDefaultRetryStaysUnder20Seconds(t *testing.T) {
	if b := DefaultRetry.Budget(); b >= 20*time.Second || DefaultRetry.Attempts != 3 {
		t.Errorf("DefaultRetry: %d attempts in %v, want 3 in under 20 s", DefaultRetry.Attempts, b)
	}
}

func TestForwarderAnswers(t *testing.T) {
	var calls atomic.Int32
	var status atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		switch s := int(status.Load()); s {
		case 0:
			time.Sleep(300 * time.Millisecond) // longer than the attempt timeout
		case http.StatusFound:
			http.Redirect(w, r, "https://elsewhere.example/webhooks/shopify", s)
		default:
			w.WriteHeader(s)
		}
	}))
	t.Cleanup(srv.Close)
	f := NewForwarder(NewHTTPClient(), RetryPolicy{Attempts: 3, Timeout: 100 * time.Millisecond, Backoff: []time.Duration{time.Millisecond}})
	r := config.RegionEndpoint{Name: "eu", APIURL: srv.URL}
	post := webhookPost{provider: "shopify", body: []byte("{}"), header: http.Header{}}
	tests := []struct {
		status int
		calls  int32
		check  func(error) bool
	}{
		{http.StatusAccepted, 1, func(err error) bool { return err == nil }},
		{http.StatusNoContent, 1, func(err error) bool { return err == nil }},
		{http.StatusTooManyRequests, 3, isUnavailable},
		{http.StatusBadGateway, 3, isUnavailable},
		{0, 3, isUnavailable}, // timeouts
		{http.StatusConflict, 1, func(err error) bool { var m *Misrouted; return errors.As(err, &m) }},
		{http.StatusFound, 1, func(err error) bool { var rr *RegionRejected; return errors.As(err, &rr) && rr.Status == 302 }},
		{http.StatusBadRequest, 1, func(err error) bool { var rr *RegionRejected; return errors.As(err, &rr) }},
	}
	for _, tc := range tests {
		calls.Store(0)
		status.Store(int32(tc.status))
		start := time.Now()
		err := f.Forward(context.Background(), r, post)
		if !tc.check(err) || calls.Load() != tc.calls {
			t.Errorf("status %d: err %v after %d calls, want %d calls", tc.status, err, calls.Load(), tc.calls)
		}
		if time.Since(start) > 2*time.Second {
			t.Errorf("status %d: took %v, beyond the policy", tc.status, time.Since(start))
		}
	}
	if err := f.Forward(context.Background(), config.RegionEndpoint{Name: "ap"}, post); err == nil {
		t.Error("a region without apiUrl took a delivery")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	status.Store(http.StatusAccepted)
	if err := f.Forward(ctx, r, post); !isUnavailable(err) {
		t.Errorf("cancelled context: %v", err)
	}
}

// TestRegionalClientSignsRequests checks the SigV4 signature a regional API
// Gateway would check: the server signs what it received again with the
// same credentials and time, and the two must agree.
func TestRegionalClientSignsRequests(t *testing.T) {
	creds := aws.Credentials{AccessKeyID: "AKIDEDGE", SecretAccessKey: "edge-secret", SessionToken: "session-token"}
	var problems []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := make([]byte, r.ContentLength)
		_, _ = r.Body.Read(body)
		when, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
		if err != nil {
			problems = append(problems, "no X-Amz-Date")
		}
		re, _ := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), strings.NewReader(string(body)))
		for k, v := range r.Header {
			if k != "Authorization" && k != "X-Amz-Date" && k != "X-Amz-Security-Token" && k != "User-Agent" && k != "Accept-Encoding" && k != "Content-Length" {
				re.Header[k] = v
			}
		}
		hash := sha256Hex(body)
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, re, hash, "execute-api", "eu-west-1", when); err != nil {
			problems = append(problems, err.Error())
		}
		if got, want := r.Header.Get("Authorization"), re.Header.Get("Authorization"); got != want {
			problems = append(problems, "Authorization "+got+" != "+want)
		}
		if r.Header.Get("X-Amz-Security-Token") != "session-token" {
			problems = append(problems, "no session token")
		}
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusAccepted)
			_, _ = w.Write([]byte(`{"requestId":"er_eu_0196a0a0-0000-7000-8000-00000000000a","status":"pending"}`))
			return
		}
		_, _ = w.Write([]byte(`{"requestId":"er_eu_0196a0a0-0000-7000-8000-00000000000a","status":"completed"}`))
	}))
	t.Cleanup(srv.Close)
	c := NewRegionalClient(NewHTTPClient(), credentials.StaticCredentialsProvider{Value: creds}, fastRetry)
	r := config.RegionEndpoint{Name: "eu", AWSRegion: "eu-west-1", APIURL: srv.URL + "/prod"}
	id, err := c.File(context.Background(), r, Filing{SubjectID: "alice@example.com", IdempotencyKey: "eg_x:eu"})
	if err != nil || id != "er_eu_0196a0a0-0000-7000-8000-00000000000a" {
		t.Fatalf("File = %s, %v", id, err)
	}
	s, err := c.Status(context.Background(), r, id)
	if err != nil || s != "completed" {
		t.Fatalf("Status = %s, %v", s, err)
	}
	if problems != nil {
		t.Errorf("signature problems: %v", problems)
	}
}

// TestRegionalClientWithoutCredentials: a client built with nil
// credentials sends every call unsigned (File, Status, Call and the
// release forwarder), as for a local API, rather than failing or panicking.
func TestRegionalClientWithoutCredentials(t *testing.T) {
	var mu sync.Mutex
	var calls []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get("Authorization") != "" || r.Header.Get("X-Amz-Date") != "" {
			t.Errorf("%s %s was signed", r.Method, r.URL.Path)
		}
		calls = append(calls, r.Method+" "+r.URL.Path)
		if r.Method == http.MethodPost && r.URL.Path == "/erasures" {
			w.WriteHeader(http.StatusAccepted)
		}
		_, _ = w.Write([]byte(`{"requestId":"er_eu_0196a0a0-0000-7000-8000-00000000000a","status":"pending"}`))
	}))
	t.Cleanup(srv.Close)
	c := NewRegionalClient(NewHTTPClient(), nil, fastRetry)
	r := config.RegionEndpoint{Name: "eu", AWSRegion: "eu-west-1", APIURL: srv.URL}
	ctx := context.Background()
	if id, err := c.File(ctx, r, Filing{SubjectID: "alice@example.com", IdempotencyKey: "k"}); err != nil || id == "" {
		t.Errorf("File = %q, %v", id, err)
	}
	if s, err := c.Status(ctx, r, "er_eu_0196a0a0-0000-7000-8000-00000000000a"); err != nil || s != "pending" {
		t.Errorf("Status = %q, %v", s, err)
	}
	if status, _, err := c.Call(ctx, r, http.MethodGet, "/tenants", http.Header{}, nil); err != nil || status != 200 {
		t.Errorf("Call = %d, %v", status, err)
	}
	if err := c.Releaser().Forward(ctx, r, webhookPost{provider: "shopify", body: []byte("{}"), header: http.Header{}}); err != nil {
		t.Errorf("release: %v", err)
	}
	want := []string{"POST /erasures", "GET /erasures/er_eu_0196a0a0-0000-7000-8000-00000000000a", "GET /tenants", "POST /webhooks/shopify/release"}
	if !slices.Equal(calls, want) {
		t.Errorf("calls %v, want %v", calls, want)
	}
}

func TestRegionalClientAnswers(t *testing.T) {
	var status int
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	c := NewRegionalClient(NewHTTPClient(), credentials.NewStaticCredentialsProvider("a", "b", ""), fastRetry)
	r := config.RegionEndpoint{Name: "eu", AWSRegion: "eu-west-1", APIURL: srv.URL}
	f := Filing{SubjectID: "alice@example.com", IdempotencyKey: "k"}
	for _, tc := range []struct {
		status int
		body   string
		check  func(error) bool
	}{
		{422, `{"error":{"code":"idempotency_key_reused"}}`, func(err error) bool { return errors.Is(err, erasure.ErrIdempotencyKeyReused) }},
		{403, `{"message":"Forbidden"}`, func(err error) bool { var rr *RegionRejected; return errors.As(err, &rr) && rr.Status == 403 }},
		{202, `{"requestId":"er_us_0196a0a0-0000-7000-8000-00000000000a"}`, func(err error) bool { var rr *RegionRejected; return errors.As(err, &rr) }},
		{202, `not json`, func(err error) bool { var rr *RegionRejected; return errors.As(err, &rr) }},
		{503, ``, isUnavailable},
	} {
		status, body = tc.status, tc.body
		_, err := c.File(context.Background(), r, f)
		if !tc.check(err) {
			t.Errorf("File answered %d %s: %v", tc.status, tc.body, err)
		}
		if err != nil && strings.Contains(err.Error(), "alice") {
			t.Errorf("error quotes the subject: %v", err)
		}
	}
	status, body = 404, `{"error":{"code":"not_found"}}`
	if _, err := c.Status(context.Background(), r, "er_eu_x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Status 404: %v", err)
	}
	status, body = 200, `{"status":"exploded"}`
	if _, err := c.Status(context.Background(), r, "er_eu_x"); err == nil {
		t.Error("an unknown status was taken")
	}
}

func sha256Hex(b []byte) string { return Hash(string(b)) }
