package api

import (
	"context"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/httpjson"
)

// Media types of the proof routes.
const (
	// MediaJOSE is a compact JWS: the certificate of erasure.
	MediaJOSE = "application/jose"
	// MediaJWKSet is the region's public keys.
	MediaJWKSet = "application/jwk-set+json"
)

// KeySet answers the region's certificate-signing public keys as a JWK
// set (JSON), for GET /keys.
type KeySet interface {
	JWKS(ctx context.Context) ([]byte, error)
}

// Certifier has a completed request's certificate issued, for the changes
// that complete a request outside its execution (an attestation). It
// returns once issuance is under way; issuing twice is harmless.
type Certifier interface {
	Certify(ctx context.Context, requestID string) error
}

// WithProof sets where the API reads the region's public keys and who
// issues the certificate of a request an attestation completes.
func WithProof(keys KeySet, certifier Certifier) Option {
	return func(h *Handler) { h.keys, h.certifier = keys, certifier }
}

// getCertificate is GET /erasures/{id}/certificate: the signed certificate
// of a completed request, as a compact JWS (`lethe certificate verify`
// checks it offline against GET /keys).
func (h *Handler) getCertificate(ctx context.Context, _ events.APIGatewayProxyRequest, id string) (reply, string, error) {
	if err := h.ownID(id); err != nil {
		return reply{}, "", err
	}
	r, err := h.store.Get(ctx, id)
	if err != nil {
		return reply{}, "", &storeError{op: "get", err: err}
	}
	switch {
	case r.Status != erasure.StatusCompleted:
		return reply{}, "", httpjson.Conflict(CodeNotCompleted, "requestId",
			"the request is "+string(r.Status)+": a certificate is issued once it completes")
	case r.Certificate == "":
		return reply{}, "", &httpjson.Error{Status: http.StatusConflict, Code: CodeCertificatePending, Field: "requestId",
			Message: "the request completed and its certificate is being issued; ask again shortly", RetryAfter: 5}
	}
	return reply{status: http.StatusOK, contentType: MediaJOSE, raw: r.Certificate, requestID: r.ID}, "", nil
}

// getKeys is GET /keys: the region's certificate-signing public keys.
func (h *Handler) getKeys(ctx context.Context, _ events.APIGatewayProxyRequest, _ string) (reply, string, error) {
	if h.keys == nil {
		return reply{}, "", httpjson.Unavailable(CodeNoKeys, "this region's API has no signing keys configured", retryAfterSeconds)
	}
	jwks, err := h.keys.JWKS(ctx)
	if err != nil {
		return reply{}, "", httpjson.Unavailable(CodeNoKeys, "the region's signing key cannot be read now; retry later", retryAfterSeconds)
	}
	return reply{status: http.StatusOK, contentType: MediaJWKSet, raw: string(jwks)}, "", nil
}
