// Package s3 is Lethe's built-in S3 connector: it erases every object
// under a prefix built from a template over the subject id (e.g.
// "users/{subject}/"), every version and delete marker included when the
// bucket is or was versioned. It lists versions a thousand at a time and
// deletes each page with one DeleteObjects call (a bucket never versioned
// is listed with ListObjectsV2), starting each listing
// again from the prefix (what is deleted no longer appears), so that a call
// that stops with connector.More, a crash or a retry simply goes on.
package s3

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/lethe-erasure/lethe/internal/connector"
)

// Placeholder is what the prefix template replaces with the subject id.
const Placeholder = "{subject}"

// Config is an s3 connector as configuration declares it.
type Config struct {
	// Bucket is the bucket's name.
	Bucket string `json:"bucket"`
	// Prefix is the template of the subject's prefix; the placeholder must
	// be followed by "/", so that subject "1" never reaches subject "12"'s
	// objects.
	Prefix string `json:"prefix"`
	// Region is the bucket's AWS region, when given: the CDK app refuses a
	// bucket outside the stack's region.
	Region string `json:"region,omitempty"`
	// Endpoint overrides the S3 endpoint (a local server, path-style).
	Endpoint string `json:"endpoint,omitempty"`
}

// bucketRE is S3's rule for (new) bucket names.
var bucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// Validate checks the configuration; errors name the key under prefix.
func (c Config) Validate(prefix string) error {
	bad := func(key, msg string) error { return connector.Invalid(prefix, key, msg) }
	switch {
	case !bucketRE.MatchString(c.Bucket) || strings.Contains(c.Bucket, ".."):
		return bad("bucket", fmt.Sprintf("%q is not a bucket name (3-63 lower-case letters, digits, dots and dashes)", c.Bucket))
	case strings.Count(c.Prefix, Placeholder) != 1:
		return bad("prefix", "must hold "+Placeholder+" exactly once, e.g. users/"+Placeholder+"/")
	case !strings.Contains(c.Prefix, Placeholder+"/"):
		return bad("prefix", Placeholder+" must be followed by \"/\": without it, the prefix of subject 1 would hold subject 12's objects")
	case strings.HasPrefix(c.Prefix, "/"):
		return bad("prefix", "S3 keys do not start with \"/\"")
	}
	return nil
}

// API is what the connector calls.
type API interface {
	ListObjectVersions(ctx context.Context, in *s3.ListObjectVersionsInput, optFns ...func(*s3.Options)) (*s3.ListObjectVersionsOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	DeleteObjects(ctx context.Context, in *s3.DeleteObjectsInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error)
	GetBucketVersioning(ctx context.Context, in *s3.GetBucketVersioningInput, optFns ...func(*s3.Options)) (*s3.GetBucketVersioningOutput, error)
}

var _ API = (*s3.Client)(nil)

// Eraser erases under one configured prefix.
type Eraser struct {
	cfg Config
	api API
	connector.Budget
	// Retry retries throttled calls and keys DeleteObjects left.
	Retry connector.Retrier
}

var _ connector.Eraser = (*Eraser)(nil)

// New returns the connector of a validated configuration.
func New(cfg Config, api API) *Eraser {
	return &Eraser{cfg: cfg, api: api, Budget: connector.Budget{Margin: connector.DefaultMargin},
		Retry: connector.Retrier{Attempts: 8, Throttled: throttled}}
}

// Erase deletes every object version and delete marker under the subject's
// prefix.
func (e *Eraser) Erase(ctx context.Context, subject string) (connector.Outcome, error) {
	if subject == "" || strings.Contains(subject, "/") {
		return "", &connector.Error{Code: "UnsafeSubject",
			Detail: "the subject id is empty or holds \"/\": its prefix in " + e.cfg.Bucket + " could reach another subject's objects, so nothing was deleted"}
	}
	prefix := strings.Replace(e.cfg.Prefix, Placeholder, subject, 1)
	var versioning *s3.GetBucketVersioningOutput
	err := e.Retry.Do(ctx, func() (err error) {
		versioning, err = e.api.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: &e.cfg.Bucket})
		return err
	})
	if err != nil {
		return "", e.classify("GetBucketVersioning", err)
	}
	// A bucket that was ever versioned (enabled or suspended) keeps old
	// versions and delete markers: each is deleted by its version id. A
	// bucket never versioned has one current object per key.
	list := e.listVersions
	if versioning.Status == "" {
		list = e.listObjects
	}
	deleted := 0
	var last types.ObjectIdentifier
	for {
		ids, err := list(ctx, prefix)
		if err != nil {
			return "", err
		}
		if len(ids) == 0 {
			break
		}
		if deleted > 0 && aws.ToString(ids[0].Key) == aws.ToString(last.Key) && aws.ToString(ids[0].VersionId) == aws.ToString(last.VersionId) {
			return "", &connector.Error{Code: "NotDeleted",
				Detail: "DeleteObjects on " + e.cfg.Bucket + " answered success but S3 still lists what it was asked to delete"}
		}
		// Out of time with versions in hand (so more remains), after
		// deleting some (so each call gets on).
		if deleted > 0 && e.Spent(ctx) {
			return connector.More, nil
		}
		if err := e.deletePage(ctx, ids); err != nil {
			return "", err
		}
		deleted, last = deleted+len(ids), ids[0]
	}
	if deleted == 0 {
		return connector.NotFound, nil
	}
	return connector.Deleted, nil
}

// listVersions lists up to 1,000 versions and delete markers under prefix.
func (e *Eraser) listVersions(ctx context.Context, prefix string) ([]types.ObjectIdentifier, error) {
	var page *s3.ListObjectVersionsOutput
	err := e.Retry.Do(ctx, func() (err error) {
		page, err = e.api.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: &e.cfg.Bucket, Prefix: &prefix, MaxKeys: aws.Int32(1000)})
		return err
	})
	if err != nil {
		return nil, e.classify("ListObjectVersions", err)
	}
	ids := make([]types.ObjectIdentifier, 0, len(page.Versions)+len(page.DeleteMarkers))
	for _, v := range page.Versions {
		ids = append(ids, types.ObjectIdentifier{Key: v.Key, VersionId: v.VersionId})
	}
	for _, m := range page.DeleteMarkers {
		ids = append(ids, types.ObjectIdentifier{Key: m.Key, VersionId: m.VersionId})
	}
	return ids, nil
}

// listObjects lists up to 1,000 objects under prefix.
func (e *Eraser) listObjects(ctx context.Context, prefix string) ([]types.ObjectIdentifier, error) {
	var page *s3.ListObjectsV2Output
	err := e.Retry.Do(ctx, func() (err error) {
		page, err = e.api.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &e.cfg.Bucket, Prefix: &prefix, MaxKeys: aws.Int32(1000)})
		return err
	})
	if err != nil {
		return nil, e.classify("ListObjectsV2", err)
	}
	ids := make([]types.ObjectIdentifier, len(page.Contents))
	for i, o := range page.Contents {
		ids[i] = types.ObjectIdentifier{Key: o.Key}
	}
	return ids, nil
}

// deletePage deletes up to 1,000 versions, calling again for the keys
// DeleteObjects reports as failed with a retryable code.
func (e *Eraser) deletePage(ctx context.Context, ids []types.ObjectIdentifier) error {
	for attempt := 0; len(ids) > 0; attempt++ {
		if attempt > 0 {
			if attempt >= e.Retry.Attempts {
				return &connector.Error{Retryable: true, Code: "SlowDown",
					Detail: fmt.Sprintf("DeleteObjects on %s left %d versions undeleted after %d attempts", e.cfg.Bucket, len(ids), attempt)}
			}
			if err := e.Retry.Wait(ctx, attempt); err != nil {
				return e.classify("DeleteObjects", err)
			}
		}
		var out *s3.DeleteObjectsOutput
		err := e.Retry.Do(ctx, func() (err error) {
			out, err = e.api.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &e.cfg.Bucket,
				Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}})
			return err
		})
		if err != nil {
			return e.classify("DeleteObjects", err)
		}
		var again []types.ObjectIdentifier
		for _, f := range out.Errors {
			code := aws.ToString(f.Code)
			switch {
			case code == "NoSuchKey" || code == "NoSuchVersion":
				// Gone already: what Erase wants.
			case retryableCode(code):
				again = append(again, types.ObjectIdentifier{Key: f.Key, VersionId: f.VersionId})
			default:
				// The key holds the subject id: only the code is told.
				return e.refused("DeleteObjects", code)
			}
		}
		ids = again
	}
	return nil
}

func retryableCode(code string) bool {
	switch code {
	case "SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout", "ThrottlingException", "RequestLimitExceeded":
		return true
	}
	return false
}

func throttled(err error) bool {
	var api smithy.APIError
	return errors.As(err, &api) && retryableCode(api.ErrorCode())
}

// classify types an error as the HTTP contract's answers are typed; its
// detail names the call and the bucket, never a key or prefix (they hold
// the subject).
func (e *Eraser) classify(op string, err error) error {
	var api smithy.APIError
	if !errors.As(err, &api) {
		var re *smithyhttp.ResponseError
		if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusMovedPermanently {
			return e.refused(op, "PermanentRedirect")
		}
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return &connector.Error{Retryable: true, Code: "Timeout", Detail: op + " on " + e.cfg.Bucket + " did not finish in time"}
		}
		return &connector.Error{Retryable: true, Code: "NoAnswer", Detail: op + " on " + e.cfg.Bucket + ": no answer from S3"}
	}
	if code := api.ErrorCode(); throttled(err) || api.ErrorFault() == smithy.FaultServer {
		return &connector.Error{Retryable: true, Code: code, Detail: op + " on " + e.cfg.Bucket + " was throttled or failed on S3's side"}
	} else {
		return e.refused(op, code)
	}
}

// refused is a permanent failure with what a person must fix.
func (e *Eraser) refused(op, code string) error {
	ce := &connector.Error{Code: code}
	switch code {
	case "AccessDenied", "AllAccessDisabled", "InvalidAccessKeyId", "SignatureDoesNotMatch":
		ce.Detail = op + " on " + e.cfg.Bucket + " was denied: the connector's role needs s3:GetBucketVersioning, s3:ListBucket, s3:ListBucketVersions, s3:DeleteObject and s3:DeleteObjectVersion under the prefix"
	case "NoSuchBucket":
		ce.Detail = op + ": no bucket " + e.cfg.Bucket
	case "PermanentRedirect", "AuthorizationHeaderMalformed":
		ce.Detail = op + ": bucket " + e.cfg.Bucket + " is in another region than Lethe's: Lethe erases only in its own region"
	default:
		ce.Detail = op + " on " + e.cfg.Bucket + " was refused (" + code + ")"
	}
	return ce
}
