package config

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/lethe-erasure/lethe/internal/connector"
	cogconn "github.com/lethe-erasure/lethe/internal/connector/cognito"
	ddbconn "github.com/lethe-erasure/lethe/internal/connector/dynamodb"
	s3conn "github.com/lethe-erasure/lethe/internal/connector/s3"
	stripeconn "github.com/lethe-erasure/lethe/internal/connector/stripe"
)

// Connector kinds: the store a built-in connector erases in.
const (
	ConnectorDynamoDB = "dynamodb"
	ConnectorS3       = "s3"
	ConnectorCognito  = "cognito"
	ConnectorStripe   = "stripe"
)

// Connector declares a built-in connector instead of a base URL: exactly
// one of its fields is set, named after the store. Lethe's connector
// function erases there with its own role (internal/connector).
type Connector struct {
	DynamoDB *ddbconn.Config    `json:"dynamodb,omitempty"`
	S3       *s3conn.Config     `json:"s3,omitempty"`
	Cognito  *cogconn.Config    `json:"cognito,omitempty"`
	Stripe   *stripeconn.Config `json:"stripe,omitempty"`
}

// Kind is the store's name (Connector*), or "" when none is set.
func (c *Connector) Kind() string {
	switch {
	case c == nil:
		return ""
	case c.DynamoDB != nil:
		return ConnectorDynamoDB
	case c.S3 != nil:
		return ConnectorS3
	case c.Cognito != nil:
		return ConnectorCognito
	case c.Stripe != nil:
		return ConnectorStripe
	}
	return ""
}

// Endpoint is the connector's endpoint override ("" on AWS).
func (c *Connector) Endpoint() string {
	switch c.Kind() {
	case ConnectorDynamoDB:
		return c.DynamoDB.Endpoint
	case ConnectorS3:
		return c.S3.Endpoint
	case ConnectorCognito:
		return c.Cognito.Endpoint
	case ConnectorStripe:
		return c.Stripe.Endpoint
	}
	return ""
}

// ResourceRegion is the AWS region the connector's resource names (a table
// or secret ARN, a bucket's declared region), or "" when it names none:
// then it is the region's own.
func (c *Connector) ResourceRegion() string {
	switch c.Kind() {
	case ConnectorDynamoDB:
		return arnRegion(c.DynamoDB.Table)
	case ConnectorS3:
		return c.S3.Region
	case ConnectorCognito:
		return c.Cognito.Region()
	case ConnectorStripe:
		return arnRegion(c.Stripe.APIKeySecret)
	}
	return ""
}

// arnRegion is the region field of an ARN, "" for a plain name.
func arnRegion(s string) string {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" {
		return ""
	}
	return parts[3]
}

// resourceKey is the configuration key that names the resource's region.
func (c *Connector) resourceKey() string {
	switch c.Kind() {
	case ConnectorDynamoDB:
		return "dynamodb.table"
	case ConnectorS3:
		return "s3.region"
	case ConnectorCognito:
		return "cognito.userPoolId"
	case ConnectorStripe:
		return "stripe.apiKeySecret"
	}
	return ""
}

// validate checks the connector of a subsystem of the region in awsRegion:
// one store, its own keys, an endpoint override on the loopback interface
// only (a local server), and its resource in the region itself, so that
// the region's subjects are erased where their data is and nowhere else.
func (c *Connector) validate(key, awsRegion string) error {
	set := 0
	for _, on := range []bool{c.DynamoDB != nil, c.S3 != nil, c.Cognito != nil, c.Stripe != nil} {
		if on {
			set++
		}
	}
	if set != 1 {
		return &Error{key, "must name exactly one store: dynamodb, s3, cognito or stripe"}
	}
	var err error
	switch c.Kind() {
	case ConnectorDynamoDB:
		err = c.DynamoDB.Validate(key + ".dynamodb")
	case ConnectorS3:
		err = c.S3.Validate(key + ".s3")
	case ConnectorCognito:
		err = c.Cognito.Validate(key + ".cognito")
	case ConnectorStripe:
		err = c.Stripe.Validate(key + ".stripe")
	}
	var ce *connector.ConfigError
	if errors.As(err, &ce) {
		return &Error{ce.Key, ce.Message}
	} else if err != nil {
		return &Error{key, err.Error()}
	}
	if ep := c.Endpoint(); ep != "" {
		u, err := url.Parse(ep)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || (u.Hostname() != "127.0.0.1" && u.Hostname() != "localhost") {
			return &Error{key + "." + c.Kind() + ".endpoint", fmt.Sprintf("%q must be an http(s) URL on 127.0.0.1 or localhost: endpoint overrides are for local servers under lethe local", ep)}
		}
	}
	if r := c.ResourceRegion(); r != "" && r != awsRegion {
		return &Error{key + "." + c.resourceKey(), fmt.Sprintf("is in AWS region %s, not the region's %s: a connector erases only in its own region, so that its subjects' data never leaves it", r, awsRegion)}
	}
	return nil
}
