package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// defaultFile is the shipped configuration, at the root of the module.
var defaultFile = filepath.Join("..", "..", "cdk.json")

func TestLoadDefault(t *testing.T) {
	c, err := Load(defaultFile)
	if err != nil {
		t.Fatalf("Load(cdk.json): %v", err)
	}
	if got := len(c.Regions); got != 2 {
		t.Fatalf("regions = %d, want 2", got)
	}
	want := map[string]string{"eu": "eu-west-1", "us": "us-west-2"}
	for _, r := range c.Regions {
		if want[r.Name] != r.AWSRegion {
			t.Errorf("region %s in %s, want %s", r.Name, r.AWSRegion, want[r.Name])
		}
		modes := map[string]Mode{}
		for _, s := range r.Subsystems {
			modes[s.Name] = s.Mode
			if s.Mode == ModeAsync && (s.Poll == nil || s.Poll.Multiplier < 1) {
				t.Errorf("%s/%s: async without a poll policy", r.Name, s.Name)
			}
			if s.Token.Kind != TokenSecretsManager {
				t.Errorf("%s/%s: token kind %q, want the default %q", r.Name, s.Name, s.Token.Kind, TokenSecretsManager)
			}
		}
		if modes["projects"] != ModeSync || modes["orders"] != ModeAsync || modes["customers"] != ModeAsync {
			t.Errorf("region %s subsystems = %v", r.Name, modes)
		}
	}
	if c.Deadline.Months != 1 || c.Deadline.Days != 0 {
		t.Errorf("deadline = %+v, want one month", c.Deadline)
	}
}

// valid returns a small valid configuration as JSON-ready data, for the
// table below to break one key at a time.
func valid() map[string]any {
	return map[string]any{
		"regions": []any{map[string]any{
			"name": "eu", "awsRegion": "eu-west-1",
			"subsystems": []any{
				map[string]any{"name": "projects", "mode": "sync", "baseUrl": "https://p.example.com", "adminEmails": []any{"a@example.com"}},
				map[string]any{"name": "orders", "mode": "async", "baseUrl": "https://o.example.com/api", "adminEmails": []any{}},
			},
		}},
	}
}

func s3Connector() map[string]any {
	return map[string]any{"s3": map[string]any{"bucket": "profiles", "prefix": "users/{subject}/"}}
}

// connectorOnly makes subsystem 0 a built-in connector's.
func connectorOnly(m map[string]any) {
	delete(sub(m, 0), "baseUrl")
	delete(sub(m, 0), "mode")
	sub(m, 0)["connector"] = s3Connector()
}

func TestConnectorSubsystem(t *testing.T) {
	m := valid()
	connectorOnly(m)
	data, _ := json.Marshal(m)
	c, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	s := c.Regions[0].Subsystems[0]
	if s.Mode != ModeSync || s.Token.Kind != TokenNone || s.Connector.Kind() != ConnectorS3 || s.Connector.S3.Prefix != "users/{subject}/" {
		t.Errorf("connector subsystem parsed as %+v (connector %+v)", s, s.Connector)
	}
	sub(m, 0)["connector"] = map[string]any{"mongodb": map[string]any{}}
	data, _ = json.Marshal(m)
	if _, err := Parse(data); err == nil || !strings.Contains(err.Error(), `"mongodb"`) {
		t.Errorf("an unknown store: %v, want an error naming it", err)
	}
}

func region0(m map[string]any) map[string]any { return m["regions"].([]any)[0].(map[string]any) }
func sub(m map[string]any, i int) map[string]any {
	return region0(m)["subsystems"].([]any)[i].(map[string]any)
}

func TestParseErrorsNameTheKey(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(m map[string]any)
		wantKey string
	}{
		{"no regions", func(m map[string]any) { m["regions"] = []any{} }, "regions"},
		{"bad region name", func(m map[string]any) { region0(m)["name"] = "EU" }, "regions[0].name"},
		{"bad aws region", func(m map[string]any) { region0(m)["awsRegion"] = "europe" }, "regions[0].awsRegion"},
		{"bad account", func(m map[string]any) { region0(m)["account"] = "12" }, "regions[0].account"},
		{"duplicate region", func(m map[string]any) {
			r := map[string]any{}
			for k, v := range region0(m) {
				r[k] = v
			}
			r["awsRegion"] = "us-west-2"
			m["regions"] = append(m["regions"].([]any), r)
		}, "regions[1].name"},
		{"no subsystems", func(m map[string]any) { region0(m)["subsystems"] = []any{} }, "regions[0].subsystems"},
		{"bad mode", func(m map[string]any) { sub(m, 0)["mode"] = "batch" }, "regions[0].subsystems[0].mode"},
		{"duplicate subsystem", func(m map[string]any) { sub(m, 1)["name"] = "projects" }, "regions[0].subsystems[1].name"},
		{"relative url", func(m map[string]any) { sub(m, 0)["baseUrl"] = "/projects" }, "regions[0].subsystems[0].baseUrl"},
		{"url with query", func(m map[string]any) { sub(m, 0)["baseUrl"] = "https://p.example.com/?x=1" }, "regions[0].subsystems[0].baseUrl"},
		{"bad email", func(m map[string]any) { sub(m, 0)["adminEmails"] = []any{"Admins <a@example.com>"} }, "regions[0].subsystems[0].adminEmails[0]"},
		{"bad ops email", func(m map[string]any) { region0(m)["opsEmails"] = []any{"ops"} }, "regions[0].opsEmails[0]"},
		{"timeout too long", func(m map[string]any) { sub(m, 0)["timeoutSeconds"] = 600 }, "regions[0].subsystems[0].timeoutSeconds"},
		{"poll on sync", func(m map[string]any) { sub(m, 0)["poll"] = map[string]any{"initialSeconds": 60} }, "regions[0].subsystems[0].poll"},
		{"callback on sync", func(m map[string]any) { sub(m, 0)["callback"] = true }, "regions[0].subsystems[0].callback"},
		{"poll max below initial", func(m map[string]any) {
			sub(m, 1)["poll"] = map[string]any{"initialSeconds": 600, "maxSeconds": 60}
		}, "regions[0].subsystems[1].poll.maxSeconds"},
		{"poll multiplier", func(m map[string]any) { sub(m, 1)["poll"] = map[string]any{"multiplier": 0.5} }, "regions[0].subsystems[1].poll.multiplier"},
		{"polls too often for a month", func(m map[string]any) {
			sub(m, 1)["poll"] = map[string]any{"initialSeconds": 60, "maxSeconds": 600, "multiplier": 1}
		}, "regions[0].subsystems[1].poll"},
		{"retry max over 12 h", func(m map[string]any) { sub(m, 0)["retry"] = map[string]any{"maxSeconds": 86400} }, "regions[0].subsystems[0].retry.maxSeconds"},
		{"retry multiplier", func(m map[string]any) { sub(m, 0)["retry"] = map[string]any{"multiplier": 20} }, "regions[0].subsystems[0].retry.multiplier"},
		{"retries too often", func(m map[string]any) {
			sub(m, 0)["retry"] = map[string]any{"initialSeconds": 60, "maxSeconds": 600, "multiplier": 1}
		}, "regions[0].subsystems[0].retry"},
		{"give up too early", func(m map[string]any) { sub(m, 0)["retry"] = map[string]any{"giveUpBeforeHours": 400} }, "regions[0].subsystems[0].retry.giveUpBeforeHours"},
		{"alert after nothing", func(m map[string]any) { sub(m, 0)["retry"] = map[string]any{"alertAfterHours": -1} }, "regions[0].subsystems[0].retry.alertAfterHours"},
		{"at risk too early", func(m map[string]any) { m["deadline"] = map[string]any{"months": 1, "atRiskBeforeHours": 1000} }, "deadline.atRiskBeforeHours"},
		{"ssm name", func(m map[string]any) { sub(m, 0)["token"] = map[string]any{"kind": "ssm", "name": "x"} }, "regions[0].subsystems[0].token.name"},
		{"token kind", func(m map[string]any) { sub(m, 0)["token"] = map[string]any{"kind": "vault"} }, "regions[0].subsystems[0].token.kind"},
		{"deadline past a month", func(m map[string]any) { m["deadline"] = map[string]any{"months": 1, "days": 3} }, "deadline"},
		{"negative deadline", func(m map[string]any) { m["deadline"] = map[string]any{"days": -1} }, "deadline"},
		{"edge region", func(m map[string]any) { m["edge"] = map[string]any{"awsRegion": "nowhere"} }, "edge.awsRegion"},
		{"region named edge", func(m map[string]any) { region0(m)["name"] = "edge" }, "regions[0].name"},
		{"api url http off loopback", func(m map[string]any) { region0(m)["apiUrl"] = "http://api.example.com/prod" }, "regions[0].apiUrl"},
		{"api url with query", func(m map[string]any) { region0(m)["apiUrl"] = "https://api.example.com/prod?x=1" }, "regions[0].apiUrl"},
		{"edge api url", func(m map[string]any) { m["edge"] = map[string]any{"apiUrl": "ftp://edge.example.com"} }, "edge.apiUrl"},
		{"edge ops email", func(m map[string]any) { m["edge"] = map[string]any{"opsEmails": []any{"ops"}} }, "edge.opsEmails[0]"},
		{"multicast topic without provider", func(m map[string]any) {
			m["edge"] = map[string]any{"multicastTopics": []any{"app-uninstalled"}}
		}, "edge.multicastTopics[0]"},
		{"quarantine too long", func(m map[string]any) { m["edge"] = map[string]any{"quarantineHours": 1000} }, "edge.quarantineHours"},
		{"signature tolerance", func(m map[string]any) { m["edge"] = map[string]any{"signatureToleranceSeconds": -5} }, "edge.signatureToleranceSeconds"},
		{"connector and base url", func(m map[string]any) { sub(m, 0)["connector"] = s3Connector() }, "regions[0].subsystems[0].baseUrl"},
		{"connector async", func(m map[string]any) {
			delete(sub(m, 1), "baseUrl")
			sub(m, 1)["connector"] = s3Connector()
		}, "regions[0].subsystems[1].mode"},
		{"connector with a token", func(m map[string]any) {
			connectorOnly(m)
			sub(m, 0)["token"] = map[string]any{"kind": "secretsmanager"}
		}, "regions[0].subsystems[0].token"},
		{"connector naming no store", func(m map[string]any) { connectorOnly(m); sub(m, 0)["connector"] = map[string]any{} }, "regions[0].subsystems[0].connector"},
		{"connector naming two stores", func(m map[string]any) {
			connectorOnly(m)
			sub(m, 0)["connector"].(map[string]any)["stripe"] = map[string]any{"apiKeySecret": "lethe/eu/stripe"}
		}, "regions[0].subsystems[0].connector"},
		{"s3 prefix without placeholder", func(m map[string]any) {
			connectorOnly(m)
			sub(m, 0)["connector"] = map[string]any{"s3": map[string]any{"bucket": "profiles", "prefix": "users/"}}
		}, "regions[0].subsystems[0].connector.s3.prefix"},
		{"dynamodb key template", func(m map[string]any) {
			connectorOnly(m)
			sub(m, 0)["connector"] = map[string]any{"dynamodb": map[string]any{"table": "users", "key": map[string]any{"pk": "USER"}}}
		}, "regions[0].subsystems[0].connector.dynamodb.key.pk"},
		{"dynamodb table in another region", func(m map[string]any) {
			connectorOnly(m)
			sub(m, 0)["connector"] = map[string]any{"dynamodb": map[string]any{"table": "arn:aws:dynamodb:us-east-1:123456789012:table/users", "key": map[string]any{"pk": "{subject}"}}}
		}, "regions[0].subsystems[0].connector.dynamodb.table"},
		{"s3 bucket in another region", func(m map[string]any) {
			connectorOnly(m)
			sub(m, 0)["connector"].(map[string]any)["s3"].(map[string]any)["region"] = "us-east-1"
		}, "regions[0].subsystems[0].connector.s3.region"},
		{"cognito pool in another region", func(m map[string]any) {
			connectorOnly(m)
			sub(m, 0)["connector"] = map[string]any{"cognito": map[string]any{"userPoolId": "us-east-1_AbC123", "attribute": "email"}}
		}, "regions[0].subsystems[0].connector.cognito.userPoolId"},
		{"cognito custom attribute", func(m map[string]any) {
			connectorOnly(m)
			sub(m, 0)["connector"] = map[string]any{"cognito": map[string]any{"userPoolId": "eu-west-1_AbC123", "attribute": "custom:id"}}
		}, "regions[0].subsystems[0].connector.cognito.attribute"},
		{"stripe secret in another region", func(m map[string]any) {
			connectorOnly(m)
			sub(m, 0)["connector"] = map[string]any{"stripe": map[string]any{"apiKeySecret": "arn:aws:secretsmanager:us-east-1:123456789012:secret:stripe-AbC"}}
		}, "regions[0].subsystems[0].connector.stripe.apiKeySecret"},
		{"connector endpoint off loopback", func(m map[string]any) {
			connectorOnly(m)
			sub(m, 0)["connector"].(map[string]any)["s3"].(map[string]any)["endpoint"] = "https://s3.example.com"
		}, "regions[0].subsystems[0].connector.s3.endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := valid()
			tt.mutate(m)
			data, _ := json.Marshal(m)
			_, err := Parse(data)
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("Parse = %v, want a *config.Error for %s", err, tt.wantKey)
			}
			if ce.Key != tt.wantKey {
				t.Errorf("key = %q (%v), want %q", ce.Key, err, tt.wantKey)
			}
		})
	}
}

func TestParseRejectsUnknownKeys(t *testing.T) {
	m := valid()
	m["deadlin"] = map[string]any{"days": 10}
	data, _ := json.Marshal(m)
	if _, err := Parse(data); err == nil || !strings.Contains(err.Error(), "deadlin") {
		t.Fatalf("Parse = %v, want an error naming the unknown key", err)
	}
}

func TestParseDefaults(t *testing.T) {
	data, _ := json.Marshal(valid())
	c, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	s := c.Regions[0].Subsystems
	if s[0].TimeoutSeconds != DefaultTimeoutSeconds || s[0].Poll != nil {
		t.Errorf("sync defaults = %+v", s[0])
	}
	if p := s[1].Poll; p == nil || p.InitialSeconds != DefaultPollInitialSeconds || p.MaxSeconds != DefaultPollMaxSeconds || p.Multiplier != DefaultPollMultiplier {
		t.Errorf("async poll defaults = %+v", p)
	}
	if c.Deadline.Months != 1 {
		t.Errorf("deadline default = %+v", c.Deadline)
	}
	// A subsystem that calls back is checked sparsely: from a day, doubling.
	m := valid()
	m["regions"].([]any)[0].(map[string]any)["subsystems"].([]any)[1].(map[string]any)["callback"] = true
	data, _ = json.Marshal(m)
	if c, err = Parse(data); err != nil {
		t.Fatal(err)
	}
	if s := c.Regions[0].Subsystems[1]; !s.Callback || s.Poll.InitialSeconds != DefaultCallbackPollInitialSeconds || s.Poll.MaxSeconds != DefaultCallbackPollMaxSeconds {
		t.Errorf("callback poll defaults = %+v", s.Poll)
	}
}

func TestDeadlineAfter(t *testing.T) {
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		policy   Deadline
		received string
		want     string
	}{
		{Deadline{Months: 1}, "2026-01-15T10:00:00Z", "2026-02-15T10:00:00Z"},
		{Deadline{Months: 1}, "2026-01-31T23:59:59Z", "2026-02-28T23:59:59Z"},
		{Deadline{Months: 1}, "2028-01-31T08:00:00Z", "2028-02-29T08:00:00Z"},
		{Deadline{Months: 1}, "2026-03-31T00:00:00Z", "2026-04-30T00:00:00Z"},
		{Deadline{Months: 1}, "2026-12-31T12:00:00Z", "2027-01-31T12:00:00Z"},
		{Deadline{Months: 1}, "2026-08-31T12:00:00Z", "2026-09-30T12:00:00Z"},
		{Deadline{Days: 20}, "2026-02-20T00:00:00Z", "2026-03-12T00:00:00Z"},
	}
	for _, tt := range tests {
		if got := tt.policy.After(utc(tt.received)); !got.Equal(utc(tt.want)) {
			t.Errorf("%+v after %s = %s, want %s", tt.policy, tt.received, got.Format(time.RFC3339), tt.want)
		}
	}
}

func TestForRegionAndFromEnv(t *testing.T) {
	c, err := Load(defaultFile)
	if err != nil {
		t.Fatal(err)
	}
	eu, err := c.ForRegion("eu")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(eu)
	if eu.Edge.AWSRegion != "" || len(eu.Edge.OpsEmails) != 0 {
		t.Errorf("the eu configuration holds the edge's deployment settings: %+v", eu.Edge)
	}
	if strings.Contains(string(data), "us-west-2") {
		t.Errorf("the eu configuration names the us region: %s", data)
	}
	_, r, err := FromEnv(string(data))
	if err != nil || r.Name != "eu" || len(r.Subsystems) != 3 {
		t.Fatalf("FromEnv = %+v, %v", r, err)
	}
	if _, _, err := FromEnv(""); err == nil {
		t.Error("FromEnv(\"\") succeeded")
	}
	all, _ := json.Marshal(c)
	if _, _, err := FromEnv(string(all)); err == nil {
		t.Error("FromEnv accepted two regions")
	}
	if _, err := c.ForRegion("mars"); err == nil {
		t.Error("ForRegion(mars) succeeded")
	}
}

func TestForEdgeAndEdgeFromEnv(t *testing.T) {
	c, err := Load(defaultFile)
	if err != nil {
		t.Fatal(err)
	}
	c.Regions[0].APIURL = "https://abc.execute-api.eu-west-1.amazonaws.com/prod"
	data, _ := json.Marshal(c.ForEdge())
	for _, secret := range []string{"subsystems", "baseUrl", "adminEmails", "opsEmails"} {
		if strings.Contains(string(data), secret) {
			t.Errorf("the edge view holds %s: %s", secret, data)
		}
	}
	v, err := EdgeFromEnv(string(data))
	if err != nil {
		t.Fatal(err)
	}
	eu, ok := v.Region("eu")
	if !ok || eu.AWSRegion != "eu-west-1" || eu.APIURL != c.Regions[0].APIURL {
		t.Errorf("Region(eu) = %+v, %v", eu, ok)
	}
	if _, ok := v.Region("mars"); ok {
		t.Error("Region(mars) found")
	}
	if v.Edge.QuarantineHours != DefaultQuarantineHours || v.Edge.SignatureToleranceSeconds != DefaultSignatureToleranceSeconds {
		t.Errorf("edge defaults = %+v", v.Edge)
	}
	for _, bad := range []string{"", `{"regions":[]}`, `{"regions":[{"name":"eu"}],"x":1}`,
		`{"regions":[{"name":"eu","apiUrl":"ftp://x"}]}`, `{"edge":{"quarantineHours":-1},"regions":[{"name":"eu"}]}`} {
		if _, err := EdgeFromEnv(bad); err == nil {
			t.Errorf("EdgeFromEnv(%q) succeeded", bad)
		}
	}
}

func TestWebhookSecretName(t *testing.T) {
	if got := WebhookSecretName(EdgeScope, "shopify", "eu-shop.myshopify.com"); got != "lethe/edge/webhooks/shopify/eu-shop.myshopify.com" {
		t.Errorf("WebhookSecretName = %q", got)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("Load of a missing file succeeded")
	}
	p := filepath.Join(dir, "cdk.json")
	os.WriteFile(p, []byte(`{"context": {}}`), 0o600)
	var ce *Error
	if _, err := Load(p); !errors.As(err, &ce) || ce.Key != "context.lethe" {
		t.Errorf("Load without context.lethe = %v", err)
	}
}

func TestTokenOf(t *testing.T) {
	r := Region{Name: "eu"}
	if got := r.TokenOf(Subsystem{Name: "projects"}); got != (TokenSource{Kind: TokenSecretsManager, Name: "lethe/eu/projects/token"}) {
		t.Errorf("default token = %+v", got)
	}
	ssm := TokenSource{Kind: TokenSSM, Name: "/lethe/orders"}
	if got := r.TokenOf(Subsystem{Name: "orders", Token: ssm}); got != ssm {
		t.Errorf("ssm token = %+v", got)
	}
	named := TokenSource{Kind: TokenSecretsManager, Name: "shared/orders"}
	if got := r.TokenOf(Subsystem{Name: "orders", Token: named}); got != named {
		t.Errorf("named secret = %+v", got)
	}
}

func TestLocalSettings(t *testing.T) {
	base := `{"regions":[{"name":"eu","awsRegion":"eu-west-1","subsystems":[{"name":"orders","mode":"async","baseUrl":"https://o.example.com","adminEmails":["a@example.com"]}]},
	{"name":"us","awsRegion":"us-west-2","subsystems":[{"name":"orders","mode":"async","baseUrl":"https://o.example.com","adminEmails":["a@example.com"]}]}]`
	c, err := Parse([]byte(base + `,"local":{"subsystems":{"eu/orders":{"errorRate":0.25,"neverFinish":true}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if d := c.Demo("eu", "orders"); d.ErrorRate != 0.25 || !d.NeverFinish || d.FinishAfterSeconds != DefaultDemoFinishAfterSeconds {
		t.Errorf("eu/orders = %+v", d)
	}
	if d := c.Demo("us", "orders"); d.ErrorRate != 0 || d.NeverFinish {
		t.Errorf("us/orders = %+v, want defaults", d)
	}
	if u, _ := c.LocalURL("us"); u != "http://127.0.0.1:8082" {
		t.Errorf("LocalURL(us) = %s", u)
	}
	if _, err := c.LocalURL("ap"); err == nil {
		t.Error("LocalURL of an unknown region succeeded")
	}
	one, _ := c.ForRegion("eu")
	if len(one.Local.Subsystems) != 0 {
		t.Errorf("ForRegion carries the local settings: %+v", one.Local)
	}
	for _, tc := range []struct{ local, key string }{
		{`{"subsystems":{"eu/billing":{}}}`, "local.subsystems.eu/billing"},
		{`{"subsystems":{"ap/orders":{}}}`, "local.subsystems.ap/orders"},
		{`{"subsystems":{"orders":{}}}`, "local.subsystems.orders"},
		{`{"subsystems":{"eu/orders":{"errorRate":2}}}`, "local.subsystems.eu/orders.errorRate"},
		{`{"subsystems":{"eu/orders":{"latencyMillis":-1}}}`, "local.subsystems.eu/orders"},
		{`{"subsystems":{"eu/orders":{"subjects":[" "]}}}`, "local.subsystems.eu/orders.subjects[0]"},
	} {
		_, err := Parse([]byte(base + `,"local":` + tc.local + `}`))
		var ce *Error
		if !errors.As(err, &ce) || ce.Key != tc.key {
			t.Errorf("local %s: error %v, want key %s", tc.local, err, tc.key)
		}
	}
}

// TestParseRefusesLoneSurrogates: a string that encoding/json would
// silently rewrite (U+FFFD for "\ud800" alone) is refused, naming its key.
func TestParseRefusesLoneSurrogates(t *testing.T) {
	_, err := Parse([]byte(`{"regions":[{"name":"eu","awsRegion":"eu-west-1","subsystems":[
		{"name":"projects","mode":"sync","baseUrl":"https://p.example.com/\ud800"}]}]}`))
	var ce *Error
	if !errors.As(err, &ce) || ce.Key != "regions[0].subsystems[0].baseUrl" {
		t.Fatalf("Parse = %v, want an error naming regions[0].subsystems[0].baseUrl", err)
	}
}

// TestParseRefusesAnotherRegionsEndpoint: a subsystem of eu whose base URL
// names us's AWS region is refused, naming the key; its own region's is
// fine.
func TestParseRefusesAnotherRegionsEndpoint(t *testing.T) {
	doc := func(base string) []byte {
		return []byte(`{"regions":[
			{"name":"eu","awsRegion":"eu-west-1","subsystems":[{"name":"files","mode":"sync","baseUrl":"` + base + `"}]},
			{"name":"us","awsRegion":"us-west-2","subsystems":[{"name":"files","mode":"sync","baseUrl":"https://files.example.com"}]}]}`)
	}
	for _, base := range []string{"https://files.s3.us-west-2.amazonaws.com", "https://s3-us-west-2.amazonaws.com/files", "https://abc.execute-api.US-WEST-2.amazonaws.com/prod"} {
		_, err := Parse(doc(base))
		var ce *Error
		if !errors.As(err, &ce) || ce.Key != "regions[0].subsystems[0].baseUrl" || !strings.Contains(ce.Message, "us-west-2") {
			t.Errorf("%s: Parse = %v, want an error naming regions[0].subsystems[0].baseUrl and us-west-2", base, err)
		}
	}
	for _, base := range []string{"https://files.s3.eu-west-1.amazonaws.com", "https://us-west-2-files.example.com"} {
		if _, err := Parse(doc(base)); err != nil {
			t.Errorf("%s: %v", base, err)
		}
	}
}
