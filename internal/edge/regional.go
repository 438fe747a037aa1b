package edge

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/pause"
)

// Filing is one regional erasure the edge asks a region for.
type Filing struct {
	SubjectID string
	// TenantID is the tenant the region owns, when it owns exactly one of
	// the global erasure's tenants ("" otherwise).
	TenantID string
	// IdempotencyKey is "<globalId>:<region>": a retried filing returns
	// the same regional request.
	IdempotencyKey string
}

// Regions is what the edge API needs of the regional APIs.
type Regions interface {
	// File asks the region for an erasure and returns its request id.
	// A key the region saw for another subject is
	// erasure.ErrIdempotencyKeyReused.
	File(ctx context.Context, r config.RegionEndpoint, f Filing) (requestID string, err error)
	// Status returns the regional request's status (pending, running,
	// completed, failed); ErrNotFound when the region does not know it.
	Status(ctx context.Context, r config.RegionEndpoint, requestID string) (string, error)
}

var _ Regions = (*RegionalClient)(nil)

// signer is the SigV4 signer's one method.
type signer interface {
	SignHTTP(ctx context.Context, credentials aws.Credentials, r *http.Request, payloadHash string, service string, region string, signingTime time.Time, optFns ...func(*v4.SignerOptions)) error
}

// RegionalClient calls the regional APIs' IAM-authorised routes, signing
// each request with the function's credentials (SigV4, service
// execute-api, the region's AWS region). Built with nil credentials it
// signs nothing, in every call: a local API on 127.0.0.1 checks no
// signature.
type RegionalClient struct {
	client Doer
	creds  aws.CredentialsProvider
	signer signer
	policy RetryPolicy
	sleep  func(context.Context, time.Duration) error
	now    func() time.Time
}

// NewRegionalClient builds the client. creds is the Lambda's credentials
// provider (aws.Config.Credentials, already cached by the SDK), or nil for
// unsigned requests.
func NewRegionalClient(client Doer, creds aws.CredentialsProvider, policy RetryPolicy) *RegionalClient {
	return &RegionalClient{client: client, creds: creds, signer: v4.NewSigner(), policy: policy, sleep: pause.For, now: time.Now}
}

// ExecuteAPIService is the SigV4 service name of API Gateway invocations.
const ExecuteAPIService = "execute-api"

// sign is the signer of requests to an API in awsRegion; nil (send
// unsigned) when the client has no credentials.
func (c *RegionalClient) sign(awsRegion string) func(ctx context.Context, req *http.Request, body []byte) error {
	if c.creds == nil {
		return nil
	}
	return func(ctx context.Context, req *http.Request, body []byte) error {
		creds, err := c.creds.Retrieve(ctx)
		if err != nil {
			return fmt.Errorf("credentials: %w", err)
		}
		sum := sha256.Sum256(body)
		return c.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), ExecuteAPIService, awsRegion, c.now())
	}
}

// Releaser is the forwarder of quarantine releases: the receiver's
// IAM-authorised release route, signed like every call of this client.
func (c *RegionalClient) Releaser() *Forwarder {
	return &Forwarder{client: c.client, policy: c.policy, sleep: c.sleep, release: true, sign: c.sign}
}

// File implements Regions: POST <apiUrl>/erasures {"subjectId", "tenantId"?}
// with the Idempotency-Key header. The subject id is in the body and
// nowhere else; no error this returns quotes the body.
func (c *RegionalClient) File(ctx context.Context, r config.RegionEndpoint, f Filing) (string, error) {
	if r.APIURL == "" {
		return "", &RegionNotDeployed{Region: r.Name}
	}
	in := struct {
		SubjectID string `json:"subjectId"`
		TenantID  string `json:"tenantId,omitempty"`
	}{f.SubjectID, f.TenantID}
	body, err := json.Marshal(in)
	if err != nil {
		return "", errors.New("encode the regional erasure")
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Idempotency-Key", f.IdempotencyKey)
	a, err := callRegion(ctx, c.client, c.policy, c.sleep, r.Name, outgoing{
		method: http.MethodPost, url: regionURL(r.APIURL, "/erasures"), header: h, body: body, sign: c.sign(r.AWSRegion),
	})
	if err != nil {
		return "", err
	}
	switch {
	case a.status == http.StatusOK || a.status == http.StatusAccepted || a.status == http.StatusCreated:
	case a.status == http.StatusUnprocessableEntity && errorCodeOf(a.body) == "idempotency_key_reused":
		return "", erasure.ErrIdempotencyKeyReused
	default:
		return "", &RegionRejected{Region: r.Name, Status: a.status, Code: errorCodeOf(a.body)}
	}
	var out struct {
		RequestID string `json:"requestId"`
	}
	if json.Unmarshal(a.body, &out) != nil {
		return "", &RegionRejected{Region: r.Name, Status: a.status, Code: "answer_not_json"}
	}
	if reg, err := erasure.ParseID(out.RequestID); err != nil || reg != r.Name {
		return "", &RegionRejected{Region: r.Name, Status: a.status, Code: "answer_without_request_id"}
	}
	return out.RequestID, nil
}

// Status implements Regions: GET <apiUrl>/erasures/{requestId}.
func (c *RegionalClient) Status(ctx context.Context, r config.RegionEndpoint, requestID string) (string, error) {
	if r.APIURL == "" {
		return "", &RegionNotDeployed{Region: r.Name}
	}
	a, err := callRegion(ctx, c.client, c.policy, c.sleep, r.Name, outgoing{
		method: http.MethodGet, url: regionURL(r.APIURL, "/erasures/"+url.PathEscape(requestID)), header: http.Header{}, sign: c.sign(r.AWSRegion),
	})
	if err != nil {
		return "", err
	}
	switch a.status {
	case http.StatusOK:
	case http.StatusNotFound:
		return "", fmt.Errorf("region %s: %w", r.Name, ErrNotFound)
	default:
		return "", &RegionRejected{Region: r.Name, Status: a.status, Code: errorCodeOf(a.body)}
	}
	var out struct {
		Status string `json:"status"`
	}
	if json.Unmarshal(a.body, &out) != nil {
		return "", &RegionRejected{Region: r.Name, Status: a.status, Code: "answer_not_json"}
	}
	switch s := erasure.Status(out.Status); s {
	case erasure.StatusPending, erasure.StatusRunning, erasure.StatusCompleted, erasure.StatusFailed:
		return out.Status, nil
	}
	return "", &RegionRejected{Region: r.Name, Status: a.status, Code: "answer_unknown_status"}
}
