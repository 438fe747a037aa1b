package s3_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/lethe-erasure/lethe/internal/connector"
	s3conn "github.com/lethe-erasure/lethe/internal/connector/s3"
)

// server is an S3-API server (gofakes3: s3rver, the npm server, has no
// object versions) on loopback, spoken to over HTTP by the SDK's client
// exactly as the connector speaks to S3.
type server struct {
	backend *s3mem.Backend
	client  *s3.Client
}

func newServer(t testing.TB) *server {
	t.Helper()
	backend := s3mem.New()
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	client := s3.New(s3.Options{
		Region:       "eu-west-1",
		BaseEndpoint: aws.String(srv.URL),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider("lethe", "lethe", ""),
	})
	return &server{backend: backend, client: client}
}

func (s *server) bucket(t testing.TB, name string, versioned bool) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &name}); err != nil {
		t.Fatal(err)
	}
	if versioned {
		if _, err := s.client.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: &name,
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
			t.Fatal(err)
		}
	}
}

func (s *server) put(t testing.TB, bucket, key, body string) {
	t.Helper()
	if _, err := s.client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: strings.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
}

func (s *server) del(t testing.TB, bucket, key string) {
	t.Helper()
	if _, err := s.client.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: &bucket, Key: &key}); err != nil {
		t.Fatal(err)
	}
}

// versions counts the versions and delete markers under prefix.
func (s *server) versions(t testing.TB, bucket, prefix string) int {
	t.Helper()
	n := 0
	in := &s3.ListObjectVersionsInput{Bucket: &bucket, Prefix: &prefix}
	for {
		out, err := s.client.ListObjectVersions(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		n += len(out.Versions) + len(out.DeleteMarkers)
		if !aws.ToBool(out.IsTruncated) {
			return n
		}
		in.KeyMarker, in.VersionIdMarker = out.NextKeyMarker, out.NextVersionIdMarker
	}
}

func TestEraseVersionedPrefix(t *testing.T) {
	s := newServer(t)
	s.bucket(t, "profiles", true)
	for i := range 3 { // three versions of one object
		s.put(t, "profiles", "users/alice@example.com/profile.json", fmt.Sprintf(`{"v":%d}`, i))
	}
	s.put(t, "profiles", "users/alice@example.com/photos/1.jpg", "jpeg")
	s.del(t, "profiles", "users/alice@example.com/photos/1.jpg") // a delete marker over a version
	s.put(t, "profiles", "users/alice@example.com2/profile.json", "another subject")
	s.put(t, "profiles", "users/bob@example.com/profile.json", "bob")
	if n := s.versions(t, "profiles", "users/alice@example.com/"); n != 5 {
		t.Fatalf("seeded %d versions and markers under alice's prefix, want 5", n)
	}

	e := s3conn.New(s3conn.Config{Bucket: "profiles", Prefix: "users/{subject}/"}, s.client)
	got, err := e.Erase(t.Context(), "alice@example.com")
	if err != nil || got != connector.Deleted {
		t.Fatalf("Erase = %v, %v; want deleted", got, err)
	}
	if n := s.versions(t, "profiles", "users/alice@example.com/"); n != 0 {
		t.Errorf("%d versions or markers left under alice's prefix", n)
	}
	if n := s.versions(t, "profiles", "users/"); n != 2 {
		t.Errorf("%d versions left of the other subjects, want their 2", n)
	}
	if got, err := e.Erase(t.Context(), "alice@example.com"); err != nil || got != connector.NotFound {
		t.Errorf("Erase again = %v, %v; want not_found", got, err)
	}
}

func TestEraseUnversionedBucket(t *testing.T) {
	s := newServer(t)
	s.bucket(t, "exports", false)
	s.put(t, "exports", "2026/carol/a.csv", "a")
	s.put(t, "exports", "2026/carol/b.csv", "b")
	s.put(t, "exports", "2026/dave/a.csv", "d")
	e := s3conn.New(s3conn.Config{Bucket: "exports", Prefix: "2026/{subject}/"}, s.client)
	if got, err := e.Erase(t.Context(), "carol"); err != nil || got != connector.Deleted {
		t.Fatalf("Erase = %v, %v; want deleted", got, err)
	}
	if n := s.versions(t, "exports", "2026/"); n != 1 {
		t.Errorf("%d objects left, want dave's 1", n)
	}
}

func TestSubjectWithSlashIsRefused(t *testing.T) {
	s := newServer(t)
	s.bucket(t, "profiles", false)
	s.put(t, "profiles", "users/a/b/x", "x")
	e := s3conn.New(s3conn.Config{Bucket: "profiles", Prefix: "users/{subject}/"}, s.client)
	_, err := e.Erase(t.Context(), "a/b")
	var ce *connector.Error
	if !errors.As(err, &ce) || ce.Retryable || strings.Contains(ce.Detail, "a/b") {
		t.Fatalf("Erase(a/b) = %v; want a permanent error that does not name the subject", err)
	}
	if n := s.versions(t, "profiles", "users/"); n != 1 {
		t.Errorf("%d objects left, want 1: nothing may be deleted", n)
	}
}

func TestMissingBucketIsPermanent(t *testing.T) {
	s := newServer(t)
	e := s3conn.New(s3conn.Config{Bucket: "no-such-bucket", Prefix: "users/{subject}/"}, s.client)
	_, err := e.Erase(t.Context(), "alice")
	var ce *connector.Error
	if !errors.As(err, &ce) || ce.Retryable || ce.Code != "NoSuchBucket" || strings.Contains(ce.Error(), "alice") {
		t.Fatalf("Erase = %v; want a permanent NoSuchBucket naming no subject", err)
	}
}

// seed writes n objects under prefix straight into the server's backend
// (writing them over HTTP would take most of the test's time).
func (s *server) seed(t testing.TB, bucket, prefix string, n int) {
	t.Helper()
	for i := range n {
		if _, err := s.backend.PutObject(bucket, fmt.Sprintf("%sobj-%06d", prefix, i), nil, bytes.NewReader(nil), 0, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// TestHundredThousandObjects: a prefix of 100,000 objects is erased over
// several calls, each stopping with More before its time budget ends, and
// every call going on from where the last stopped.
func TestHundredThousandObjects(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 objects: not in -short")
	}
	s := newServer(t)
	s.bucket(t, "archive", false)
	s.seed(t, "archive", "users/erin/", 100_000)
	s.put(t, "archive", "users/frank/keep", "x")
	e := s3conn.New(s3conn.Config{Bucket: "archive", Prefix: "users/{subject}/"}, s.client)
	// A budget far shorter than the work, as a Lambda's is, and a margin
	// that leaves each call time for its last page.
	e.Margin = 700 * time.Millisecond
	calls := 0
	start := time.Now()
	for {
		calls++
		if calls > 200 {
			t.Fatal("no end after 200 calls")
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		got, err := e.Erase(ctx, "erin")
		cancel()
		if err != nil {
			t.Fatalf("call %d: %v", calls, err)
		}
		if got == connector.Deleted {
			break
		}
		if got != connector.More {
			t.Fatalf("call %d = %s, want more or deleted", calls, got)
		}
	}
	t.Logf("100,000 objects erased in %d calls, %s", calls, time.Since(start).Round(time.Millisecond))
	if calls < 2 {
		t.Errorf("erased in %d call: the budget was not exercised", calls)
	}
	if n := s.versions(t, "archive", "users/"); n != 1 {
		t.Errorf("%d objects left, want frank's 1", n)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg s3conn.Config
		key string
	}{
		{s3conn.Config{Bucket: "", Prefix: "u/{subject}/"}, "c.bucket"},
		{s3conn.Config{Bucket: "Bad_Bucket", Prefix: "u/{subject}/"}, "c.bucket"},
		{s3conn.Config{Bucket: "ok-bucket", Prefix: "users/"}, "c.prefix"},
		{s3conn.Config{Bucket: "ok-bucket", Prefix: "users/{subject}"}, "c.prefix"},
		{s3conn.Config{Bucket: "ok-bucket", Prefix: "{subject}/{subject}/"}, "c.prefix"},
		{s3conn.Config{Bucket: "ok-bucket", Prefix: "/users/{subject}/"}, "c.prefix"},
	} {
		err := tc.cfg.Validate("c")
		if err == nil || !strings.HasPrefix(err.Error(), tc.key+":") {
			t.Errorf("Validate(%+v) = %v, want an error naming %s", tc.cfg, err, tc.key)
		}
	}
	if err := (s3conn.Config{Bucket: "ok-bucket", Prefix: "users/{subject}/"}).Validate("c"); err != nil {
		t.Errorf("a valid configuration: %v", err)
	}
}

// BenchmarkErase measures objects erased per second under one prefix.
func BenchmarkErase(b *testing.B) {
	s := newServer(b)
	s.bucket(b, "archive", false)
	e := s3conn.New(s3conn.Config{Bucket: "archive", Prefix: "users/{subject}/"}, s.client)
	const n = 10_000
	var took time.Duration
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		subject := fmt.Sprintf("s%d", i)
		s.seed(b, "archive", "users/"+subject+"/", n)
		b.StartTimer()
		start := time.Now()
		if got, err := e.Erase(context.Background(), subject); err != nil || got != connector.Deleted {
			b.Fatalf("Erase = %v, %v", got, err)
		}
		took += time.Since(start)
	}
	b.ReportMetric(float64(n*b.N)/took.Seconds(), "objects/s")
}
