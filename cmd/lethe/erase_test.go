package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"github.com/lethe-erasure/lethe/internal/store/storetest"
	"github.com/lethe-erasure/lethe/internal/subjectkey/subjectkeytest"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/lethe-erasure/lethe/internal/api"
	"github.com/lethe-erasure/lethe/internal/audit"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/edge"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/local"
	"github.com/lethe-erasure/lethe/internal/registry"
	"github.com/lethe-erasure/lethe/internal/store/dynamo"
)

// The tests of erase and status run the CLI against httptest servers that
// serve the real regional API handler (internal/api) over an in-memory
// store, through the same HTTP -> API Gateway event conversion that a
// local runtime does.

// memStore is an in-memory requests store with the adapter's conditional
// semantics (one open request per subject, one request per idempotency
// key). script moves requests along, one step per Get, as executions
// would between two polls.
type memStore struct {
	mu      sync.Mutex
	byID    map[string]erasure.Request
	open    map[string]string   // subject -> its open request
	keys    map[string][]string // idempotency key -> {request id, subject}
	creates int
	gets    int
	script  []func(r *erasure.Request)
}

func newMemStore() *memStore {
	return &memStore{byID: map[string]erasure.Request{}, open: map[string]string{}, keys: map[string][]string{}}
}

func (m *memStore) Create(_ context.Context, req erasure.Request, key string) (erasure.Request, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.creates++
	if k, ok := m.keys[key]; ok && key != "" {
		if k[1] != req.SubjectID {
			return erasure.Request{}, false, erasure.ErrIdempotencyKeyReused
		}
		return m.byID[k[0]], false, nil
	}
	if id, ok := m.open[req.SubjectID]; ok {
		return m.byID[id], false, nil
	}
	m.byID[req.ID] = req
	m.open[req.SubjectID] = req.ID
	if key != "" {
		m.keys[key] = []string{req.ID, req.SubjectID}
	}
	return req, true, nil
}

func (m *memStore) Get(_ context.Context, id string) (erasure.Request, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gets++
	r, ok := m.byID[id]
	if !ok {
		return r, erasure.ErrNotFound
	}
	if len(m.script) > 0 {
		m.script[0](&r)
		m.script = m.script[1:]
		m.byID[id] = r
		if !r.Status.Open() {
			delete(m.open, r.SubjectID)
		}
	}
	return r, nil
}

func (m *memStore) Page(_ context.Context, after string, limit, examine int, match func(erasure.Request) bool) ([]erasure.Request, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	all := make([]erasure.Request, 0, len(m.byID))
	for _, r := range m.byID {
		all = append(all, r)
	}
	out, next := storetest.PageOf(all, after, limit, examine, match)
	return out, next, nil
}

func (m *memStore) RegisterTenant(context.Context, string) (time.Time, bool, error) {
	return time.Time{}, false, errors.New("not in this test")
}

func (m *memStore) TenantRegistration(context.Context, string) (time.Time, bool, error) {
	return time.Time{}, false, nil
}

func (m *memStore) requests() []erasure.Request {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []erasure.Request
	for _, r := range m.byID {
		out = append(out, r)
	}
	return out
}

func (m *memStore) counts() (creates, gets int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.creates, m.gets
}

// the one request of the store (the test fails without exactly one)
func (m *memStore) only(t *testing.T) erasure.Request {
	t.Helper()
	rs := m.requests()
	if len(rs) != 1 {
		t.Fatalf("the store holds %d requests, want 1", len(rs))
	}
	return rs[0]
}

// gatewayHandler serves an api.Handler over HTTP as API Gateway's REST
// proxy integration calls it, with lethe local's gateway.
func gatewayHandler(h *api.Handler) http.Handler {
	return local.NewGateway(local.RegionalRoutes, map[string]local.ProxyHandler{registry.FnAPI: h.Handle}, nil)
}

// cliConfig is a configuration of two regions (eu, us), each with the
// default three subsystems, whose APIs are at the given URLs ("" leaves
// apiUrl out).
func cliConfig(t *testing.T, euURL, usURL string) string {
	t.Helper()
	region := func(name, awsRegion, apiURL string) map[string]any {
		subs := []any{}
		for _, s := range []struct{ name, mode string }{{"projects", "sync"}, {"orders", "async"}, {"customers", "async"}} {
			subs = append(subs, map[string]any{"name": s.name, "mode": s.mode, "baseUrl": "https://" + s.name + "." + name + ".example.com",
				"adminEmails": []string{"ops@example.com"}})
		}
		r := map[string]any{"name": name, "awsRegion": awsRegion, "subsystems": subs}
		if apiURL != "" {
			r["apiUrl"] = apiURL
		}
		return r
	}
	cfg := map[string]any{"context": map[string]any{"lethe": map[string]any{
		"regions": []any{region("eu", euAWSRegion, euURL), region("us", usAWSRegion, usURL)}}}}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "cdk.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// regionAPI is one region's real API handler on an httptest server.
type regionAPI struct {
	store *memStore
	srv   *httptest.Server
	cfg   *config.Config
}

// newRegionAPI serves region name's real API handler (as configured in
// a cliConfig) over a fresh memStore.
func newRegionAPI(t *testing.T, name string) *regionAPI {
	t.Helper()
	cfg, err := config.Load(cliConfig(t, "", ""))
	if err != nil {
		t.Fatal(err)
	}
	region, ok := cfg.Region(name)
	if !ok {
		t.Fatalf("no region %s", name)
	}
	a := &regionAPI{store: newMemStore(), cfg: cfg}
	h := api.New(a.store, subjectkeytest.Key(), cfg, region, api.WithLogger(slog.New(slog.DiscardHandler)))
	a.srv = httptest.NewServer(gatewayHandler(h))
	t.Cleanup(a.srv.Close)
	return a
}

// cannedAPI answers every request with one status and body.
func cannedAPI(t *testing.T, status int, body string) (*httptest.Server, *int) {
	t.Helper()
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		mu.Unlock()
		answer(w, status, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// cliOperator is testOperator with a fast retry policy and no waits.
func cliOperator() *operator {
	op := testOperator(nil)
	op.policy = edge.RetryPolicy{Attempts: 2, Timeout: 5 * time.Second, Backoff: []time.Duration{time.Millisecond}}
	return op
}

// cliRun runs "lethe <args>" with op, stdin, and ctx.
func cliRun(ctx context.Context, op *operator, stdin string, args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	run := map[string]func(context.Context, []string, io.Reader, io.Writer, io.Writer) int{"erase": op.erase, "status": op.status,
		"retry": op.retry, "attest": op.attest, "extend": op.extend, "subject": op.subject, "audit": op.audit,
		"suppressions": op.suppressions, "certificate": op.certificate, "list": op.list}[args[0]]
	code = run(ctx, args[1:], strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

// subject is a subject id that must never be printed.
const subject = "alice.liddell@example.com"

func TestEraseUsageErrors(t *testing.T) {
	a := newRegionAPI(t, "eu")
	cfg := cliConfig(t, a.srv.URL, "")
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		want  string // in stderr
	}{
		{"no region", "", []string{subject}, "--region is required"},
		{"no subject", "", []string{"--region", "eu"}, "want exactly one SUBJECT, got 0"},
		{"two subjects", "", []string{"--region", "eu", subject, "bob"}, "want exactly one SUBJECT, got 2"},
		{"unknown flag", "", []string{"--region", "eu", "--bogus", subject}, "-bogus"},
		{"unknown region", "", []string{"--region", "mars", subject}, `no region "mars"`},
		{"bad url", "", []string{"--region", "eu", "--url", "http://api.example.com", subject}, "--url"},
		{"short interval", "", []string{"--region", "eu", "--watch", "--interval", "1ms", subject}, "--interval must be at least 100ms"},
		{"bad interval", "", []string{"--region", "eu", "--interval", "soon", subject}, "-interval"},
		{"non-ASCII key", "", []string{"--region", "eu", "--idempotency-key", "clé", subject}, "--idempotency-key must be 1-255 printable ASCII"},
		{"long key", "", []string{"--region", "eu", "--idempotency-key", strings.Repeat("k", 256), subject}, "--idempotency-key"},
		{"blank subject", "", []string{"--region", "eu", " " + subject}, "SUBJECT must not start or end with white space"},
		{"empty stdin", "", []string{"--region", "eu", "-"}, "SUBJECT must not be empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := cliRun(context.Background(), cliOperator(), tc.stdin, append([]string{"erase", "--config", cfg}, tc.args...)...)
			if code != 2 {
				t.Errorf("exit %d, want 2\nstdout %s\nstderr %s", code, out, errOut)
			}
			if !strings.Contains(errOut, tc.want) {
				t.Errorf("stderr does not say %q:\n%s", tc.want, errOut)
			}
			if !strings.Contains(errOut, "usage:") {
				t.Errorf("stderr has no usage line:\n%s", errOut)
			}
			if strings.Contains(out+errOut, subject) {
				t.Errorf("the subject id is printed:\n%s%s", out, errOut)
			}
			if c, _ := a.store.counts(); c != 0 {
				t.Errorf("a usage error sent %d requests", c)
			}
		})
	}
}

func TestEraseHelp(t *testing.T) {
	for _, cmd := range []string{"erase", "status"} {
		out, _, code := cliRun(context.Background(), cliOperator(), "", cmd, "-h")
		if code != 0 || !strings.Contains(out, "usage:\n  lethe "+cmd) {
			t.Errorf("%s -h: exit %d\n%s", cmd, code, out)
		}
	}
}

func TestEraseFiles(t *testing.T) {
	a := newRegionAPI(t, "eu")
	cfg := cliConfig(t, a.srv.URL, "")
	out, errOut, code := cliRun(context.Background(), cliOperator(), "", "erase", "--config", cfg, "--region", "eu", subject)
	if code != 0 {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	r := a.store.only(t)
	if r.SubjectID != subject {
		t.Errorf("stored subject %q, want %q", r.SubjectID, subject)
	}
	for _, want := range []string{
		"filed erasure request " + r.ID + " in region eu (202)",
		"status    pending",
		"deadline  " + r.Deadline.UTC().Format("2006-01-02T15:04:05.000Z"),
		"lethe status --watch " + r.ID,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout does not say %q:\n%s", want, out)
		}
	}
	if strings.Contains(out+errOut, subject) {
		t.Errorf("the subject id is printed:\n%s%s", out, errOut)
	}

	// Again: the subject's open request comes back, nothing new is filed.
	out, errOut, code = cliRun(context.Background(), cliOperator(), "", "erase", "--config", cfg, "--region", "eu", subject)
	if code != 0 || !strings.Contains(out, "already filed: "+r.ID+" (200") {
		t.Errorf("second erase: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	a.store.only(t)
}

func TestEraseFromStdinWithKey(t *testing.T) {
	a := newRegionAPI(t, "eu")
	out, errOut, code := cliRun(context.Background(), cliOperator(), subject+"\n",
		"erase", "--region", "eu", "--url", a.srv.URL, "--idempotency-key", "ticket-4711", "-")
	if code != 0 {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	r := a.store.only(t)
	if r.SubjectID != subject {
		t.Errorf("stored subject %q, want %q (read from stdin)", r.SubjectID, subject)
	}
	if got := a.store.keys["ticket-4711"]; len(got) == 0 || got[0] != r.ID {
		t.Errorf("idempotency key not recorded: %v", got)
	}
	// The key reused for another subject: the API's 422, printed.
	out, errOut, code = cliRun(context.Background(), cliOperator(), "",
		"erase", "--region", "eu", "--url", a.srv.URL, "--idempotency-key", "ticket-4711", "bob")
	want := "region eu API POST /erasures: HTTP 422 idempotency_key_reused: this Idempotency-Key was already used for another subject"
	if code != 1 || !strings.Contains(errOut, want) || !strings.Contains(errOut, "(field Idempotency-Key)") {
		t.Errorf("exit %d, want 1 and %q\nstdout %s\nstderr %s", code, want, out, errOut)
	}
	if strings.Contains(errOut, "usage:") {
		t.Errorf("a refusal prints the usage:\n%s", errOut)
	}
}

func TestEraseRefusals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"400", http.StatusBadRequest, `{"error":{"code":"invalid_subject_id","message":"subjectId must be at most 256 bytes","field":"subjectId"}}`,
			"region eu API POST /erasures: HTTP 400 invalid_subject_id: subjectId must be at most 256 bytes (field subjectId)"},
		{"409", http.StatusConflict, `{"error":{"code":"conflict","message":"the request is being created","field":""}}`,
			"region eu API POST /erasures: HTTP 409 conflict: the request is being created"},
		{"403 from API Gateway", http.StatusForbidden, `{"message":"Forbidden"}`, "HTTP 403: Forbidden"},
		{"200 that is no request", http.StatusOK, `{"hello":"world"}`, "HTTP 200, but the answer is not an erasure request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, n := cannedAPI(t, tc.status, tc.body)
			out, errOut, code := cliRun(context.Background(), cliOperator(), "", "erase", "--region", "eu", "--url", srv.URL, subject)
			if code != 1 || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, want 1 and %q\nstdout %s\nstderr %s", code, tc.want, out, errOut)
			}
			if *n != 1 {
				t.Errorf("%d requests, want 1 (a refusal is not retried)", *n)
			}
			// --json prints the refusal too.
			out, _, code = cliRun(context.Background(), cliOperator(), "", "erase", "--region", "eu", "--url", srv.URL, "--json", subject)
			var got map[string]rawAnswer
			if err := json.Unmarshal([]byte(out), &got); err != nil || code != 1 || got["erasure"].Status != tc.status {
				t.Errorf("--json: exit %d, %v\n%s", code, err, out)
			}
		})
	}
}

func TestEraseJSON(t *testing.T) {
	a := newRegionAPI(t, "eu")
	out, errOut, code := cliRun(context.Background(), cliOperator(), "", "erase", "--region", "eu", "--url", a.srv.URL, "--json", subject)
	if code != 0 {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	var got struct {
		Erasure struct {
			Status int             `json:"status"`
			Body   api.RequestView `json:"body"`
		} `json:"erasure"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, out)
	}
	if r := a.store.only(t); got.Erasure.Status != http.StatusAccepted || got.Erasure.Body.RequestID != r.ID || got.Erasure.Body.Status != erasure.StatusPending {
		t.Errorf("got %+v, want 202 with %s", got, r.ID)
	}
}

func TestEraseAnsweredByAnotherRegion(t *testing.T) {
	us := newRegionAPI(t, "us")
	cfg := cliConfig(t, us.srv.URL, "") // eu's apiUrl is us's API
	_, errOut, code := cliRun(context.Background(), cliOperator(), "", "erase", "--config", cfg, "--region", "eu", subject)
	if code != 1 || !strings.Contains(errOut, "answered as region us, not eu") {
		t.Errorf("exit %d\nstderr %s", code, errOut)
	}
}

func TestEraseURLResolution(t *testing.T) {
	cfg := cliConfig(t, "https://eu.api.example.com/prod", "")
	for _, tc := range []struct {
		name, region, url string
		want              config.RegionEndpoint
		local, signed     bool
	}{
		{"apiUrl of the configuration", "eu", "", config.RegionEndpoint{Name: "eu", AWSRegion: euAWSRegion, APIURL: "https://eu.api.example.com/prod"}, false, true},
		{"lethe local's address without apiUrl", "us", "", config.RegionEndpoint{Name: "us", AWSRegion: usAWSRegion, APIURL: "http://127.0.0.1:8082"}, true, false},
		{"--url", "eu", "https://other.example.com", config.RegionEndpoint{Name: "eu", AWSRegion: euAWSRegion, APIURL: "https://other.example.com"}, false, true},
		{"--url on loopback needs no configuration", "eu", "http://127.0.0.1:9999", config.RegionEndpoint{Name: "eu", APIURL: "http://127.0.0.1:9999"}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &regionFlags{configPath: cfg, url: tc.url}
			if tc.want.AWSRegion == "" {
				f.configPath = filepath.Join(t.TempDir(), "missing.json")
			}
			got, err := cliOperator().openRegion(f, tc.region)
			if err != nil {
				t.Fatal(err)
			}
			if got.to != tc.want || got.local != tc.local || got.s.flags.noSign == tc.signed {
				t.Errorf("got %+v local %v unsigned %v, want %+v local %v signed %v", got.to, got.local, got.s.flags.noSign, tc.want, tc.local, tc.signed)
			}
		})
	}
}

// TestEraseSigned files against an https API that is not on loopback: the
// request is SigV4-signed for the region's AWS region and verifies.
func TestEraseSigned(t *testing.T) {
	var mu sync.Mutex
	var problems []string
	a := newRegionAPI(t, "eu")
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=AKIDOPERATOR/") {
			problems = append(problems, "unsigned")
		} else if p := verifySigV4(r, body, euAWSRegion); p != "" {
			problems = append(problems, p)
		}
		mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		a.srv.Config.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	// example.com is in httptest's certificate; dial the server whatever
	// the name resolves to.
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig = tr.TLSClientConfig.Clone()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
	}
	tr.TLSClientConfig.ServerName = "example.com"
	op := cliOperator()
	op.client = &http.Client{Transport: tr}
	op.credentials = func(context.Context) (aws.CredentialsProvider, error) {
		return credentials.StaticCredentialsProvider{Value: testCreds}, nil
	}
	cfg := cliConfig(t, "https://example.com:"+portOf(srv.URL), "")
	out, errOut, code := cliRun(context.Background(), op, "", "erase", "--config", cfg, "--region", "eu", subject)
	if code != 0 {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	a.store.only(t)
	if len(problems) != 0 {
		t.Errorf("signature: %v", problems)
	}
}

func portOf(u string) string {
	i := strings.LastIndex(u, ":")
	return u[i+1:]
}

func TestEraseWatch(t *testing.T) {
	a := newRegionAPI(t, "eu")
	a.store.script = progressScript(erasure.StatusCompleted)
	out, errOut, code := cliRun(context.Background(), cliOperator(), "", "erase", "--region", "eu", "--url", a.srv.URL, "--watch", "--interval", "100ms", subject)
	if code != 0 {
		t.Fatalf("exit %d, want 0\nstdout %s\nstderr %s", code, out, errOut)
	}
	for _, want := range []string{"(202)", "[###] 3/3 subsystems done", "completed at"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout does not say %q:\n%s", want, out)
		}
	}
	if strings.Contains(out+errOut, subject) {
		t.Errorf("the subject id is printed:\n%s%s", out, errOut)
	}
}

// Change applies fn to a copy of the request and keeps it unless fn
// refuses, as the stores' conditional Change does; no audit is kept.
func (m *memStore) Change(_ context.Context, id string, fn func(*erasure.Request) ([]audit.Record, error)) (erasure.Request, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.byID[id]
	if !ok {
		return erasure.Request{}, erasure.ErrNotFound
	}
	next, _, err := dynamo.Apply(cur, fn)
	if errors.Is(err, erasure.ErrUnchanged) {
		return cur, nil
	}
	if err != nil {
		return cur, err
	}
	m.byID[id] = next
	return next, nil
}

func (m *memStore) Audit(context.Context, string, int) ([]audit.Record, error) { return nil, nil }

// AppendAudit: the memory store keeps no audit records.
func (m *memStore) AppendAudit(context.Context, ...audit.Record) error { return nil }

// AuditFrom: the memory store keeps no audit records.
func (m *memStore) AuditFrom(context.Context, int64, int) ([]audit.Record, error) { return nil, nil }

// Suppressed: the memory store forgets nobody.
func (m *memStore) Suppressed(context.Context, []string) (map[string][]erasure.Erased, error) {
	return nil, nil
}

// CallbackTarget: the test store knows no callback tokens.
func (m *memStore) CallbackTarget(context.Context, string) (string, string, error) {
	return "", "", erasure.ErrNotFound
}
