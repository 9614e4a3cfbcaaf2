// Package cfn is the CloudFormation provider: every CloudFormation
// conversation for a stack (describe, create, update, delete, wait, events,
// outputs) and the template bucket. It gets its clients from the caller
// (built per target by internal/target, already paced by the target's API
// budget), never from a global, and knows nothing of the config file,
// lookups, credentials or the DAG.
package cfn

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stacker-go/stacker/internal/awserr"
)

// API lists the CloudFormation calls the provider makes; the SDK client
// implements it, unit tests fake it.
type API interface {
	DescribeStacks(ctx context.Context, in *cloudformation.DescribeStacksInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
	DescribeStackEvents(ctx context.Context, in *cloudformation.DescribeStackEventsInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DescribeStackEventsOutput, error)
	CreateStack(ctx context.Context, in *cloudformation.CreateStackInput, optFns ...func(*cloudformation.Options)) (*cloudformation.CreateStackOutput, error)
	UpdateStack(ctx context.Context, in *cloudformation.UpdateStackInput, optFns ...func(*cloudformation.Options)) (*cloudformation.UpdateStackOutput, error)
	DeleteStack(ctx context.Context, in *cloudformation.DeleteStackInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DeleteStackOutput, error)
	UpdateTerminationProtection(ctx context.Context, in *cloudformation.UpdateTerminationProtectionInput, optFns ...func(*cloudformation.Options)) (*cloudformation.UpdateTerminationProtectionOutput, error)
	CreateChangeSet(ctx context.Context, in *cloudformation.CreateChangeSetInput, optFns ...func(*cloudformation.Options)) (*cloudformation.CreateChangeSetOutput, error)
	DescribeChangeSet(ctx context.Context, in *cloudformation.DescribeChangeSetInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DescribeChangeSetOutput, error)
	DeleteChangeSet(ctx context.Context, in *cloudformation.DeleteChangeSetInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DeleteChangeSetOutput, error)
	GetTemplate(ctx context.Context, in *cloudformation.GetTemplateInput, optFns ...func(*cloudformation.Options)) (*cloudformation.GetTemplateOutput, error)
	ExecuteChangeSet(ctx context.Context, in *cloudformation.ExecuteChangeSetInput, optFns ...func(*cloudformation.Options)) (*cloudformation.ExecuteChangeSetOutput, error)
	SetStackPolicy(ctx context.Context, in *cloudformation.SetStackPolicyInput, optFns ...func(*cloudformation.Options)) (*cloudformation.SetStackPolicyOutput, error)
}

// S3API lists the S3 calls of the template bucket.
type S3API interface {
	HeadBucket(ctx context.Context, in *s3.HeadBucketInput, optFns ...func(*s3.Options)) (*s3.HeadBucketOutput, error)
	CreateBucket(ctx context.Context, in *s3.CreateBucketInput, optFns ...func(*s3.Options)) (*s3.CreateBucketOutput, error)
	PutBucketEncryption(ctx context.Context, in *s3.PutBucketEncryptionInput, optFns ...func(*s3.Options)) (*s3.PutBucketEncryptionOutput, error)
	PutPublicAccessBlock(ctx context.Context, in *s3.PutPublicAccessBlockInput, optFns ...func(*s3.Options)) (*s3.PutPublicAccessBlockOutput, error)
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// Exact AWS error texts the provider matches (CloudFormation API, also
// quoted in stacker 1.7 providers/aws/default.py).
const (
	// UpdateStack on a stack whose template, parameters and tags are unchanged.
	textNoUpdates = "No updates are to be performed."
	// DescribeStacks / UpdateStack for a missing stack ("Stack with id X does
	// not exist", "Stack [X] does not exist").
	textDoesNotExist = "does not exist"
	// UpdateStack of a stack in a state that cannot be updated ("Stack:<id>
	// is in UPDATE_IN_PROGRESS state and can not be updated.").
	textNotUpdatable = "state and can not be updated"
	// CreateStack/UpdateStack when CloudFormation cannot read TemplateURL.
	TextTemplateURLAccess = "TemplateURL must reference a valid S3 object to which you have access."
)

// isNotExist and isNoUpdates read the service's answer (a ValidationError
// whose message CloudFormation gives no code of its own for), never the
// SDK's text around it.
func isNotExist(err error) bool { return awserr.MessageContains(err, textDoesNotExist) }

func isNoUpdates(err error) bool { return awserr.MessageContains(err, textNoUpdates) }

// apiMessage returns the service's message for an API error, else err.Error().
func apiMessage(err error) string { return awserr.Message(err) }
