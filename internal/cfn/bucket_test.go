package cfn

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// fakeBucketS3 is an S3 with no buckets that records the calls made.
type fakeBucketS3 struct{ calls []string }

func (f *fakeBucketS3) HeadBucket(ctx context.Context, in *s3.HeadBucketInput, _ ...func(*s3.Options)) (*s3.HeadBucketOutput, error) {
	f.calls = append(f.calls, "HeadBucket")
	return nil, &smithy.GenericAPIError{Code: "NotFound", Message: "Not Found"}
}
func (f *fakeBucketS3) CreateBucket(ctx context.Context, in *s3.CreateBucketInput, _ ...func(*s3.Options)) (*s3.CreateBucketOutput, error) {
	f.calls = append(f.calls, "CreateBucket")
	return &s3.CreateBucketOutput{}, nil
}
func (f *fakeBucketS3) PutBucketEncryption(ctx context.Context, in *s3.PutBucketEncryptionInput, _ ...func(*s3.Options)) (*s3.PutBucketEncryptionOutput, error) {
	f.calls = append(f.calls, "PutBucketEncryption")
	return &s3.PutBucketEncryptionOutput{}, nil
}
func (f *fakeBucketS3) PutPublicAccessBlock(ctx context.Context, in *s3.PutPublicAccessBlockInput, _ ...func(*s3.Options)) (*s3.PutPublicAccessBlockOutput, error) {
	f.calls = append(f.calls, "PutPublicAccessBlock")
	return &s3.PutPublicAccessBlockOutput{}, nil
}
func (f *fakeBucketS3) HeadObject(ctx context.Context, in *s3.HeadObjectInput, _ ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	f.calls = append(f.calls, "HeadObject")
	return &s3.HeadObjectOutput{}, nil
}
func (f *fakeBucketS3) PutObject(ctx context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	f.calls = append(f.calls, "PutObject")
	return &s3.PutObjectOutput{}, nil
}

func TestMissingBucket(t *testing.T) {
	for _, tc := range []struct {
		name      string
		noCreate  bool
		wantCalls string
		wantErr   string
	}{
		{"build creates it encrypted and private", false, "HeadBucket CreateBucket PutBucketEncryption PutPublicAccessBlock", ""},
		{"diff never creates it", true, "HeadBucket", "template bucket tb does not exist (diff never creates it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := &fakeBucketS3{}
			b := NewBucket("tb", "us-east-1", api, "")
			b.NoCreate = tc.noCreate
			err := b.Ensure(context.Background())
			if got := strings.Join(api.calls, " "); got != tc.wantCalls {
				t.Errorf("calls %q, want %q", got, tc.wantCalls)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}
