package proof_test

import (
	"context"
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/proof"
)

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

func completed(t testing.TB, subject string) (erasure.Request, erasure.Commitment) {
	t.Helper()
	c, err := erasure.NewCommitment(subject)
	if err != nil {
		t.Fatal(err)
	}
	fin := t0.Add(2 * time.Hour)
	return erasure.Request{
		ID: "er_eu_0195e9b2-3c4d-7a10-8b2c-1f2e3d4c5b31", Source: "api", Status: erasure.StatusCompleted,
		ReceivedAt: t0, Deadline: t0.AddDate(0, 2, 0), CompletedAt: &fin,
		Extensions: []erasure.Extension{{By: "dpo", At: t0, Months: 1, Reason: "archive restore", OldDeadline: t0.AddDate(0, 1, 0), NewDeadline: t0.AddDate(0, 2, 0)}},
		Subsystems: []erasure.SubsystemResult{
			{Name: "projects", Mode: "sync", Status: erasure.SubsystemDeleted, Attempts: 1, FinishedAt: &fin},
			{Name: "orders", Mode: "async", Status: erasure.SubsystemNotFound, Attempts: 3, FinishedAt: &fin,
				Attestation: &erasure.Attestation{By: "arn:aws:iam::1:user/dpo", At: fin, Outcome: erasure.SubsystemNotFound, Note: "held nothing"}},
		},
	}, c
}

func localSigner(t testing.TB) *proof.Local {
	t.Helper()
	s, err := proof.LoadOrCreateLocal(filepath.Join(t.TempDir(), "signing.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCertificateVerifiesAndNamesItsSubjectOnly: a certificate verifies
// against its region's key set and carries the request's facts; the
// subject check is true for the right id only; any changed byte, another
// region's keys and a malformed text all fail, each with its own error.
func TestCertificateVerifiesAndNamesItsSubjectOnly(t *testing.T) {
	ctx := context.Background()
	s := localSigner(t)
	r, c := completed(t, "alice@example.com")
	jws, kid, err := proof.Issue(ctx, s, proof.NewClaims(r, "eu", proof.Issuer("eu", "eu-west-1"), *r.CompletedAt, c))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(jws, "alice") {
		t.Fatal("the certificate holds the subject id")
	}
	set, err := proof.KeySet(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	claims, gotKid, err := proof.Verify(jws, set)
	if err != nil || gotKid != kid {
		t.Fatalf("verify: kid %q (issued %q), %v", gotKid, kid, err)
	}
	if claims.RequestID != r.ID || claims.Region != "eu" || claims.Extension == nil || claims.Extension.Months != 1 ||
		len(claims.Subsystems) != 2 || claims.Subsystems[1].AttestedBy != "arn:aws:iam::1:user/dpo" || !claims.ClosedAt.Equal(*r.CompletedAt) {
		t.Fatalf("claims = %+v", claims)
	}
	if !claims.SubjectCommitment.Matches("alice@example.com") || claims.SubjectCommitment.Matches("bob@example.com") {
		t.Fatal("the subject check does not tell alice from bob")
	}
	for i := 0; i < len(jws); i++ {
		for _, b := range []byte{'A', '_'} {
			if jws[i] == b || jws[i] == '.' {
				continue
			}
			changed := jws[:i] + string(b) + jws[i+1:]
			if _, _, err := proof.Verify(changed, set); err == nil {
				t.Fatalf("byte %d changed to %q still verifies", i, b)
			}
		}
	}
	other, _ := proof.KeySet(ctx, localSigner(t))
	if _, _, err := proof.Verify(jws, other); !errors.Is(err, proof.ErrSignature) {
		t.Fatalf("another key set: %v, want ErrSignature", err)
	}
	for _, bad := range []string{"", "not a jws", "a.b", strings.Replace(jws, ".", "", 1)} {
		if _, _, err := proof.Verify(bad, set); !errors.Is(err, proof.ErrMalformed) {
			t.Errorf("Verify(%.20q) = %v, want ErrMalformed", bad, err)
		}
	}
}

// TestLocalKeyPersists: lethe local signs with the same key across starts.
func TestLocalKeyPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "signing.pem")
	a, err := proof.LoadOrCreateLocal(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := proof.LoadOrCreateLocal(path)
	if err != nil {
		t.Fatal(err)
	}
	ka, _ := proof.KeySet(context.Background(), a)
	kb, _ := proof.KeySet(context.Background(), b)
	if ka.Keys[0].KeyID != kb.Keys[0].KeyID {
		t.Fatal("the key changed on reload")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", fi.Mode())
	}
}

// recordedKMS answers from testdata/kms-answers.json, shaped as KMS's.
type recordedKMS struct {
	pub   *kms.GetPublicKeyOutput
	signs map[string][]byte // digest (base64) -> DER signature
	calls []*kms.SignInput
}

func loadRecorded(t *testing.T) (*recordedKMS, []string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "kms-answers.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		GetPublicKey struct {
			KeyId, KeySpec, KeyUsage string
			PublicKey                []byte
		}
		Sign []struct {
			Name, Digest string
			Response     struct{ Signature []byte }
		}
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	k := &recordedKMS{signs: map[string][]byte{}, pub: &kms.GetPublicKeyOutput{KeyId: aws.String(f.GetPublicKey.KeyId),
		KeySpec: types.KeySpec(f.GetPublicKey.KeySpec), KeyUsage: types.KeyUsageType(f.GetPublicKey.KeyUsage), PublicKey: f.GetPublicKey.PublicKey}}
	var digests []string
	for _, s := range f.Sign {
		k.signs[s.Digest] = s.Response.Signature
		digests = append(digests, s.Digest)
	}
	return k, digests
}

func (k *recordedKMS) GetPublicKey(context.Context, *kms.GetPublicKeyInput, ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error) {
	return k.pub, nil
}

func (k *recordedKMS) Sign(_ context.Context, in *kms.SignInput, _ ...func(*kms.Options)) (*kms.SignOutput, error) {
	k.calls = append(k.calls, in)
	der, ok := k.signs[base64.StdEncoding.EncodeToString(in.Message)]
	if !ok {
		return nil, errors.New("no recorded answer for this digest")
	}
	return &kms.SignOutput{KeyId: in.KeyId, Signature: der, SigningAlgorithm: in.SigningAlgorithm}, nil
}

// TestKMSSignerTurnsDERIntoJWSSignatures: KMS's recorded DER signatures
// (r with a leading zero byte, s shorter than 32 bytes, neither) become
// 64-byte R||S signatures that verify under the recorded public key; the
// signer asks KMS to sign a digest with ECDSA_SHA_256.
func TestKMSSignerTurnsDERIntoJWSSignatures(t *testing.T) {
	rec, digests := loadRecorded(t)
	s := proof.NewKMS(rec, "alias/lethe/eu/certificates")
	pub, err := s.Public(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(digests) != 3 {
		t.Fatalf("%d recorded signatures", len(digests))
	}
	for _, d := range digests {
		digest, _ := base64.StdEncoding.DecodeString(d)
		raw, err := s.SignDigest(context.Background(), digest)
		if err != nil {
			t.Fatal(err)
		}
		if len(raw) != 64 {
			t.Fatalf("signature of %d bytes", len(raw))
		}
		r, ss := new(big.Int).SetBytes(raw[:32]), new(big.Int).SetBytes(raw[32:])
		if !ecdsa.Verify(pub, digest, r, ss) {
			t.Fatalf("converted signature does not verify (DER %x)", rec.signs[d])
		}
	}
	in := rec.calls[0]
	if in.MessageType != types.MessageTypeDigest || in.SigningAlgorithm != types.SigningAlgorithmSpecEcdsaSha256 || aws.ToString(in.KeyId) != "alias/lethe/eu/certificates" {
		t.Fatalf("Sign input %+v", in)
	}
	// A wrong key spec is refused.
	rec.pub.KeySpec = types.KeySpecRsa2048
	if _, err := proof.NewKMS(rec, "k").Public(context.Background()); err == nil {
		t.Fatal("an RSA key was accepted")
	}
}

func TestRawSignatureRefusesMalformedDER(t *testing.T) {
	for name, der := range map[string][]byte{
		"empty":          {},
		"not a sequence": {0x02, 0x01, 0x01},
		"trailing bytes": {0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00},
		"negative r":     {0x30, 0x06, 0x02, 0x01, 0xff, 0x02, 0x01, 0x01},
		"r of 33 bytes":  append([]byte{0x30, 0x26, 0x02, 0x21, 0x01}, append(make([]byte, 32), 0x02, 0x01, 0x01)...),
	} {
		if _, err := proof.RawSignature(der); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func BenchmarkIssue(b *testing.B) {
	s := localSigner(b)
	r, c := completed(b, "alice@example.com")
	cl := proof.NewClaims(r, "eu", proof.Issuer("eu", "eu-west-1"), *r.CompletedAt, c)
	for b.Loop() {
		if _, _, err := proof.Issue(context.Background(), s, cl); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	s := localSigner(b)
	r, c := completed(b, "alice@example.com")
	jws, _, err := proof.Issue(context.Background(), s, proof.NewClaims(r, "eu", proof.Issuer("eu", "eu-west-1"), *r.CompletedAt, c))
	if err != nil {
		b.Fatal(err)
	}
	set, _ := proof.KeySet(context.Background(), s)
	var keep jose.JSONWebKeySet = set
	for b.Loop() {
		if _, _, err := proof.Verify(jws, keep); err != nil {
			b.Fatal(err)
		}
	}
}
