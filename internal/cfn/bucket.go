package cfn

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stacker-go/stacker/internal/awserr"
)

// MaxTemplateBody is CloudFormation's limit for an inline TemplateBody.
const MaxTemplateBody = 51200

// Bucket is the template bucket: content-addressed uploads, created on
// first use with default encryption and public access blocked.
type Bucket struct {
	Name   string
	Region string
	api    S3API
	// endpoint is the custom S3 endpoint (AWS_ENDPOINT_URL, endpoint_url),
	// "" on AWS.
	endpoint string
	// NoCreate makes a missing bucket an error instead of creating it
	// (diff never creates the bucket). Set it before the first Ensure.
	NoCreate bool

	once      sync.Once
	ensureErr error

	// RetryDeadline bounds how long one S3 call is retried through
	// transient errors (0: DefaultUploadRetryDeadline). Set it before use.
	RetryDeadline time.Duration
	// sleep waits d or until ctx ends (tests replace it).
	sleep func(ctx context.Context, d time.Duration) error
}

// DefaultUploadRetryDeadline is how long each call of the template bucket
// (HeadBucket, CreateBucket, HeadObject, PutObject, ...) is retried through
// throttling (S3's 503 SlowDown), 5xx answers, timeouts and dropped
// connections before the stack fails.
const DefaultUploadRetryDeadline = 5 * time.Minute

// retry runs one S3 call of the bucket. The SDK under it already retries
// a few attempts; while the call still fails transiently it is run again
// after a jittered back-off (0.2 s doubling to 5 s), each attempt through
// the target's budget, until the retry deadline. Every call of the bucket
// is idempotent (keys are content-addressed; creating a bucket one owns
// answers BucketAlreadyOwnedByYou), so a retry after a call that took
// effect is harmless.
func (b *Bucket) retry(ctx context.Context, call func() error) error {
	deadline := b.RetryDeadline
	if deadline <= 0 {
		deadline = DefaultUploadRetryDeadline
	}
	sleep := b.sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	l := retryLoop{deadline: deadline, deadlineThrottles: true, first: 200 * time.Millisecond, max: 5 * time.Second, now: time.Now, sleep: sleep}
	return l.run(ctx, call, nil)
}

// NewBucket returns the bucket over an S3 client for its region. With a
// custom endpoint the client must use path-style addressing.
func NewBucket(name, region string, api S3API, endpoint string) *Bucket {
	return &Bucket{Name: name, Region: region, api: api, endpoint: strings.TrimRight(endpoint, "/")}
}

// URL is the TemplateURL of a key: the endpoint's path-style URL with a
// custom endpoint, else https://s3.<region>.amazonaws.com/<bucket>/<key>
// (https://s3.amazonaws.com/... in us-east-1).
func (b *Bucket) URL(key string) string {
	path := "/" + b.Name + "/" + (&url.URL{Path: key}).EscapedPath()
	switch {
	case b.endpoint != "":
		return b.endpoint + path
	case b.Region == "" || b.Region == "us-east-1":
		return "https://s3.amazonaws.com" + path
	default:
		return "https://s3." + b.Region + ".amazonaws.com" + path
	}
}

// Ensure creates the bucket if it is missing (once per run).
func (b *Bucket) Ensure(ctx context.Context) error {
	b.once.Do(func() { b.ensureErr = b.ensure(ctx) })
	return b.ensureErr
}

func (b *Bucket) ensure(ctx context.Context) error {
	err := b.retry(ctx, func() error {
		_, err := b.api.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(b.Name)})
		return err
	})
	if err == nil {
		return nil
	}
	switch errorCode(err) {
	case "NotFound", "NoSuchBucket", "404":
	case "Forbidden", "AccessDenied", "403":
		return fmt.Errorf("access denied for bucket %s. Did you remember to use a globally unique name? (%w)", b.Name, err)
	default:
		return fmt.Errorf("check template bucket %s: %w", b.Name, err)
	}
	if b.NoCreate {
		return fmt.Errorf("template bucket %s does not exist (diff never creates it; run build first, or keep the template under %d bytes so it goes inline)", b.Name, MaxTemplateBody)
	}
	in := &s3.CreateBucketInput{Bucket: aws.String(b.Name)}
	if b.Region != "" && b.Region != "us-east-1" {
		in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(b.Region)}
	}
	if err := b.retry(ctx, func() error {
		_, err := b.api.CreateBucket(ctx, in)
		return err
	}); err != nil && errorCode(err) != "BucketAlreadyOwnedByYou" {
		return fmt.Errorf("create template bucket %s in %s: %w", b.Name, b.Region, err)
	}
	if err := b.retry(ctx, func() error {
		_, err := b.api.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{
			Bucket: aws.String(b.Name),
			ServerSideEncryptionConfiguration: &s3types.ServerSideEncryptionConfiguration{Rules: []s3types.ServerSideEncryptionRule{{
				ApplyServerSideEncryptionByDefault: &s3types.ServerSideEncryptionByDefault{SSEAlgorithm: s3types.ServerSideEncryptionAes256},
			}}},
		})
		return err
	}); err != nil {
		return fmt.Errorf("set default encryption on template bucket %s: %w", b.Name, err)
	}
	if err := b.retry(ctx, func() error {
		_, err := b.api.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{
			Bucket: aws.String(b.Name),
			PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{
				BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(true),
				BlockPublicPolicy: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true),
			},
		})
		return err
	}); err != nil {
		return fmt.Errorf("block public access on template bucket %s: %w", b.Name, err)
	}
	return nil
}

// Upload stores body under key unless the key already exists (keys are
// content-addressed) and returns its TemplateURL.
func (b *Bucket) Upload(ctx context.Context, key string, body []byte, contentType string) (string, error) {
	if err := b.Ensure(ctx); err != nil {
		return "", err
	}
	err := b.retry(ctx, func() error {
		_, err := b.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b.Name), Key: aws.String(key)})
		return err
	})
	if err == nil {
		return b.URL(key), nil
	}
	if c := errorCode(err); c != "NotFound" && c != "NoSuchKey" && c != "404" {
		return "", fmt.Errorf("check template s3://%s/%s: %w", b.Name, key, err)
	}
	if err := b.retry(ctx, func() error {
		_, err := b.api.PutObject(ctx, &s3.PutObjectInput{
			Bucket:               aws.String(b.Name),
			Key:                  aws.String(key),
			Body:                 bytes.NewReader(body),
			ContentType:          aws.String(contentType),
			ServerSideEncryption: s3types.ServerSideEncryptionAes256,
		})
		return err
	}); err != nil {
		return "", fmt.Errorf("upload template s3://%s/%s: %w", b.Name, key, err)
	}
	return b.URL(key), nil
}

func errorCode(err error) string { return awserr.Code(err) }
