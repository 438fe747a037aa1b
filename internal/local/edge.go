package local

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/lethe-erasure/lethe/internal/asl"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/edge"
	"github.com/lethe-erasure/lethe/internal/receiver"
	"github.com/lethe-erasure/lethe/internal/registry"
	"github.com/lethe-erasure/lethe/internal/store/edgeembedded"
	"github.com/lethe-erasure/lethe/internal/webhook"
)

// The edge under `lethe local`: the very handlers functions/webhook-fanout
// and functions/edge-api run (internal/edge, built as internal/edge/edgeenv
// builds them), over the edge's tables in one embedded file
// (internal/store/edgeembedded), behind an HTTPAPI with the routes of the
// edge stack's HTTP API, on the status port. What differs from AWS, and why:
//
//   - The regions are reached at their local URLs, which play the part of
//     regions[].apiUrl in the edge's view of the configuration: the
//     forwarder and the operator calls go to them over loopback HTTP.
//   - The operator routes are IAM-authorised on AWS; locally no route is
//     (127.0.0.1 only, as the regional APIs). The edge's calls to the
//     regions' IAM-only routes (POST /erasures, GET /erasures/{id}, the
//     receiver's release route) go through the same client, built without
//     credentials, so unsigned: no gateway here checks SigV4.
//   - Alerts go to the outbox, topic lethe-edge-ops (the edge stack's ops
//     topic name).
//   - Webhook secrets come from WebhookSecrets, one per provider, which
//     both the edge and every region's receiver read.
//   - The edge runs on the wall clock, not Lethe's accelerated one: it
//     checks providers' signed timestamps (Zendesk, generic), which are
//     real time, and its store must expire receipts and quarantined
//     deliveries on the clock that stamped them. Nothing at the edge
//     waits, so there is nothing to accelerate.

// EdgeRoutes are the routes of the edge's HTTP API (infra/edge_api.go
// EdgeRoutes), with the function behind each. TestEdgeRoutesMatchInfra
// reads infra's source to keep them in step.
var EdgeRoutes = []HTTPRoute{
	{http.MethodPost, "/webhooks/{provider}", registry.FnWebhookFanout, true},
	{AnyMethod, "/t/{tenant}", registry.FnWebhookFanout, true},
	{AnyMethod, "/t/{tenant}/{proxy+}", registry.FnWebhookFanout, true},
	{http.MethodGet, "/tenants", registry.FnEdgeAPI, false},
	{http.MethodPut, "/tenants/{tenant}", registry.FnEdgeAPI, false},
	{http.MethodGet, "/tenants/{tenant}", registry.FnEdgeAPI, false},
	{http.MethodGet, "/quarantine", registry.FnEdgeAPI, false},
	{http.MethodPost, "/quarantine/{id}/release", registry.FnEdgeAPI, false},
	{http.MethodGet, "/erasures", registry.FnEdgeAPI, false},
	{http.MethodPost, "/erasures", registry.FnEdgeAPI, false},
	{http.MethodGet, "/erasures/{globalId}", registry.FnEdgeAPI, false},
	{http.MethodGet, "/receipts", registry.FnEdgeAPI, false},
}

// EdgeDefaultFunction answers edge requests no route matches (infra's
// EdgeAPIProps.Default): in Lethe's error shape, not API Gateway's.
const EdgeDefaultFunction = registry.FnWebhookFanout

// muxPattern is the net/http pattern of an edge route, so that the status
// port's ServeMux refuses (panics on) a status or demo pattern that would
// shadow it, and the reverse.
func muxPattern(r HTTPRoute) string {
	p := strings.ReplaceAll(r.Path, "+}", "...}")
	if r.Method == AnyMethod {
		return p
	}
	return r.Method + " " + p
}

// edgeFile is the edge's tables in the data directory.
const edgeFile = "edge.db"

// EdgeReceivedIn is what the local edge's residency receipts name as the
// AWS region that received a delivery.
const EdgeReceivedIn = "local"

// Webhook secrets of the demo tenants.
const (
	// EnvShopifySecret and EnvZendeskSecret set the providers' signing
	// secrets; unset, DevWebhookSecrets are used.
	EnvShopifySecret = "LETHE_LOCAL_SHOPIFY_SECRET"
	EnvZendeskSecret = "LETHE_LOCAL_ZENDESK_SECRET"
)

// WebhookSecretEnv maps each provider with a local secret to its
// environment variable.
var WebhookSecretEnv = map[string]string{webhook.Shopify: EnvShopifySecret, webhook.Zendesk: EnvZendeskSecret}

// DevWebhookSecrets are the development defaults `lethe local` prints on
// start: public, so for a laptop only.
var DevWebhookSecrets = map[string]string{
	webhook.Shopify: "lethe-local-dev-shopify-secret",
	webhook.Zendesk: "lethe-local-dev-zendesk-secret",
}

// WebhookSecretsFromEnv reads the providers' secrets from the environment
// (lookup is os.LookupEnv); a provider whose variable is unset or blank
// gets its DevWebhookSecrets value and is named in dev.
func WebhookSecretsFromEnv(lookup func(string) (string, bool)) (secrets map[string]string, dev []string) {
	secrets = map[string]string{}
	for _, p := range webhook.Names() {
		env, ok := WebhookSecretEnv[p]
		if !ok {
			continue
		}
		if v, ok := lookup(env); ok && strings.TrimSpace(v) != "" {
			secrets[p] = v
			continue
		}
		secrets[p] = DevWebhookSecrets[p]
		dev = append(dev, p)
	}
	return secrets, dev
}

// WebhookSecrets is the one local source of webhook signing secrets, read
// by the edge (edge.Secrets, the edge's copy) and by every region's
// receiver (receiver.Secrets, under config.WebhookSecretName(region,
// provider, tenant)): on AWS these are separate secrets that an operator
// keeps equal; here they are the same value by construction. A provider's
// secret serves every tenant of that provider, as a Shopify app's secret
// signs the webhooks of every shop that installed the app, so a tenant
// registered later (lethe tenants register) works with no more setup. A
// provider without a secret has none for any tenant.
type WebhookSecrets map[string]string

var (
	_ edge.Secrets     = WebhookSecrets(nil)
	_ receiver.Secrets = WebhookSecrets(nil)
)

// WebhookSecret implements edge.Secrets.
func (s WebhookSecrets) WebhookSecret(_ context.Context, provider, tenant string) ([]byte, error) {
	if v := s[provider]; v != "" {
		return []byte(v), nil
	}
	return nil, fmt.Errorf("%s: %w", config.WebhookSecretName(config.EdgeScope, provider, tenant), edge.ErrNoSecret)
}

// ErrNoWebhookSecret fails a receiver's read of a secret the local source
// does not hold (the receiver answers 503, as for a secret missing in
// Secrets Manager).
var ErrNoWebhookSecret = errors.New("no such webhook secret under lethe local")

// Token implements receiver.Secrets: a Secrets Manager source named as
// config.WebhookSecretName names it, lethe/<scope>/webhooks/<provider>/<tenant>.
// The error names the environment variable to set, never a value.
func (s WebhookSecrets) Token(_ context.Context, src config.TokenSource) (string, error) {
	parts := strings.Split(src.Name, "/")
	if src.Kind != config.TokenSecretsManager || len(parts) != 5 || parts[0] != "lethe" || parts[2] != "webhooks" {
		return "", fmt.Errorf("secret %s: %w", src.Name, ErrNoWebhookSecret)
	}
	if v := s[parts[3]]; v != "" {
		return v, nil
	}
	hint := ""
	if env, ok := WebhookSecretEnv[parts[3]]; ok {
		hint = " (set " + env + ")"
	}
	return "", fmt.Errorf("secret %s%s: %w", src.Name, hint, ErrNoWebhookSecret)
}

// DemoTenant is a tenant `lethe local` registers at start, in its home
// region and in the edge directory, when that region is configured.
type DemoTenant struct {
	Provider string
	Key      string
	Region   string
	// Subject is the subject id a webhook of this tenant names for the
	// demo's customer (webhook.Provider.Erasure's scoped id), which the
	// home region's demo subsystems hold.
	Subject string
	// Customer is that customer's id in the provider's payloads.
	Customer string
}

// DemoTenants are the default configuration's demo tenants (issue 5).
var DemoTenants = []DemoTenant{
	{webhook.Shopify, "eu-shop.myshopify.com", "eu", "shopify:eu-shop.myshopify.com:customer:1001", "1001"},
	{webhook.Shopify, "us-shop.myshopify.com", "us", "shopify:us-shop.myshopify.com:customer:2001", "2001"},
	{webhook.Zendesk, "eu-help", "eu", "zendesk:eu-help:user:3001", "3001"},
	{webhook.Zendesk, "us-help", "us", "zendesk:us-help:user:4001", "4001"},
}

// demoSubjectsOf are the demo tenants' customers a region's demo
// subsystems hold besides config.DemoSubjects.
func demoSubjectsOf(region string) []string {
	var out []string
	for _, t := range DemoTenants {
		if t.Region == region {
			out = append(out, t.Subject)
		}
	}
	return out
}

// Edge is the running local edge.
type Edge struct {
	// View is the edge's view of the configuration, the regions' local
	// URLs as their apiUrl.
	View       config.EdgeView
	DB         *edgeembedded.DB
	Fanout     *edge.Fanout
	API        *edge.API
	OpsTopic   string
	Registered []DemoTenant // the demo tenants registered at start

	http *HTTPAPI
}

// EdgeOpsTopic is the ARN the edge's alerts are published to in the
// outbox: the edge stack's ops topic (lethe-edge-ops) in the edge's AWS
// region (the first region's when the configuration names none).
func EdgeOpsTopic(cfg *config.Config) string {
	awsRegion := cfg.Edge.AWSRegion
	if awsRegion == "" && len(cfg.Regions) > 0 {
		awsRegion = cfg.Regions[0].AWSRegion
	}
	return TopicArn(config.Region{AWSRegion: awsRegion}, OpsTopicName(config.EdgeScope))
}

// openEdge builds the edge over <dataDir>/edge.db, as edgeenv builds the
// two functions, with the regions at their local URLs.
func (rt *Runtime) openEdge(dataDir string, secrets WebhookSecrets, noSync bool) (*Edge, error) {
	view := rt.cfg.ForEdge()
	for i := range view.Regions {
		if reg, ok := rt.Region(view.Regions[i].Name); ok {
			view.Regions[i].APIURL = reg.URL
		}
	}
	db, err := edgeembedded.Open(filepath.Join(dataDir, edgeFile), edgeembedded.Options{NoSync: noSync, Now: time.Now})
	if err != nil {
		return nil, fmt.Errorf("local: edge: %w", err)
	}
	e := &Edge{View: view, DB: db, OpsTopic: EdgeOpsTopic(rt.cfg)}
	opts := func(fn string) []edge.Option {
		return []edge.Option{edge.WithClock(time.Now), edge.WithReceiptClock(rt.clock.Now), edge.WithReceivedIn(EdgeReceivedIn), edge.WithMetrics(rt.metrics),
			edge.WithLogger(rt.log.With("function", FunctionName(config.EdgeScope, fn)))}
	}
	e.Fanout = edge.NewFanout(view, edge.FanoutDeps{
		Directory:  db.Directory(),
		Deliveries: db.Deliveries(),
		Quarantine: db.Quarantine(),
		Secrets:    secrets,
		Alerts:     edge.NewSNSAlerter(outboxSNS{rt.outbox}, e.OpsTopic),
		Forwarder:  edge.NewForwarder(edge.NewHTTPClient(), edge.DefaultRetry),
	}, opts(registry.FnWebhookFanout)...)
	regions := edge.NewRegionalClient(edge.NewHTTPClient(), nil, edge.DefaultRetry)
	e.API = edge.NewAPI(view, edge.APIDeps{
		Directory:  db.Directory(),
		Deliveries: db.Deliveries(),
		Quarantine: db.Quarantine(),
		Globals:    db.Globals(),
		Regions:    regions,
		Forwarder:  regions.Releaser(),
	}, opts(registry.FnEdgeAPI)...)
	e.http = NewHTTPAPIRoutes(EdgeRoutes, map[string]HTTPHandler{
		registry.FnWebhookFanout: e.Fanout.Handle,
		registry.FnEdgeAPI:       e.API.Handle,
	}, rt.log.With("api", "edge")).WithDefault(EdgeDefaultFunction)
	return e, nil
}

// route puts the edge's routes on the status port's mux, and the edge's
// HTTP API's 404 behind every path no other pattern takes.
func (e *Edge) route(mux *http.ServeMux) {
	for _, r := range EdgeRoutes {
		mux.Handle(muxPattern(r), e.http)
	}
	mux.Handle("/", e.http)
}

// registerDemoTenants registers each demo tenant whose home region is
// configured, as `lethe tenants register` does: the region first (it then
// owns the tenant and accepts its webhooks), then the edge directory.
// Both writes are idempotent. A tenant the directory routes to another
// region (an operator moved it) is left where it is.
func (rt *Runtime) registerDemoTenants(ctx context.Context, e *Edge) error {
	for _, t := range DemoTenants {
		reg, ok := rt.Region(t.Region)
		if !ok {
			continue
		}
		if _, _, err := reg.Requests.RegisterTenant(ctx, t.Key); err != nil {
			return fmt.Errorf("local: register demo tenant %s in %s: %w", t.Key, t.Region, err)
		}
		_, _, _, err := e.DB.Directory().PutTenant(ctx, t.Key, t.Region, false, time.Now())
		var moved *edge.TenantConflict
		switch {
		case errors.As(err, &moved):
			rt.log.Warn("demo tenant left where the edge routes it", "tenant", t.Key, "region", moved.Current)
			continue
		case err != nil:
			return fmt.Errorf("local: register demo tenant %s at the edge: %w", t.Key, err)
		}
		e.Registered = append(e.Registered, t)
	}
	return nil
}

// outboxSNS is the SNS client the edge's SNSAlerter publishes with,
// appending to the outbox instead.
type outboxSNS struct{ outbox *Outbox }

func (o outboxSNS) Publish(ctx context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	id, err := o.outbox.Publish(ctx, asl.PublishInput{
		TopicArn: aws.ToString(in.TopicArn), Subject: aws.ToString(in.Subject), Message: aws.ToString(in.Message),
	})
	if err != nil {
		return nil, err
	}
	return &sns.PublishOutput{MessageId: aws.String(id)}, nil
}

// ExampleRequest is an HTTP request the banner prints as a curl command.
type ExampleRequest struct {
	Method string
	URL    string
	Header http.Header
	Body   []byte
	// Tenant is the demo tenant it is for.
	Tenant DemoTenant
}

// ExampleWebhook is a Shopify customers/redact of the first registered
// Shopify demo tenant's demo customer, signed with the runtime's Shopify
// secret (webhook.Provider.Sign), to POST to the edge. deliveryID is its
// X-Shopify-Webhook-Id: the edge forwards a delivery id once. ok is false
// when no Shopify demo tenant is registered.
func (rt *Runtime) ExampleWebhook(deliveryID string) (x ExampleRequest, ok bool) {
	secret := rt.secrets[webhook.Shopify]
	if rt.edge == nil || secret == "" {
		return ExampleRequest{}, false
	}
	for _, t := range rt.edge.Registered {
		if t.Provider != webhook.Shopify {
			continue
		}
		body := []byte(`{"shop_id":1,"shop_domain":"` + t.Key + `","customer":{"id":` + t.Customer + `},"orders_to_redact":[]}`)
		h := http.Header{}
		h.Set("Content-Type", "application/json")
		h.Set(webhook.HeaderShopifyShop, t.Key)
		h.Set(webhook.HeaderShopifyTopic, webhook.TopicShopifyCustomersRedact)
		h.Set(webhook.HeaderShopifyWebhookID, deliveryID)
		p, _ := webhook.Lookup(webhook.Shopify)
		p.Sign(h, body, []byte(secret), time.Now())
		return ExampleRequest{Method: http.MethodPost, URL: rt.edgeURL + "/webhooks/" + webhook.Shopify, Header: h, Body: body, Tenant: t}, true
	}
	return ExampleRequest{}, false
}

// Curl is the request as a curl command line for a POSIX shell.
func (x ExampleRequest) Curl() string {
	var b strings.Builder
	b.WriteString("curl -i -X " + x.Method + " " + x.URL)
	keys := make([]string, 0, len(x.Header))
	for k := range x.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range x.Header[k] {
			b.WriteString(" \\\n    -H " + shellQuote(k+": "+v))
		}
	}
	if len(x.Body) > 0 {
		b.WriteString(" \\\n    --data-binary " + shellQuote(string(x.Body)))
	}
	return b.String()
}

// shellQuote single-quotes s for a POSIX shell.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
