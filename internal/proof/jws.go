package proof

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// Type is the certificate's "typ" header.
const Type = "lethe-erasure-certificate+jws"

// Signer is a P-256 signing key: KMS's (NewKMS) or a local file's
// (LoadOrCreateLocal).
type Signer interface {
	// Public is the key's public half.
	Public(ctx context.Context) (*ecdsa.PublicKey, error)
	// SignDigest signs a SHA-256 digest and returns the signature as JWS
	// wants it for ES256: R and S, 32 bytes each, big-endian.
	SignDigest(ctx context.Context, digest []byte) ([]byte, error)
}

// JWK is the public JWK of a key, its kid the RFC 7638 thumbprint.
func JWK(pub *ecdsa.PublicKey) (jose.JSONWebKey, error) {
	if pub == nil || pub.Curve != elliptic.P256() {
		return jose.JSONWebKey{}, errors.New("the signing key is not a P-256 key")
	}
	k := jose.JSONWebKey{Key: pub, Algorithm: string(jose.ES256), Use: "sig"}
	tp, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		return jose.JSONWebKey{}, err
	}
	k.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	return k, nil
}

// KeySet is the JWK set of the signers' public keys: what GET /keys
// answers and `lethe certificate verify --jwks` reads.
func KeySet(ctx context.Context, signers ...Signer) (jose.JSONWebKeySet, error) {
	var set jose.JSONWebKeySet
	for _, s := range signers {
		pub, err := s.Public(ctx)
		if err != nil {
			return jose.JSONWebKeySet{}, err
		}
		k, err := JWK(pub)
		if err != nil {
			return jose.JSONWebKeySet{}, err
		}
		set.Keys = append(set.Keys, k)
	}
	return set, nil
}

// opaque adapts a Signer to go-jose for one signing, within ctx.
type opaque struct {
	ctx context.Context
	s   Signer
	jwk jose.JSONWebKey
}

func (o opaque) Public() *jose.JSONWebKey        { return &o.jwk }
func (o opaque) Algs() []jose.SignatureAlgorithm { return []jose.SignatureAlgorithm{jose.ES256} }
func (o opaque) SignPayload(payload []byte, alg jose.SignatureAlgorithm) ([]byte, error) {
	if alg != jose.ES256 {
		return nil, fmt.Errorf("algorithm %s: only ES256", alg)
	}
	sum := sha256.Sum256(payload)
	return o.s.SignDigest(o.ctx, sum[:])
}

// Issue signs the claims as a compact JWS (ES256, kid, typ) and returns it
// with the kid of the key that signed it.
func Issue(ctx context.Context, s Signer, c Claims) (jws, keyID string, err error) {
	pub, err := s.Public(ctx)
	if err != nil {
		return "", "", err
	}
	jwk, err := JWK(pub)
	if err != nil {
		return "", "", err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: opaque{ctx: ctx, s: s, jwk: jwk}},
		(&jose.SignerOptions{}).WithType(Type))
	if err != nil {
		return "", "", err
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", "", err
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		return "", "", err
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		return "", "", err
	}
	return out, jwk.KeyID, nil
}

// ErrMalformed means the text is not a certificate at all (not a compact
// ES256 JWS, or claims that do not parse); ErrSignature means it is one,
// but no key of the set verifies it (altered, or signed by another key).
var (
	ErrMalformed = errors.New("not a certificate of erasure")
	ErrSignature = errors.New("the signature does not verify")
)

// Verify checks a compact JWS against the key set and returns its claims.
// Any changed byte fails; so do another algorithm than ES256, a kid the set
// does not hold, and claims with unknown fields.
func Verify(jws string, set jose.JSONWebKeySet) (Claims, string, error) {
	jws = strings.TrimSpace(jws)
	// Each part must be canonical base64url: a lenient decoder ignores the
	// spare bits of a part's last character, so two texts would carry one
	// signature.
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		return Claims{}, "", fmt.Errorf("%w: a compact JWS has three parts, this has %d", ErrMalformed, len(parts))
	}
	for _, p := range parts {
		if _, err := base64.RawURLEncoding.Strict().DecodeString(p); err != nil {
			return Claims{}, "", fmt.Errorf("%w: a part is not canonical base64url", ErrMalformed)
		}
	}
	obj, err := jose.ParseSigned(jws, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return Claims{}, "", fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(obj.Signatures) != 1 {
		return Claims{}, "", fmt.Errorf("%w: %d signatures", ErrMalformed, len(obj.Signatures))
	}
	kid := obj.Signatures[0].Header.KeyID
	keys := set.Key(kid)
	if kid == "" || len(keys) == 0 {
		return Claims{}, kid, fmt.Errorf("%w: no key %q in the key set", ErrSignature, kid)
	}
	payload, err := obj.Verify(keys[0].Key)
	if err != nil {
		return Claims{}, kid, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	var c Claims
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Claims{}, kid, fmt.Errorf("%w: claims: %v", ErrMalformed, err)
	}
	if c.Version != Version {
		return Claims{}, kid, fmt.Errorf("%w: claims version %d, this build reads %d", ErrMalformed, c.Version, Version)
	}
	return c, kid, nil
}
