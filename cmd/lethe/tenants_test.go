package main

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/webhook"
)

const shop = "eu-shop.myshopify.com"

// ownedBy lists the regions that have registered tenant.
func (f *fakeAPIs) ownedBy(tenant string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for r, ts := range f.owned {
		if ts[tenant] {
			out = append(out, r)
		}
	}
	sort.Strings(out)
	return out
}

func (f *fakeAPIs) routedTo(tenant string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.directory[tenant]
}

func TestTenantsRegister(t *testing.T) {
	put := "eu PUT /tenants/" + shop
	edgePut := `edge PUT /tenants/` + shop + ` {"region":"eu"}`
	edgeMove := `edge PUT /tenants/` + shop + ` {"move":true,"region":"eu"}`
	edgeGet := "edge GET /tenants/" + shop
	for _, tc := range []opsCase{
		{
			name: "new tenant: the region first, then the edge", args: []string{"--region", "eu", shop},
			requests: []string{put, edgePut},
			stdout:   []string{"region eu: registered tenant " + shop + " (201)", "edge: routes tenant " + shop + " to eu (new in the directory, 201)"},
			check:    registered("eu", "eu"),
		},
		{
			name:  "already registered: both answer 200 and nothing changes",
			setup: func(f *fakeAPIs) { f.directory[shop] = "eu"; f.owned["eu"][shop] = true }, args: []string{"--region", "eu", shop},
			requests: []string{put, edgePut},
			stdout:   []string{"region eu: tenant " + shop + " was already registered (200)", "edge: tenant " + shop + " already routes to eu (200)"},
			check:    registered("eu", "eu"),
		},
		{
			name:  "routed to another region: the edge refuses without --move",
			setup: func(f *fakeAPIs) { f.directory[shop] = "us"; f.owned["us"][shop] = true }, args: []string{"--region", "eu", shop},
			code: 1, requests: []string{put, edgePut},
			stdout: []string{"region eu: registered tenant " + shop + " (201)"},
			stderr: []string{"edge API PUT /tenants/" + shop + ": HTTP 409 tenant_registered_elsewhere: the tenant is registered in region us", "(field region)", "pass --move"},
			check:  registered("us", "eu", "us"),
		},
		{
			name:  "--move (after the tenant) moves it and says from where",
			setup: func(f *fakeAPIs) { f.directory[shop] = "us"; f.owned["us"][shop] = true }, args: []string{shop, "--region", "eu", "--move"},
			requests: []string{edgeGet, put, edgeMove},
			stdout: []string{"edge: moved tenant " + shop + " from us to eu (200)", "region us still lists the tenant",
				"lethe/us/webhooks/<provider>/" + shop},
			check: registered("eu", "eu", "us"),
		},
		{
			name: "--move of a new tenant registers it", args: []string{"--move", "--region", "eu", shop},
			requests: []string{edgeGet, put, edgeMove}, stdout: []string{"new in the directory, 201"},
			check: registered("eu", "eu"),
		},
		{
			name:  "--move refused by IAM at the edge changes nothing",
			setup: func(f *fakeAPIs) { f.deny["edge"] = true }, args: []string{"--move", "--region", "eu", shop},
			code: 1, requests: []string{edgeGet},
			stderr: []string{"edge API GET /tenants/" + shop + ": HTTP 403: User: arn:aws:iam::123456789012:user/ops is not authorized"},
			check:  registered(""),
		},
		{
			name:  "the region refuses: the edge is not touched",
			setup: func(f *fakeAPIs) { f.deny["eu"] = true }, args: []string{"--region", "eu", shop},
			code: 1, requests: []string{put},
			stderr: []string{"region eu API PUT /tenants/" + shop + ": HTTP 403: User: arn:aws:iam::123456789012:user/ops is not authorized"},
			check:  registered(""),
		},
		{
			name:  "a region URL that is another region's API: the edge is not touched",
			setup: func(f *fakeAPIs) { f.answersAs["eu"] = "us" }, args: []string{"--region", "eu", shop},
			code: 1, requests: []string{put},
			stderr: []string{`region eu API answered as region "us"`, "nothing was registered at the edge"},
			check:  registered("", "eu"),
		},
		{
			name:  "the edge is down: retried, then told to run again",
			setup: func(f *fakeAPIs) { f.down["edge"] = true }, args: []string{"--region", "eu", shop},
			code: 1, requests: []string{put, edgePut, edgePut, edgePut},
			stdout: []string{"region eu: registered tenant"},
			stderr: []string{"edge API PUT /tenants/" + shop + ": HTTP 503 after 3 attempts", "run the same command again"},
			check:  registered("", "eu"),
		},
		{
			name: "--no-sign sends unsigned requests", args: []string{"--region", "eu", shop, "--no-sign"},
			requests: []string{put, edgePut}, unsigned: true,
			check: registered("eu", "eu"),
		},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, "tenants", "register") })
	}
}

// registered checks where the edge routes shop and which regions list it
// after a registration, and that the secret names, the last word of a
// registration, are printed after a successful one only.
func registered(directory string, owned ...string) func(t *testing.T, f *fakeAPIs, stdout string, code int) {
	return func(t *testing.T, f *fakeAPIs, stdout string, code int) {
		t.Helper()
		if got := f.routedTo(shop); got != directory {
			t.Errorf("edge routes to %q, want %q", got, directory)
		}
		if got := f.ownedBy(shop); !slices.Equal(got, owned) {
			t.Errorf("owned by %q, want %q", got, owned)
		}
		if printed := strings.Contains(stdout, "webhook secrets:"); printed != (code == 0) {
			t.Errorf("secret names printed: %v, exit %d", printed, code)
		}
	}
}

// TestTenantsRegisterTwice: a repeated registration sends the same two
// requests, is answered 200 instead of 201 and changes nothing.
func TestTenantsRegisterTwice(t *testing.T) {
	f := newFakeAPIs(t)
	cfg := f.config()
	var outs []string
	for i := range 2 {
		out, errOut, code := opsRun(testOperator(nil), "tenants", "register", "--config", cfg, "--region", "us", "us-shop.myshopify.com")
		if code != 0 {
			t.Fatalf("run %d: exit %d: %s", i+1, code, errOut)
		}
		outs = append(outs, out)
	}
	reqs := summary(f.requests())
	want := []string{"us PUT /tenants/us-shop.myshopify.com", `edge PUT /tenants/us-shop.myshopify.com {"region":"us"}`}
	if diff := cmp.Diff(append(want, want...), reqs); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	if !strings.Contains(outs[0], "(201)") || strings.Contains(outs[1], "(201)") || !strings.Contains(outs[1], "already") {
		t.Errorf("first run:\n%s\nsecond run:\n%s", outs[0], outs[1])
	}
	if f.routedTo("us-shop.myshopify.com") != "us" || !slices.Equal(f.ownedBy("us-shop.myshopify.com"), []string{"us"}) {
		t.Errorf("state after two runs: edge %q, owners %q", f.routedTo("us-shop.myshopify.com"), f.ownedBy("us-shop.myshopify.com"))
	}
}

// TestTenantsRegisterSecretNames: every provider's secret, under the edge's
// scope and the region's, with the AWS region each lives in.
func TestTenantsRegisterSecretNames(t *testing.T) {
	f := newFakeAPIs(t)
	out, errOut, code := opsRun(testOperator(nil), "tenants", "register", "--config", f.config(), "--region", "us", "us-help")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if len(webhook.Names()) < 2 {
		t.Fatalf("providers: %q", webhook.Names())
	}
	for _, p := range webhook.Names() {
		for _, w := range []string{
			"edge (" + edgeAWSRegion + "): " + config.WebhookSecretName(config.EdgeScope, p, "us-help"),
			"region (" + usAWSRegion + "): " + config.WebhookSecretName("us", p, "us-help"),
			"lethe/us/webhooks/" + p + "/us-help",
		} {
			if !strings.Contains(out, w) {
				t.Errorf("stdout does not name %q:\n%s", w, out)
			}
		}
	}
}

func TestTenantsRegisterJSON(t *testing.T) {
	f := newFakeAPIs(t)
	out, errOut, code := opsRun(testOperator(nil), "tenants", "register", "--config", f.config(), "--region", "eu", shop, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got struct {
		Region  rawAnswer     `json:"region"`
		Edge    rawAnswer     `json:"edge"`
		Secrets []secretNames `json:"secrets"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, out)
	}
	var region, edgeView tenantAnswer
	if json.Unmarshal(got.Region.Body, &region) != nil || json.Unmarshal(got.Edge.Body, &edgeView) != nil {
		t.Fatalf("answers are not the APIs' bodies: %s", out)
	}
	if got.Region.Status != 201 || region.Region != "eu" || got.Edge.Status != 201 || edgeView.Region != "eu" || edgeView.Tenant != shop {
		t.Errorf("answers: %s", out)
	}
	if len(got.Secrets) != len(webhook.Names()) || got.Secrets[0].EdgeSecret != config.WebhookSecretName(config.EdgeScope, got.Secrets[0].Provider, shop) ||
		got.Secrets[0].RegionSecret != config.WebhookSecretName("eu", got.Secrets[0].Provider, shop) || got.Secrets[0].RegionAWSRegion != euAWSRegion {
		t.Errorf("secrets: %+v", got.Secrets)
	}

	// A refusal still prints the answers so far, the refusal included, and
	// no secret names.
	f.directory["other-shop"] = "us"
	out, _, code = opsRun(testOperator(nil), "tenants", "register", "--config", f.config(), "--region", "eu", "other-shop", "--json")
	var refused map[string]json.RawMessage
	if code != 1 || json.Unmarshal([]byte(out), &refused) != nil {
		t.Fatalf("refused --json: exit %d\n%s", code, out)
	}
	if _, ok := refused["secrets"]; ok || !strings.Contains(string(refused["edge"]), `"status": 409`) ||
		!strings.Contains(string(refused["edge"]), "tenant_registered_elsewhere") {
		t.Errorf("refused --json:\n%s", out)
	}
}

func TestTenantsShow(t *testing.T) {
	for _, tc := range []opsCase{
		{
			name:  "the edge and the home region agree",
			setup: func(f *fakeAPIs) { f.directory[shop] = "eu"; f.owned["eu"][shop] = true },
			args:  []string{shop}, requests: []string{"edge GET /tenants/" + shop, "eu GET /tenants/" + shop},
			stdout: []string{"tenant " + shop, "edge: routes to eu (registered " + registeredAt, "region eu: owns it"},
		},
		{
			name: "unknown at the edge", args: []string{shop},
			code: 1, requests: []string{"edge GET /tenants/" + shop},
			stdout: []string{"edge: not in the directory", "lethe tenants register --region NAME " + shop},
			stderr: []string{"do not agree"},
		},
		{
			name:  "routed to a region that has not registered it",
			setup: func(f *fakeAPIs) { f.directory[shop] = "us" }, args: []string{shop},
			code: 1, requests: []string{"edge GET /tenants/" + shop, "us GET /tenants/" + shop},
			stdout: []string{"edge: routes to us", "region us: has NOT registered the tenant", "lethe tenants register --region us " + shop},
		},
		{
			name:  "the edge refuses",
			setup: func(f *fakeAPIs) { f.deny["edge"] = true }, args: []string{shop},
			code: 1, requests: []string{"edge GET /tenants/" + shop},
			stderr: []string{"edge API GET /tenants/" + shop + ": HTTP 403"},
		},
		{
			name:  "the home region is down",
			setup: func(f *fakeAPIs) { f.directory[shop] = "eu"; f.down["eu"] = true }, args: []string{shop},
			code: 1, requests: []string{"edge GET /tenants/" + shop, "eu GET /tenants/" + shop, "eu GET /tenants/" + shop, "eu GET /tenants/" + shop},
			stderr: []string{"region eu API GET /tenants/" + shop + ": HTTP 503 after 3 attempts"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, "tenants", "show") })
	}
}

func TestTenantsShowJSON(t *testing.T) {
	f := newFakeAPIs(t)
	f.directory[shop], f.owned["eu"][shop] = "eu", true
	// The home region's URL from the flag: the configuration has none.
	cfg := writeConfig(t, edgeAWSRegion, f.urls["edge"], "", "")
	out, errOut, code := opsRun(testOperator(nil), "tenants", "show", shop, "--json", "--config", cfg, "--region-url", f.urls["eu"])
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got map[string]rawAnswer
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var e, r tenantAnswer
	if json.Unmarshal(got["edge"].Body, &e) != nil || json.Unmarshal(got["region"].Body, &r) != nil ||
		got["edge"].Status != 200 || got["region"].Status != 200 || e.Region != "eu" || r.Region != "eu" || len(got) != 2 {
		t.Errorf("stdout:\n%s", out)
	}
}
