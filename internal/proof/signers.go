package proof

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/lethe-erasure/lethe/internal/keyfile"
)

// Local is a P-256 key kept in a file: lethe local's signer.
type Local struct{ key *ecdsa.PrivateKey }

// LoadOrCreateLocal reads the PKCS#8 PEM key at path, creating it (mode
// 0600, written whole or not at all) when there is none.
func LoadOrCreateLocal(path string) (*Local, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, err
		}
		if err := keyfile.CreateOnce(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
			return nil, fmt.Errorf("signing key %s: %w", path, err)
		}
		raw, err = os.ReadFile(path)
		if err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	block, _ := pem.Decode(raw)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("signing key %s: not a PKCS#8 PEM private key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("signing key %s: not a P-256 key", path)
	}
	return &Local{key: key}, nil
}

// Public is the key's public half.
func (l *Local) Public(context.Context) (*ecdsa.PublicKey, error) { return &l.key.PublicKey, nil }

// SignDigest signs with the key, R||S.
func (l *Local) SignDigest(_ context.Context, digest []byte) ([]byte, error) {
	der, err := ecdsa.SignASN1(rand.Reader, l.key, digest)
	if err != nil {
		return nil, err
	}
	return RawSignature(der)
}

// KMSAPI is what the KMS signer calls.
type KMSAPI interface {
	Sign(ctx context.Context, in *kms.SignInput, optFns ...func(*kms.Options)) (*kms.SignOutput, error)
	GetPublicKey(ctx context.Context, in *kms.GetPublicKeyInput, optFns ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error)
}

var _ KMSAPI = (*kms.Client)(nil)

// KMS signs with a KMS key (ECC_NIST_P256, SIGN_VERIFY): the private half
// never leaves KMS. The public key is read once.
type KMS struct {
	api   KMSAPI
	keyID string

	mu  sync.Mutex
	pub *ecdsa.PublicKey
}

// NewKMS is the signer of the key (id, ARN or alias).
func NewKMS(api KMSAPI, keyID string) *KMS { return &KMS{api: api, keyID: keyID} }

// Public reads the key's public half (DER SubjectPublicKeyInfo) once.
func (k *KMS) Public(ctx context.Context) (*ecdsa.PublicKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.pub != nil {
		return k.pub, nil
	}
	out, err := k.api.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(k.keyID)})
	if err != nil {
		return nil, fmt.Errorf("read the signing key's public key: %w", err)
	}
	if out.KeySpec != types.KeySpecEccNistP256 || out.KeyUsage != types.KeyUsageTypeSignVerify {
		return nil, fmt.Errorf("the signing key is %s for %s; Lethe needs ECC_NIST_P256 for SIGN_VERIFY", out.KeySpec, out.KeyUsage)
	}
	pk, err := x509.ParsePKIXPublicKey(out.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("the signing key's public key: %w", err)
	}
	pub, ok := pk.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, errors.New("the signing key's public key is not a P-256 key")
	}
	k.pub = pub
	return pub, nil
}

// SignDigest has KMS sign the SHA-256 digest and turns KMS's DER
// signature into JWS's R||S.
func (k *KMS) SignDigest(ctx context.Context, digest []byte) ([]byte, error) {
	out, err := k.api.Sign(ctx, &kms.SignInput{
		KeyId: aws.String(k.keyID), Message: digest,
		MessageType: types.MessageTypeDigest, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256,
	})
	if err != nil {
		return nil, fmt.Errorf("sign the certificate: %w", err)
	}
	return RawSignature(out.Signature)
}

// RawSignature turns a DER ECDSA-Sig-Value (SEQUENCE { r INTEGER, s
// INTEGER }, what KMS and crypto/ecdsa produce) into the 64 bytes ES256
// wants: r and s, each left-padded to 32 bytes. Anything else is refused.
func RawSignature(der []byte) ([]byte, error) {
	var sig struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &sig)
	if err != nil {
		return nil, fmt.Errorf("signature is not DER: %w", err)
	}
	if len(rest) != 0 {
		return nil, errors.New("signature has trailing bytes")
	}
	out := make([]byte, 64)
	for i, v := range []*big.Int{sig.R, sig.S} {
		if v.Sign() <= 0 || v.BitLen() > 256 {
			return nil, errors.New("signature integer out of range for P-256")
		}
		v.FillBytes(out[i*32 : (i+1)*32])
	}
	return out, nil
}

// Transient reports whether a signing failure may pass: KMS throttled, its
// internal errors and timeouts, or no answer at all. Access denied, a
// disabled or missing key and the like need a person.
func Transient(err error) bool {
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "ThrottlingException", "KMSInternalException", "DependencyTimeoutException", "KeyUnavailableException", "LimitExceededException":
			return true
		}
		return false
	}
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, context.DeadlineExceeded)
}
