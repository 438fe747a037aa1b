// Package cognito is Lethe's built-in Amazon Cognito connector: it deletes
// the subject's user from a user pool, found by username (the subject id is
// the username) or by a searchable attribute such as email (every user
// whose attribute equals the subject id).
package cognito

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"github.com/aws/smithy-go"

	"github.com/lethe-erasure/lethe/internal/connector"
)

// Config is a cognito connector as configuration declares it.
type Config struct {
	// UserPoolID is the pool's id, <region>_<id>, e.g. eu-west-1_AbC123.
	UserPoolID string `json:"userPoolId"`
	// Attribute is how the user is found: "" or "username" (the subject id
	// is the username), or a searchable standard attribute.
	Attribute string `json:"attribute,omitempty"`
	// Endpoint overrides the Cognito endpoint (a local server).
	Endpoint string `json:"endpoint,omitempty"`
}

var (
	poolRE = regexp.MustCompile(`^([a-z]{2}(-gov)?-[a-z]+-[0-9])_[0-9A-Za-z]+$`)
	// localPoolRE is how cognito-local names its pools: accepted with an
	// endpoint override only.
	localPoolRE = regexp.MustCompile(`^local_[0-9A-Za-z]+$`)
)

// searchable are the attributes ListUsers can filter on (custom attributes
// cannot be searched), username aside.
var searchable = []string{"email", "phone_number", "name", "given_name", "family_name", "preferred_username", "sub"}

// Validate checks the configuration; errors name the key under prefix.
func (c Config) Validate(prefix string) error {
	if !poolRE.MatchString(c.UserPoolID) && (c.Endpoint == "" || !localPoolRE.MatchString(c.UserPoolID)) {
		return connector.Invalid(prefix, "userPoolId", fmt.Sprintf("%q is not a user pool id (<region>_<id>, e.g. eu-west-1_AbC123)", c.UserPoolID))
	}
	if a := c.Attribute; a != "" && a != "username" && !slices.Contains(searchable, a) {
		return connector.Invalid(prefix, "attribute", fmt.Sprintf("%q cannot find a user: use username or one of %s (Cognito cannot search custom attributes)", a, strings.Join(searchable, ", ")))
	}
	return nil
}

// Region is the AWS region the pool id names.
func (c Config) Region() string {
	if m := poolRE.FindStringSubmatch(c.UserPoolID); m != nil {
		return m[1]
	}
	return ""
}

// API is what the connector calls.
type API interface {
	AdminDeleteUser(ctx context.Context, in *cip.AdminDeleteUserInput, optFns ...func(*cip.Options)) (*cip.AdminDeleteUserOutput, error)
	ListUsers(ctx context.Context, in *cip.ListUsersInput, optFns ...func(*cip.Options)) (*cip.ListUsersOutput, error)
}

var _ API = (*cip.Client)(nil)

// Eraser erases in one configured user pool.
type Eraser struct {
	cfg Config
	api API
	// Retry retries throttled calls.
	Retry connector.Retrier
}

var _ connector.Eraser = (*Eraser)(nil)

// New returns the connector of a validated configuration.
func New(cfg Config, api API) *Eraser {
	return &Eraser{cfg: cfg, api: api, Retry: connector.Retrier{Attempts: 8, Throttled: throttled}}
}

// Erase deletes the subject's user, or every user whose attribute is the
// subject id.
func (e *Eraser) Erase(ctx context.Context, subject string) (connector.Outcome, error) {
	if e.cfg.Attribute == "" || e.cfg.Attribute == "username" {
		gone, err := e.delete(ctx, subject)
		if err != nil {
			return "", err
		}
		if gone {
			return connector.NotFound, nil
		}
		return connector.Deleted, nil
	}
	// A filter value is quoted: backslashes and quotes in it are escaped.
	value := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(subject)
	in := &cip.ListUsersInput{UserPoolId: &e.cfg.UserPoolID, Filter: aws.String(e.cfg.Attribute + ` = "` + value + `"`)}
	var users []string
	for {
		var page *cip.ListUsersOutput
		err := e.Retry.Do(ctx, func() (err error) {
			page, err = e.api.ListUsers(ctx, in)
			return err
		})
		if err != nil {
			return "", e.classify("ListUsers", err)
		}
		for _, u := range page.Users {
			if matches(u, e.cfg.Attribute, subject) {
				users = append(users, aws.ToString(u.Username))
			}
		}
		if aws.ToString(page.PaginationToken) == "" {
			break
		}
		in.PaginationToken = page.PaginationToken
	}
	if len(users) == 0 {
		return connector.NotFound, nil
	}
	for _, u := range users {
		// A user gone meanwhile is what Erase wants.
		if _, err := e.delete(ctx, u); err != nil {
			return "", err
		}
	}
	return connector.Deleted, nil
}

// matches double-checks a listed user: the filter is exact on AWS, and a
// user is deleted only when its attribute is the subject id itself.
func matches(u types.UserType, attribute, subject string) bool {
	for _, a := range u.Attributes {
		if aws.ToString(a.Name) == attribute {
			return aws.ToString(a.Value) == subject
		}
	}
	return false
}

// delete deletes one user by username; gone says it did not exist.
func (e *Eraser) delete(ctx context.Context, username string) (gone bool, err error) {
	err = e.Retry.Do(ctx, func() error {
		_, err := e.api.AdminDeleteUser(ctx, &cip.AdminDeleteUserInput{UserPoolId: &e.cfg.UserPoolID, Username: &username})
		return err
	})
	var nf *types.UserNotFoundException
	if errors.As(err, &nf) {
		return true, nil
	}
	if err != nil {
		return false, e.classify("AdminDeleteUser", err)
	}
	return false, nil
}

func throttled(err error) bool {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return false
	}
	switch api.ErrorCode() {
	case "TooManyRequestsException", "LimitExceededException", "ThrottlingException":
		return true
	}
	return false
}

// classify types an error as the HTTP contract's answers are typed; its
// detail names the call and the pool, never a username or filter (they
// hold the subject).
func (e *Eraser) classify(op string, err error) error {
	pool := e.cfg.UserPoolID
	var api smithy.APIError
	if !errors.As(err, &api) {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return &connector.Error{Retryable: true, Code: "Timeout", Detail: op + " on " + pool + " did not finish in time"}
		}
		return &connector.Error{Retryable: true, Code: "NoAnswer", Detail: op + " on " + pool + ": no answer from Cognito"}
	}
	code := api.ErrorCode()
	ce := &connector.Error{Code: code}
	switch {
	case throttled(err), code == "InternalErrorException", api.ErrorFault() == smithy.FaultServer:
		ce.Retryable, ce.Detail = true, op+" on "+pool+" was throttled or failed on Cognito's side"
	case code == "NotAuthorizedException" || code == "AccessDeniedException" || code == "UnrecognizedClientException":
		ce.Detail = op + " on " + pool + " was denied: the connector's role needs cognito-idp:ListUsers and cognito-idp:AdminDeleteUser on this pool"
	case code == "ResourceNotFoundException":
		ce.Detail = op + ": no user pool " + pool + " in this region"
	default:
		ce.Detail = op + " on " + pool + " was refused (" + code + ")"
	}
	return ce
}
