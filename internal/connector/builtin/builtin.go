// Package builtin builds the built-in connectors a region's configuration
// declares, with aws-sdk-go-v2 clients of the region (the connector
// function's role on AWS; endpoint overrides and static credentials under
// lethe local), and keeps them for the life of the process. Stripe's
// connector is built per call with the API key the key source answers now,
// so that a rotated key is used once the cache lets go of the old one.
package builtin

import (
	"context"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/connector"
	cogconn "github.com/lethe-erasure/lethe/internal/connector/cognito"
	ddbconn "github.com/lethe-erasure/lethe/internal/connector/dynamodb"
	s3conn "github.com/lethe-erasure/lethe/internal/connector/s3"
	stripeconn "github.com/lethe-erasure/lethe/internal/connector/stripe"
	"github.com/lethe-erasure/lethe/internal/subsystem"
)

// Keys reads a secret by its token source (*secrets.Cache).
type Keys interface {
	Token(ctx context.Context, src config.TokenSource) (string, error)
}

// Erasers is a region's built-in connectors (subsystem.EraserSource).
type Erasers struct {
	aws  aws.Config
	keys Keys
	mu   sync.Mutex
	made map[string]connector.Eraser
}

var _ subsystem.EraserSource = (*Erasers)(nil)

// New returns the connectors of the region whose AWS configuration is cfg.
func New(cfg aws.Config, keys Keys) *Erasers {
	return &Erasers{aws: cfg, keys: keys, made: map[string]connector.Eraser{}}
}

// Eraser returns the connector of subsystem s.
func (e *Erasers) Eraser(ctx context.Context, s config.Subsystem) (connector.Eraser, error) {
	c := s.Connector
	if c.Kind() == config.ConnectorStripe {
		src := config.TokenSource{Kind: config.TokenSecretsManager, Name: c.Stripe.APIKeySecret}
		key, err := e.keys.Token(ctx, src)
		if err != nil {
			return nil, &subsystem.TokenUnavailable{Subsystem: s.Name, Source: src.Kind + " " + src.Name, Err: err}
		}
		return stripeconn.New(*c.Stripe, key), nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if made, ok := e.made[s.Name]; ok {
		return made, nil
	}
	var made connector.Eraser
	switch c.Kind() {
	case config.ConnectorDynamoDB:
		made = ddbconn.New(*c.DynamoDB, dynamodb.NewFromConfig(e.aws, func(o *dynamodb.Options) {
			if c.DynamoDB.Endpoint != "" {
				o.BaseEndpoint = aws.String(c.DynamoDB.Endpoint)
			}
		}))
	case config.ConnectorCognito:
		made = cogconn.New(*c.Cognito, cognitoidentityprovider.NewFromConfig(e.aws, func(o *cognitoidentityprovider.Options) {
			if c.Cognito.Endpoint != "" {
				o.BaseEndpoint = aws.String(c.Cognito.Endpoint)
			}
		}))
	case config.ConnectorS3:
		made = s3conn.New(*c.S3, s3.NewFromConfig(e.aws, func(o *s3.Options) {
			if c.S3.Endpoint != "" {
				o.BaseEndpoint, o.UsePathStyle = aws.String(c.S3.Endpoint), true
			}
		}))
	default:
		return nil, fmt.Errorf("subsystem %s declares no built-in connector", s.Name)
	}
	e.made[s.Name] = made
	return made, nil
}
