package cognito_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"github.com/aws/smithy-go"

	"github.com/lethe-erasure/lethe/internal/connector"
	cogconn "github.com/lethe-erasure/lethe/internal/connector/cognito"
)

// localPool creates a user pool on cognito-local (started by make test)
// holding the given users (username → email).
func localPool(t *testing.T, users map[string]string) (*cip.Client, string) {
	t.Helper()
	endpoint := os.Getenv("LETHE_COGNITO_ENDPOINT")
	if endpoint == "" {
		t.Skip("cognito-local is not running: set LETHE_COGNITO_ENDPOINT (scripts/cognito-local.sh start) or run make test")
	}
	client := cip.New(cip.Options{Region: "eu-west-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("lethe", "lethe", "")})
	// Usernames are free-form (not emails): the pool names no
	// UsernameAttributes.
	pool, err := client.CreateUserPool(t.Context(), &cip.CreateUserPoolInput{PoolName: aws.String(t.Name()), UsernameAttributes: []types.UsernameAttributeType{}})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(pool.UserPool.Id)
	for name, email := range users {
		if _, err := client.AdminCreateUser(t.Context(), &cip.AdminCreateUserInput{UserPoolId: &id, Username: aws.String(name), MessageAction: types.MessageActionTypeSuppress,
			UserAttributes: []types.AttributeType{{Name: aws.String("email"), Value: aws.String(email)}}}); err != nil {
			t.Fatal(err)
		}
	}
	return client, id
}

func exists(t *testing.T, client *cip.Client, pool, username string) bool {
	t.Helper()
	_, err := client.AdminGetUser(t.Context(), &cip.AdminGetUserInput{UserPoolId: &pool, Username: &username})
	var nf *types.UserNotFoundException
	if errors.As(err, &nf) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

func TestEraseByUsername(t *testing.T) {
	client, pool := localPool(t, map[string]string{"alice": "alice@example.com", "bob": "bob@example.com"})
	e := cogconn.New(cogconn.Config{UserPoolID: pool}, client)
	if got, err := e.Erase(t.Context(), "alice"); err != nil || got != connector.Deleted {
		t.Fatalf("Erase = %v, %v; want deleted", got, err)
	}
	if exists(t, client, pool, "alice") || !exists(t, client, pool, "bob") {
		t.Error("alice must be gone and bob kept")
	}
	if got, err := e.Erase(t.Context(), "alice"); err != nil || got != connector.NotFound {
		t.Errorf("Erase again = %v, %v; want not_found", got, err)
	}
}

func TestEraseByEmail(t *testing.T) {
	client, pool := localPool(t, map[string]string{
		"u1": "carol@example.com", "u2": "carol@example.com", // two accounts, one person
		"u3": "dave@example.com",
	})
	e := cogconn.New(cogconn.Config{UserPoolID: pool, Attribute: "email"}, client)
	if got, err := e.Erase(t.Context(), "carol@example.com"); err != nil || got != connector.Deleted {
		t.Fatalf("Erase = %v, %v; want deleted", got, err)
	}
	if exists(t, client, pool, "u1") || exists(t, client, pool, "u2") || !exists(t, client, pool, "u3") {
		t.Error("both of carol's users must be gone and dave's kept")
	}
	if got, err := e.Erase(t.Context(), "carol@example.com"); err != nil || got != connector.NotFound {
		t.Errorf("Erase(carol) again = %v, %v; want not_found", got, err)
	}
	if got, err := e.Erase(t.Context(), "nobody@example.com"); err != nil || got != connector.NotFound {
		t.Errorf("Erase(nobody) = %v, %v; want not_found", got, err)
	}
}

func TestMissingPoolIsPermanent(t *testing.T) {
	client, _ := localPool(t, nil)
	e := cogconn.New(cogconn.Config{UserPoolID: "eu-west-1_nosuchpool"}, client)
	_, err := e.Erase(t.Context(), "alice")
	var ce *connector.Error
	if !errors.As(err, &ce) || ce.Retryable || strings.Contains(ce.Error(), "alice") {
		t.Fatalf("Erase = %v; want a permanent error that does not name the subject", err)
	}
}

// fakeAPI answers scripted errors.
type fakeAPI struct {
	deletes int
	errs    []error
	filters []string
	// pages are ListUsers' answers in turn (cognito-local never pages).
	pages   []*cip.ListUsersOutput
	deleted []string
	tokens  []string
}

func (f *fakeAPI) AdminDeleteUser(ctx context.Context, in *cip.AdminDeleteUserInput, _ ...func(*cip.Options)) (*cip.AdminDeleteUserOutput, error) {
	f.deletes++
	f.deleted = append(f.deleted, aws.ToString(in.Username))
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		return nil, err
	}
	return &cip.AdminDeleteUserOutput{}, nil
}

func (f *fakeAPI) ListUsers(_ context.Context, in *cip.ListUsersInput, _ ...func(*cip.Options)) (*cip.ListUsersOutput, error) {
	f.filters = append(f.filters, aws.ToString(in.Filter))
	f.tokens = append(f.tokens, aws.ToString(in.PaginationToken))
	if len(f.pages) == 0 {
		return &cip.ListUsersOutput{}, nil
	}
	page := f.pages[0]
	f.pages = f.pages[1:]
	return page, nil
}

func user(name, email string) types.UserType {
	return types.UserType{Username: aws.String(name), Attributes: []types.AttributeType{{Name: aws.String("email"), Value: aws.String(email)}}}
}

// TestEraseByEmailPages: every page of ListUsers is read (its
// PaginationToken passed on), and only users whose attribute is exactly
// the subject are deleted.
func TestEraseByEmailPages(t *testing.T) {
	f := &fakeAPI{pages: []*cip.ListUsersOutput{
		{Users: []types.UserType{user("u1", "erin@example.com"), user("u2", "Erin@example.com")}, PaginationToken: aws.String("p2")},
		{Users: []types.UserType{user("u3", "erin@example.com")}},
	}}
	e := cogconn.New(cogconn.Config{UserPoolID: "eu-west-1_AbC123", Attribute: "email"}, f)
	if got, err := e.Erase(t.Context(), "erin@example.com"); err != nil || got != connector.Deleted {
		t.Fatalf("Erase = %v, %v", got, err)
	}
	if strings.Join(f.tokens, ",") != ",p2" || strings.Join(f.deleted, ",") != "u1,u3" {
		t.Errorf("pages asked with tokens %q, deleted %v; want both pages and u1, u3 (u2's email differs in case)", f.tokens, f.deleted)
	}
}

// TestFilterEscapesTheSubject: a subject holding a quote and a backslash
// stays one filter value, escaped as Cognito's ListUsers documents
// (cognito-local does not unescape, so this is checked on what is sent).
func TestFilterEscapesTheSubject(t *testing.T) {
	f := &fakeAPI{}
	e := cogconn.New(cogconn.Config{UserPoolID: "eu-west-1_AbC123", Attribute: "email"}, f)
	if got, err := e.Erase(t.Context(), `q"uote\d@example.com`); err != nil || got != connector.NotFound {
		t.Fatalf("Erase = %v, %v", got, err)
	}
	if want := `email = "q\"uote\\d@example.com"`; len(f.filters) != 1 || f.filters[0] != want {
		t.Errorf("filters %q, want [%s]", f.filters, want)
	}
}

func TestThrottlingRetriedAndDenialPermanent(t *testing.T) {
	throttle := &smithy.GenericAPIError{Code: "TooManyRequestsException", Message: "slow down"}
	f := &fakeAPI{errs: []error{throttle, throttle}}
	e := cogconn.New(cogconn.Config{UserPoolID: "eu-west-1_AbC123"}, f)
	e.Retry.Sleep = func(context.Context, time.Duration) error { return nil }
	if got, err := e.Erase(t.Context(), "erin"); err != nil || got != connector.Deleted || f.deletes != 3 {
		t.Fatalf("Erase = %v, %v after %d calls; want deleted after 3", got, err, f.deletes)
	}
	f = &fakeAPI{errs: []error{&smithy.GenericAPIError{Code: "AccessDeniedException", Message: "User: arn:... is not authorized for erin"}}}
	e = cogconn.New(cogconn.Config{UserPoolID: "eu-west-1_AbC123"}, f)
	_, err := e.Erase(t.Context(), "erin")
	var ce *connector.Error
	if !errors.As(err, &ce) || ce.Retryable || !strings.Contains(ce.Detail, "denied") || strings.Contains(ce.Error(), "erin") {
		t.Fatalf("Erase denied = %v; want a permanent denial that does not name the subject", err)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg cogconn.Config
		key string
	}{
		{cogconn.Config{UserPoolID: "AbC123"}, "c.userPoolId"},
		{cogconn.Config{UserPoolID: "eu-west-1-AbC123"}, "c.userPoolId"},
		{cogconn.Config{UserPoolID: "eu-west-1_AbC123", Attribute: "custom:tenant"}, "c.attribute"},
	} {
		err := tc.cfg.Validate("c")
		if err == nil || !strings.HasPrefix(err.Error(), tc.key+":") {
			t.Errorf("Validate(%+v) = %v, want an error naming %s", tc.cfg, err, tc.key)
		}
	}
	ok := cogconn.Config{UserPoolID: "eu-west-1_AbC123", Attribute: "email"}
	if err := ok.Validate("c"); err != nil || ok.Region() != "eu-west-1" {
		t.Errorf("a valid configuration: %v, region %q", err, ok.Region())
	}
}
