package local

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/lethe-erasure/lethe/internal/asl"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/subsystem"
)

// withSubsystems returns the repository's configuration with subs (JSON
// objects) added to region eu, parsed as lethe local would parse it.
func withSubsystems(t *testing.T, subs ...map[string]any) *config.Config {
	t.Helper()
	data, err := json.Marshal(loadConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	eu := m["regions"].([]any)[0].(map[string]any)
	for _, s := range subs {
		eu["subsystems"] = append(eu["subsystems"].([]any), s)
	}
	data, _ = json.Marshal(m)
	cfg, err := config.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// s3Server is an S3-API server on loopback with one bucket.
func s3Server(t *testing.T, bucket string) (*s3mem.Backend, *s3.Client, string) {
	t.Helper()
	backend := s3mem.New()
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	client := s3.New(s3.Options{Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("lethe", "lethe", "")})
	if _, err := client.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	return backend, client, srv.URL
}

func objectsUnder(t *testing.T, client *s3.Client, bucket, prefix string) int {
	t.Helper()
	out, err := client.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: &prefix})
	if err != nil {
		t.Fatal(err)
	}
	return int(aws.ToInt32(out.KeyCount))
}

// TestConnectorsEraseUnderLetheLocal: subsystems declared with built-in
// connectors (an S3 prefix of 3,000 objects, a DynamoDB item, a Cognito
// user) are erased
// by the connector function the SyncDeletion machine calls, the S3 one
// over several calls (each stopping with more when its budget runs out),
// next to the demo's HTTP subsystems; other subjects' data stays.
func TestConnectorsEraseUnderLetheLocal(t *testing.T) {
	budget := subsystem.EraseBudget
	subsystem.EraseBudget = 100 * time.Millisecond
	t.Cleanup(func() { subsystem.EraseBudget = budget })

	backend, s3c, s3URL := s3Server(t, "profiles")
	for i := range 3000 {
		if _, err := backend.PutObject("profiles", fmt.Sprintf("users/alice/%05d.json", i), nil, strings.NewReader("{}"), 2, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := backend.PutObject("profiles", "users/bob/0.json", nil, strings.NewReader("{}"), 2, nil); err != nil {
		t.Fatal(err)
	}
	subs := []map[string]any{{"name": "profiles", "adminEmails": []any{"profiles@example.com"},
		"connector": map[string]any{"s3": map[string]any{"bucket": "profiles", "prefix": "users/{subject}/", "endpoint": s3URL}}}}

	var ddb *dynamodb.Client
	table := fmt.Sprintf("sessions-%d", time.Now().UnixNano())
	if ep := os.Getenv("LETHE_DYNAMODB_ENDPOINT"); ep != "" {
		ddb = dynamodb.New(dynamodb.Options{Region: "eu-west-1", BaseEndpoint: aws.String(ep),
			Credentials: credentials.NewStaticCredentialsProvider("lethe", "lethe", "")})
		if _, err := ddb.CreateTable(t.Context(), &dynamodb.CreateTableInput{TableName: &table, BillingMode: ddbtypes.BillingModePayPerRequest,
			AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
			KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash}}}); err != nil {
			t.Fatal(err)
		}
		for _, u := range []string{"alice", "bob"} {
			if _, err := ddb.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: &table,
				Item: map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "SESSION#" + u}}}); err != nil {
				t.Fatal(err)
			}
		}
		subs = append(subs, map[string]any{"name": "sessions", "adminEmails": []any{"sessions@example.com"},
			"connector": map[string]any{"dynamodb": map[string]any{"table": table, "key": map[string]any{"pk": "SESSION#{subject}"}, "endpoint": ep}}})
	} else {
		t.Log("DynamoDB Local is not running (LETHE_DYNAMODB_ENDPOINT): the DynamoDB connector is left out")
	}

	var cog *cip.Client
	var pool string
	if ep := os.Getenv("LETHE_COGNITO_ENDPOINT"); ep != "" {
		cog = cip.New(cip.Options{Region: "eu-west-1", BaseEndpoint: aws.String(ep),
			Credentials: credentials.NewStaticCredentialsProvider("lethe", "lethe", "")})
		out, err := cog.CreateUserPool(t.Context(), &cip.CreateUserPoolInput{PoolName: aws.String(t.Name())})
		if err != nil {
			t.Fatal(err)
		}
		pool = aws.ToString(out.UserPool.Id)
		for _, u := range []string{"alice", "bob"} {
			if _, err := cog.AdminCreateUser(t.Context(), &cip.AdminCreateUserInput{UserPoolId: &pool, Username: aws.String(u),
				MessageAction: ciptypes.MessageActionTypeSuppress}); err != nil {
				t.Fatal(err)
			}
		}
		subs = append(subs, map[string]any{"name": "accounts", "adminEmails": []any{},
			"connector": map[string]any{"cognito": map[string]any{"userPoolId": pool, "endpoint": ep}}})
	} else {
		t.Log("cognito-local is not running (LETHE_COGNITO_ENDPOINT): the Cognito connector is left out")
	}

	cfg := withSubsystems(t, subs...)
	rt, err := Start(context.Background(), Options{Config: cfg, DataDir: t.TempDir(), Demo: true, Clock: asl.NewFakeClock(t0), Log: discard()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })

	r := wait(t, rt, file(t, rt, "eu", "alice"))
	if r.Status != erasure.StatusCompleted {
		t.Fatalf("request %s: %+v", r.Status, r.Subsystems)
	}
	profiles, _ := r.Subsystem("profiles")
	if profiles.Status != erasure.SubsystemDeleted || profiles.Attempts < 2 {
		t.Errorf("profiles: %s after %d calls, want deleted over several calls (3,000 objects, a 100 ms budget)", profiles.Status, profiles.Attempts)
	}
	if n := objectsUnder(t, s3c, "profiles", "users/alice/"); n != 0 {
		t.Errorf("%d of alice's objects left", n)
	}
	if n := objectsUnder(t, s3c, "profiles", "users/bob/"); n != 1 {
		t.Errorf("%d of bob's objects left, want 1", n)
	}
	if ddb != nil {
		sessions, _ := r.Subsystem("sessions")
		if sessions.Status != erasure.SubsystemDeleted {
			t.Errorf("sessions: %s (%s)", sessions.Status, sessions.LastError)
		}
		for u, want := range map[string]int{"alice": 0, "bob": 1} {
			out, err := ddb.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: &table,
				Key: map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "SESSION#" + u}}})
			if err != nil {
				t.Fatal(err)
			}
			if got := min(len(out.Item), 1); got != want {
				t.Errorf("%s's session: %d items, want %d", u, got, want)
			}
		}
	}
	if cog != nil {
		if accounts, _ := r.Subsystem("accounts"); accounts.Status != erasure.SubsystemDeleted {
			t.Errorf("accounts: %s (%s)", accounts.Status, accounts.LastError)
		}
		out, err := cog.ListUsers(t.Context(), &cip.ListUsersInput{UserPoolId: &pool})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Users) != 1 || aws.ToString(out.Users[0].Username) != "bob" {
			t.Errorf("users left %d, want bob alone", len(out.Users))
		}
	}
	t.Logf("profiles erased in %d calls", profiles.Attempts)
}

// TestConnectorRefusalFailsAndMailsAdmins: a connector whose store refuses
// for good (a bucket that does not exist) fails its subsystem at once, and
// its admins' mail says what to fix without naming the subject.
func TestConnectorRefusalFailsAndMailsAdmins(t *testing.T) {
	_, _, s3URL := s3Server(t, "profiles")
	cfg := withSubsystems(t, map[string]any{"name": "archive", "adminEmails": []any{"archive@example.com"},
		"connector": map[string]any{"s3": map[string]any{"bucket": "no-such-bucket", "prefix": "users/{subject}/", "endpoint": s3URL}}})
	rt, err := Start(context.Background(), Options{Config: cfg, DataDir: t.TempDir(), Demo: true, Clock: asl.NewFakeClock(t0), Log: discard()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	r := wait(t, rt, file(t, rt, "eu", "alice"))
	archive, _ := r.Subsystem("archive")
	if r.Status != erasure.StatusFailed || archive.Status != erasure.SubsystemFailed || archive.Attempts != 1 {
		t.Fatalf("request %s, archive %s after %d calls; want failed at the first call", r.Status, archive.Status, archive.Attempts)
	}
	mails := outboxBodies(rt, SubsystemTopicName("eu", "archive"))
	if len(mails) != 1 || !strings.Contains(mails[0], "no-such-bucket") || !strings.Contains(mails[0], "ConnectorRefused") || strings.Contains(mails[0], "alice") {
		t.Errorf("admins' mail %q; want one naming the bucket and the refusal, not the subject", mails)
	}
}

// TestLocalRefusesAConnectorWithoutEndpoint: lethe local erases only in
// local servers; a connector with no endpoint is refused at start, naming
// the key.
func TestLocalRefusesAConnectorWithoutEndpoint(t *testing.T) {
	cfg := withSubsystems(t, map[string]any{"name": "archive", "adminEmails": []any{},
		"connector": map[string]any{"s3": map[string]any{"bucket": "archive", "prefix": "users/{subject}/"}}})
	_, err := Start(context.Background(), Options{Config: cfg, DataDir: t.TempDir(), Demo: true, Clock: asl.NewFakeClock(t0), Log: discard()})
	if err == nil || !strings.Contains(err.Error(), "connector.s3.endpoint") {
		t.Fatalf("Start = %v, want a refusal naming connector.s3.endpoint", err)
	}
}
