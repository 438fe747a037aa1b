package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/google/go-cmp/cmp"

	"github.com/lethe-erasure/lethe/internal/edge"
)

// testCreds is the operator's static test credential.
var testCreds = aws.Credentials{AccessKeyID: "AKIDOPERATOR", SecretAccessKey: "operator-secret", SessionToken: "operator-session"}

// AWS regions of the test configuration: the edge's differs from both
// regions', so a request signed for the wrong API fails verification.
const (
	edgeAWSRegion = "eu-central-1"
	euAWSRegion   = "eu-west-1"
	usAWSRegion   = "us-west-2"
)

// sent is one request a fake API received.
type sent struct {
	api    string // edge, eu, us
	method string
	path   string // after the stage prefix, with the query
	body   string
	auth   string // Authorization header
	// problem is why the SigV4 signature did not verify ("" when it did,
	// or when the request was not signed).
	problem string
}

func (s sent) String() string { return s.api + " " + s.method + " " + s.path }

// fakeAPIs stands in for the edge API and the regional APIs, with the
// answers their handlers give (internal/edge api.go, internal/api
// tenants.go), and records every request in order.
type fakeAPIs struct {
	t  *testing.T
	mu sync.Mutex
	// log is every request, in the order received.
	log []sent
	// directory is the edge's tenant directory: tenant -> region.
	directory map[string]string
	// owned is each region's registered tenants.
	owned map[string]map[string]bool
	// held is the edge's quarantine.
	held []edge.HeldView
	// heldTenant is the tenant key of each held delivery, for release.
	heldTenant map[string]string
	// down makes an API answer 503 to everything.
	down map[string]bool
	// deny makes an API answer as API Gateway does to an unauthorised
	// caller.
	deny map[string]bool
	// answersAs makes a regional API answer in another region's name
	// (an apiUrl pointing at the wrong region).
	answersAs map[string]string

	urls map[string]string // api -> base URL (with its stage)
}

func newFakeAPIs(t *testing.T) *fakeAPIs {
	f := &fakeAPIs{t: t, directory: map[string]string{}, owned: map[string]map[string]bool{"eu": {}, "us": {}},
		heldTenant: map[string]string{}, down: map[string]bool{}, deny: map[string]bool{}, answersAs: map[string]string{}, urls: map[string]string{}}
	for api, awsRegion := range map[string]string{"edge": edgeAWSRegion, "eu": euAWSRegion, "us": usAWSRegion} {
		srv := httptest.NewServer(f.handler(api, awsRegion))
		t.Cleanup(srv.Close)
		f.urls[api] = srv.URL + "/prod"
	}
	return f
}

func (f *fakeAPIs) requests() []sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sent(nil), f.log...)
}

func (f *fakeAPIs) handler(api, awsRegion string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s := sent{api: api, method: r.Method, path: strings.TrimPrefix(r.URL.RequestURI(), "/prod"), body: string(body),
			auth: r.Header.Get("Authorization")}
		if s.auth != "" {
			s.problem = verifySigV4(r, body, awsRegion)
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.log = append(f.log, s)
		if !strings.HasPrefix(r.URL.Path, "/prod/") {
			answer(w, http.StatusNotFound, `{"message":"Not Found"}`)
			return
		}
		switch {
		case f.down[api]:
			answer(w, http.StatusServiceUnavailable, `{"error":{"code":"unavailable","message":"retry later","field":""}}`)
		case f.deny[api]:
			answer(w, http.StatusForbidden, `{"Message":"User: arn:aws:iam::123456789012:user/ops is not authorized to perform: execute-api:Invoke"}`)
		case api == "edge":
			f.edge(w, r.Method, strings.TrimPrefix(r.URL.Path, "/prod"), r.URL.Query().Get("tenant"), r.Header.Get("Content-Type"), body)
		default:
			f.region(w, api, r.Method, strings.TrimPrefix(r.URL.Path, "/prod"), body)
		}
	})
}

func answer(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func houseError(w http.ResponseWriter, status int, code, message, field string) {
	b, _ := json.Marshal(map[string]any{"error": map[string]string{"code": code, "message": message, "field": field}})
	answer(w, status, string(b))
}

const registeredAt = "2026-11-01T10:00:00.000Z"

// region is the regional API's PUT|GET /tenants/{tenant}.
func (f *fakeAPIs) region(w http.ResponseWriter, name, method, path string, body []byte) {
	tenant, ok := strings.CutPrefix(path, "/tenants/")
	if !ok {
		houseError(w, http.StatusNotFound, "route_not_found", "no such route", "")
		return
	}
	as := name
	if f.answersAs[name] != "" {
		as = f.answersAs[name]
	}
	view := fmt.Sprintf(`{"tenant":%q,"region":%q,"registeredAt":%q}`, tenant, as, registeredAt)
	switch method {
	case http.MethodPut:
		if b := strings.TrimSpace(string(body)); b != "" && b != "{}" {
			houseError(w, http.StatusBadRequest, "invalid_body", "PUT /tenants/{tenant} takes no body; the tenant is the path", "")
			return
		}
		if f.owned[name][tenant] {
			answer(w, http.StatusOK, view)
			return
		}
		f.owned[name][tenant] = true
		answer(w, http.StatusCreated, view)
	case http.MethodGet:
		if !f.owned[name][tenant] {
			houseError(w, http.StatusNotFound, "not_found", "region "+name+" has not registered this tenant", "tenant")
			return
		}
		answer(w, http.StatusOK, view)
	default:
		houseError(w, http.StatusMethodNotAllowed, "method_not_allowed", "GET, PUT", "")
	}
}

// edge is the edge API's tenant and quarantine routes.
func (f *fakeAPIs) edge(w http.ResponseWriter, method, path, tenantQuery, contentType string, body []byte) {
	tenantView := func(tenant string) string {
		return fmt.Sprintf(`{"tenant":%q,"region":%q,"registeredAt":%q,"updatedAt":%q}`, tenant, f.directory[tenant], registeredAt, registeredAt)
	}
	switch {
	case method == http.MethodGet && strings.HasPrefix(path, "/tenants/"):
		tenant := strings.TrimPrefix(path, "/tenants/")
		if f.directory[tenant] == "" {
			houseError(w, http.StatusNotFound, "unknown_tenant", "no region has registered this tenant", "tenant")
			return
		}
		answer(w, http.StatusOK, tenantView(tenant))
	case method == http.MethodPut && strings.HasPrefix(path, "/tenants/"):
		tenant := strings.TrimPrefix(path, "/tenants/")
		if contentType != "application/json" {
			houseError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Type must be application/json", "Content-Type")
			return
		}
		var in struct {
			Region string `json:"region"`
			Move   bool   `json:"move"`
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil || (in.Region != "eu" && in.Region != "us") {
			houseError(w, http.StatusBadRequest, "unknown_region", "region must be one of eu, us", "region")
			return
		}
		current := f.directory[tenant]
		switch {
		case current == "":
			f.directory[tenant] = in.Region
			answer(w, http.StatusCreated, tenantView(tenant))
		case current == in.Region:
			answer(w, http.StatusOK, tenantView(tenant))
		case in.Move:
			f.directory[tenant] = in.Region
			answer(w, http.StatusOK, tenantView(tenant))
		default:
			houseError(w, http.StatusConflict, "tenant_registered_elsewhere",
				"the tenant is registered in region "+current+"; send {\"region\": ..., \"move\": true} to move it", "region")
		}
	case method == http.MethodGet && path == "/quarantine":
		out := struct {
			Held []edge.HeldView `json:"held"`
		}{Held: []edge.HeldView{}}
		for _, h := range f.held {
			if tenantQuery == "" || h.TenantHash == edge.Hash(tenantQuery) {
				out.Held = append(out.Held, h)
			}
		}
		b, _ := json.Marshal(out)
		answer(w, http.StatusOK, string(b))
	case method == http.MethodPost && strings.HasPrefix(path, "/quarantine/") && strings.HasSuffix(path, "/release"):
		id := strings.TrimSuffix(strings.TrimPrefix(path, "/quarantine/"), "/release")
		tenant, ok := f.heldTenant[id]
		switch {
		case len(body) != 0:
			houseError(w, http.StatusBadRequest, "invalid_body", "release takes no body", "")
		case !ok:
			houseError(w, http.StatusNotFound, "not_found", "no held delivery has this id (released, or expired)", "id")
		case f.directory[tenant] == "":
			houseError(w, http.StatusConflict, "tenant_still_unknown", "the delivery's tenant is still not registered; PUT /tenants/{tenant} first", "id")
		default:
			delete(f.heldTenant, id)
			answer(w, http.StatusOK, fmt.Sprintf(`{"id":%q,"status":"released","regions":[%q]}`, id, f.directory[tenant]))
		}
	default:
		houseError(w, http.StatusNotFound, "route_not_found", "no such route", "")
	}
}

// verifySigV4 signs what the server received again with the test
// credentials, the same time and the API's AWS region, as API Gateway
// does, and returns why the two differ ("" when they agree).
func verifySigV4(r *http.Request, body []byte, awsRegion string) string {
	when, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return "no X-Amz-Date"
	}
	re, _ := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), bytes.NewReader(body))
	for k, v := range r.Header {
		switch k {
		case "Authorization", "X-Amz-Date", "X-Amz-Security-Token", "User-Agent", "Accept-Encoding", "Content-Length":
		default:
			re.Header[k] = v
		}
	}
	if err := v4.NewSigner().SignHTTP(context.Background(), testCreds, re, edge.Hash(string(body)), "execute-api", awsRegion, when); err != nil {
		return err.Error()
	}
	if got, want := r.Header.Get("Authorization"), re.Header.Get("Authorization"); got != want {
		return "Authorization " + got + " != " + want
	}
	if r.Header.Get("X-Amz-Security-Token") != testCreds.SessionToken {
		return "no session token"
	}
	return ""
}

// writeConfig writes a cdk.json whose edge and regions have the given API
// URLs ("" leaves a key out) and returns its path.
func writeConfig(t *testing.T, edgeRegion, edgeURL, euURL, usURL string) string {
	t.Helper()
	region := func(name, awsRegion, apiURL string) map[string]any {
		r := map[string]any{"name": name, "awsRegion": awsRegion, "subsystems": []any{map[string]any{
			"name": "projects", "mode": "sync", "baseUrl": "https://projects." + name + ".example.com", "adminEmails": []string{"ops@example.com"}}}}
		if apiURL != "" {
			r["apiUrl"] = apiURL
		}
		return r
	}
	e := map[string]any{}
	if edgeRegion != "" {
		e["awsRegion"] = edgeRegion
	}
	if edgeURL != "" {
		e["apiUrl"] = edgeURL
	}
	cfg := map[string]any{"context": map[string]any{"lethe": map[string]any{
		"edge": e, "regions": []any{region("eu", euAWSRegion, euURL), region("us", usAWSRegion, usURL)}}}}
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

// config writes the configuration naming the fakes' URLs.
func (f *fakeAPIs) config() string {
	return writeConfig(f.t, edgeAWSRegion, f.urls["edge"], f.urls["eu"], f.urls["us"])
}

// testOperator signs with the static test credentials and retries fast.
// credentialCalls counts the look-ups of credentials.
func testOperator(credentialCalls *int) *operator {
	return &operator{
		credentials: func(context.Context) (aws.CredentialsProvider, error) {
			if credentialCalls != nil {
				*credentialCalls++
			}
			return credentials.StaticCredentialsProvider{Value: testCreds}, nil
		},
		client: edge.NewHTTPClient(),
		policy: edge.RetryPolicy{Attempts: 3, Timeout: 5 * time.Second},
	}
}

// opsRun runs one operator command (tenants or quarantine) with op.
func opsRun(op *operator, args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	run := map[string]func(context.Context, []string, io.Reader, io.Writer, io.Writer) int{"tenants": op.tenants, "quarantine": op.quarantine}[args[0]]
	code = run(context.Background(), args[1:], strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

// checkSigned asserts every request was signed (or, unsigned, that none
// was) and that every signature verifies.
func checkSigned(t *testing.T, reqs []sent, signed bool) {
	t.Helper()
	for _, r := range reqs {
		switch {
		case !signed && r.auth != "":
			t.Errorf("%s: signed with --no-sign: %s", r, r.auth)
		case signed && !strings.HasPrefix(r.auth, "AWS4-HMAC-SHA256 Credential=AKIDOPERATOR/"):
			t.Errorf("%s: not SigV4-signed: %q", r, r.auth)
		case signed && r.problem != "":
			t.Errorf("%s: signature does not verify: %s", r, r.problem)
		}
	}
}

// summary is the requests as "api METHOD path body" lines, for comparing.
func summary(reqs []sent) []string {
	out := make([]string, len(reqs))
	for i, r := range reqs {
		out[i] = strings.TrimSpace(r.String() + " " + r.body)
	}
	return out
}

// opsCase is one run of an operator command against fresh fakes.
type opsCase struct {
	name     string
	setup    func(f *fakeAPIs)
	args     []string // after the command; --config is added last
	code     int      // the exit status
	requests []string // what the fakes received, in order (summary)
	stdout   []string // each said on stdout
	absent   []string // none said on stdout
	stderr   []string // each said on stderr
	unsigned bool     // requests are sent unsigned (else each must verify)
	check    func(t *testing.T, f *fakeAPIs, stdout string, code int)
}

// run runs "lethe <command...> <args> --config <fakes>" and checks the case.
func (tc opsCase) run(t *testing.T, command ...string) {
	t.Helper()
	f := newFakeAPIs(t)
	if tc.setup != nil {
		tc.setup(f)
	}
	args := append(append(command, tc.args...), "--config", f.config())
	out, errOut, code := opsRun(testOperator(nil), args...)
	if code != tc.code {
		t.Errorf("exit %d, want %d\nstdout %s\nstderr %s", code, tc.code, out, errOut)
	}
	reqs := f.requests()
	if diff := cmp.Diff(tc.requests, summary(reqs)); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	checkSigned(t, reqs, !tc.unsigned)
	for _, w := range tc.stdout {
		if !strings.Contains(out, w) {
			t.Errorf("stdout does not say %q:\n%s", w, out)
		}
	}
	for _, w := range tc.absent {
		if strings.Contains(out, w) {
			t.Errorf("stdout says %q:\n%s", w, out)
		}
	}
	for _, w := range tc.stderr {
		if !strings.Contains(errOut, w) {
			t.Errorf("stderr does not say %q:\n%s", w, errOut)
		}
	}
	if tc.check != nil {
		tc.check(t, f, out, code)
	}
}

func TestOpsUsageErrors(t *testing.T) {
	f := newFakeAPIs(t)
	cfg := f.config()
	for _, tc := range []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"tenants without subcommand", []string{"tenants"}, "usage:"},
		{"tenants unknown subcommand", []string{"tenants", "delete", "x"}, `unknown subcommand "delete"`},
		{"register without tenant", []string{"tenants", "register", "--region", "eu", "--config", cfg}, "want exactly one TENANT, got 0"},
		{"register two tenants", []string{"tenants", "register", "--region", "eu", "a-shop", "b-shop", "--config", cfg}, "got 2"},
		{"register without region", []string{"tenants", "register", "eu-shop.myshopify.com", "--config", cfg}, "--region is required"},
		{"register unknown region", []string{"tenants", "register", "--region", "ap", "eu-shop.myshopify.com", "--config", cfg}, `no region "ap"`},
		{"register invalid tenant", []string{"tenants", "register", "--region", "eu", "Shop With Spaces", "--config", cfg}, "TENANT is malformed"},
		{"register unknown flag", []string{"tenants", "register", "--regoin", "eu", "x", "--config", cfg}, "flag provided but not defined: -regoin"},
		{"register plain http edge", []string{"tenants", "register", "--region", "eu", "x", "--config", cfg, "--edge-url", "http://edge.example.com"}, "--edge-url"},
		{"register region url with query", []string{"tenants", "register", "--region", "eu", "x", "--config", cfg, "--region-url", "https://r.example.com/prod?x=1"}, "--region-url"},
		{"show without tenant", []string{"tenants", "show", "--config", cfg}, "want exactly one TENANT"},
		{"show invalid tenant", []string{"tenants", "show", "shop-", "--config", cfg}, "TENANT is malformed"},
		{"quarantine without subcommand", []string{"quarantine"}, "usage:"},
		{"quarantine unknown subcommand", []string{"quarantine", "drop"}, `unknown subcommand "drop"`},
		{"list with argument", []string{"quarantine", "list", "extra", "--config", cfg}, "list takes no arguments"},
		{"list invalid tenant", []string{"quarantine", "list", "--tenant", "UPPER", "--config", cfg}, "--tenant is malformed"},
		{"list limit not a number", []string{"quarantine", "list", "--limit", "ten", "--config", cfg}, "invalid value"},
		{"list has no region url", []string{"quarantine", "list", "--region-url", "https://r.example.com", "--config", cfg}, "-region-url"},
		{"release without id", []string{"quarantine", "release", "--config", cfg}, "want exactly one quarantine ID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			out, errOut, code := opsRun(testOperator(&calls), tc.args...)
			if code != 2 {
				t.Errorf("exit %d, want 2 (stdout %q stderr %q)", code, out, errOut)
			}
			if !strings.Contains(errOut, tc.want) {
				t.Errorf("stderr %q does not say %q", errOut, tc.want)
			}
			if calls != 0 {
				t.Errorf("credentials looked up %d times for a usage error", calls)
			}
		})
	}
	if reqs := f.requests(); len(reqs) != 0 {
		t.Errorf("usage errors sent requests: %v", summary(reqs))
	}
}

func TestOpsHelp(t *testing.T) {
	for _, cmd := range []string{"tenants", "quarantine"} {
		out, errOut, code := lethe(t, "", cmd, "--help")
		if code != 0 || !strings.Contains(out, "usage:") || !strings.Contains(out, "--no-sign") {
			t.Errorf("lethe %s --help: %d %q %q", cmd, code, out, errOut)
		}
		if _, errOut, code := lethe(t, "", cmd); code != 2 || !strings.Contains(errOut, "usage:") {
			t.Errorf("lethe %s: %d %q", cmd, code, errOut)
		}
	}
	for _, args := range [][]string{{"tenants", "register", "-h"}, {"quarantine", "release", "x", "--help"}} {
		if out, errOut, code := lethe(t, "", args...); code != 0 || !strings.Contains(out, "usage:") {
			t.Errorf("lethe %q: %d %q %q", args, code, out, errOut)
		}
	}
	if _, errOut, _ := lethe(t, "", "help"); !strings.Contains(errOut, "tenants") || !strings.Contains(errOut, "quarantine") {
		t.Errorf("lethe help does not list the operator commands: %q", errOut)
	}
}

// TestOpsMissingConfiguration: a URL, AWS region or file the command needs
// and does not have is one clear error naming the configuration key, and
// nothing is sent anywhere.
func TestOpsMissingConfiguration(t *testing.T) {
	f := newFakeAPIs(t)
	noURLs := writeConfig(t, edgeAWSRegion, "", "", "")
	noEdgeRegion := writeConfig(t, "", f.urls["edge"], f.urls["eu"], f.urls["us"])
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"register: region apiUrl", []string{"tenants", "register", "--region", "us", "us-shop.myshopify.com", "--config", noURLs, "--edge-url", f.urls["edge"]},
			[]string{"regions[1].apiUrl", "region us", "--region-url"}},
		{"register: edge apiUrl", []string{"tenants", "register", "--region", "eu", "eu-shop.myshopify.com", "--config", noURLs, "--region-url", f.urls["eu"]},
			[]string{"edge.apiUrl", "--edge-url"}},
		{"register: edge awsRegion to sign", []string{"tenants", "register", "--region", "eu", "eu-shop.myshopify.com", "--config", noEdgeRegion},
			[]string{"edge.awsRegion", "--no-sign"}},
		{"show: edge apiUrl", []string{"tenants", "show", "eu-shop.myshopify.com", "--config", noURLs}, []string{"edge.apiUrl"}},
		{"list: edge apiUrl", []string{"quarantine", "list", "--config", noURLs}, []string{"edge.apiUrl"}},
		{"release: edge apiUrl", []string{"quarantine", "release", "q_0123", "--config", noURLs}, []string{"edge.apiUrl"}},
		{"no configuration file", []string{"tenants", "show", "x", "--config", filepath.Join(t.TempDir(), "cdk.json")},
			[]string{"cdk.json", "--config FILE"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			out, errOut, code := opsRun(testOperator(&calls), tc.args...)
			if code != 1 {
				t.Errorf("exit %d, want 1 (stdout %q stderr %q)", code, out, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr %q does not say %q", errOut, w)
				}
			}
		})
	}
	if reqs := f.requests(); len(reqs) != 0 {
		t.Errorf("missing configuration sent requests: %v", summary(reqs))
	}

	// The edge's AWS region is needed only to sign.
	out, errOut, code := opsRun(testOperator(new(int)), "tenants", "register", "--region", "eu", "eu-shop.myshopify.com", "--config", noEdgeRegion, "--no-sign")
	if code != 0 {
		t.Errorf("--no-sign without edge.awsRegion: %d %q %q", code, out, errOut)
	}
	if !strings.Contains(out, "edge (edge.awsRegion unset): lethe/edge/webhooks/shopify/eu-shop.myshopify.com") {
		t.Errorf("secret names without the edge's AWS region: %q", out)
	}
}

// TestOpsCredentials: without AWS credentials nothing is sent; --no-sign
// never looks them up.
func TestOpsCredentials(t *testing.T) {
	f := newFakeAPIs(t)
	looked := 0
	op := testOperator(nil)
	op.credentials = func(context.Context) (aws.CredentialsProvider, error) {
		looked++
		return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{}, errors.New("no EC2 IMDS role found")
		}), nil
	}
	_, errOut, code := opsRun(op, "tenants", "register", "--region", "eu", "eu-shop.myshopify.com", "--config", f.config())
	if code != 1 || !strings.Contains(errOut, "AWS credentials: no EC2 IMDS role found") || !strings.Contains(errOut, "--no-sign") {
		t.Errorf("no credentials: %d %q", code, errOut)
	}
	if reqs := f.requests(); len(reqs) != 0 {
		t.Errorf("sent without credentials: %v", summary(reqs))
	}
	looked = 0
	if _, errOut, code := opsRun(op, "quarantine", "list", "--config", f.config(), "--no-sign"); code != 0 || looked != 0 {
		t.Errorf("--no-sign: exit %d, credentials looked up %d times: %q", code, looked, errOut)
	}
	checkSigned(t, f.requests(), false)
}

func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		pos     []string
		region  string
		move    bool
		wantErr bool
	}{
		{[]string{"--region", "eu", "t"}, []string{"t"}, "eu", false, false},
		{[]string{"t", "--region", "eu", "--move"}, []string{"t"}, "eu", true, false},
		{[]string{"--move", "t", "--region=us"}, []string{"t"}, "us", true, false},
		{[]string{"a", "b"}, []string{"a", "b"}, "", false, false},
		{[]string{"--region", "eu", "--", "--move"}, []string{"--move"}, "eu", false, false},
		{[]string{"t", "--bogus"}, nil, "", false, true},
		{[]string{"t", "--region"}, nil, "", false, true},
	} {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		region := fs.String("region", "", "")
		move := fs.Bool("move", false, "")
		pos, err := parseArgs(fs, tc.args)
		if (err != nil) != tc.wantErr {
			t.Errorf("%q: err %v", tc.args, err)
			continue
		}
		if tc.wantErr {
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Errorf("%q: %v is not a usage error", tc.args, err)
			}
			continue
		}
		if strings.Join(pos, ",") != strings.Join(tc.pos, ",") || *region != tc.region || *move != tc.move {
			t.Errorf("%q: pos %q region %q move %v", tc.args, pos, *region, *move)
		}
	}
}
