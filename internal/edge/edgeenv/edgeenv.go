// Package edgeenv builds, once per Lambda container, what an edge
// function's environment describes: the edge's view of the configuration
// (LETHE_EDGE_CONFIG), the AWS configuration, the edge tables and the
// handlers over them. The edge functions' mains call it and exit on its
// errors, so each main stays a few lines of wiring. (internal/lambdaenv is
// its regional counterpart; the edge has no region of its own, so it reads
// neither LETHE_CONFIG nor LETHE_REGION.)
package edgeenv

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/edge"
	"github.com/lethe-erasure/lethe/internal/lambdaenv"
	"github.com/lethe-erasure/lethe/internal/secrets"
	"github.com/lethe-erasure/lethe/internal/store/edgedynamo"
	"github.com/lethe-erasure/lethe/internal/webhook"
)

// Env is an edge function's view of its deployment.
type Env struct {
	View config.EdgeView
	AWS  aws.Config
	// Log writes JSON lines to stdout, which Lambda sends to CloudWatch.
	Log *slog.Logger
}

// Load reads LETHE_EDGE_CONFIG and the container's AWS configuration.
func Load(ctx context.Context) (*Env, error) {
	view, err := config.EdgeFromEnv(os.Getenv(config.EnvEdgeConfig))
	if err != nil {
		return nil, err
	}
	if err := webhook.CheckMulticast(view.Edge.MulticastTopics); err != nil {
		return nil, err
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	return &Env{View: view, AWS: awsCfg, Log: lambdaenv.NewLog(os.Stdout, config.EdgeScope)}, nil
}

// required returns the named environment variables' values, or an error
// naming the first that is not set.
func required(names ...string) ([]string, error) {
	vals := make([]string, len(names))
	for i, n := range names {
		if vals[i] = os.Getenv(n); vals[i] == "" {
			return nil, fmt.Errorf("%s is not set", n)
		}
	}
	return vals, nil
}

// receivedIn is the AWS region receipts name: the function's own.
func (e *Env) receivedIn() string {
	if r := os.Getenv("AWS_REGION"); r != "" {
		return r
	}
	return e.View.Edge.AWSRegion
}

// Fanout is the webhook-fanout function's handler: the tenants, deliveries
// and quarantine tables, webhook secrets from Secrets Manager (cached),
// alerts to the ops topic.
func (e *Env) Fanout() (*edge.Fanout, error) {
	v, err := required(config.EnvTenantsTable, config.EnvDeliveriesTable, config.EnvQuarantineTable, config.EnvOpsTopicArn)
	if err != nil {
		return nil, err
	}
	store := edgedynamo.New(dynamodb.NewFromConfig(e.AWS), edgedynamo.Tables{Tenants: v[0], Deliveries: v[1], Quarantine: v[2]})
	cache := secrets.NewCache(secrets.NewSecretsManager(secretsmanager.NewFromConfig(e.AWS)), nil, secrets.DefaultTTL, time.Now)
	return edge.NewFanout(e.View, edge.FanoutDeps{
		Directory:  store,
		Deliveries: store,
		Quarantine: store,
		Secrets:    edge.NewCachedSecrets(cache, config.EdgeScope),
		Alerts:     edge.NewSNSAlerter(sns.NewFromConfig(e.AWS), v[3]),
		Forwarder:  edge.NewForwarder(edge.NewHTTPClient(), edge.DefaultRetry),
	}, edge.WithLogger(e.Log), edge.WithReceivedIn(e.receivedIn())), nil
}

// API is the edge-api function's handler: all four tables, the regions'
// IAM-authorised APIs called with the function's own credentials.
func (e *Env) API() (*edge.API, error) {
	v, err := required(config.EnvTenantsTable, config.EnvDeliveriesTable, config.EnvQuarantineTable, config.EnvGlobalTable)
	if err != nil {
		return nil, err
	}
	store := edgedynamo.New(dynamodb.NewFromConfig(e.AWS), edgedynamo.Tables{Tenants: v[0], Deliveries: v[1], Quarantine: v[2], Global: v[3]})
	regions := edge.NewRegionalClient(edge.NewHTTPClient(), e.AWS.Credentials, edge.DefaultRetry)
	return edge.NewAPI(e.View, edge.APIDeps{
		Directory:  store,
		Deliveries: store,
		Quarantine: store,
		Globals:    store,
		Regions:    regions,
		Forwarder:  regions.Releaser(),
	}, edge.WithLogger(e.Log)), nil
}
