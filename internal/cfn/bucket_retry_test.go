package cfn

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// flakyS3 is an existing bucket with no objects whose PutObject fails with
// the planned errors first.
type flakyS3 struct {
	fakeBucketS3
	putErrs []error
	puts    int
	bodies  []string
}

func (f *flakyS3) HeadBucket(ctx context.Context, in *s3.HeadBucketInput, _ ...func(*s3.Options)) (*s3.HeadBucketOutput, error) {
	return &s3.HeadBucketOutput{}, nil
}

func (f *flakyS3) HeadObject(ctx context.Context, in *s3.HeadObjectInput, _ ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	return nil, &smithy.GenericAPIError{Code: "NotFound", Message: "Not Found"}
}

func (f *flakyS3) PutObject(ctx context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	b, _ := io.ReadAll(in.Body)
	f.bodies = append(f.bodies, string(b))
	f.puts++
	if len(f.putErrs) > 0 {
		err := f.putErrs[0]
		f.putErrs = f.putErrs[1:]
		return nil, err
	}
	return &s3.PutObjectOutput{}, nil
}

func s3Error(status int, code, msg string) error {
	return &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
		Err:      &smithy.GenericAPIError{Code: code, Message: msg},
	}}
}

// Uploads retry throttling, 5xx and dropped connections through a
// deadline, not a number of attempts; other errors fail at once.
func TestUploadRetries(t *testing.T) {
	slowDown := s3Error(503, "SlowDown", "Please reduce your request rate.")
	internal := s3Error(500, "InternalError", "We encountered an internal error. Please try again.")
	dropped := &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}
	denied := s3Error(403, "AccessDenied", "Access Denied")
	many := make([]error, 40)
	for i := range many {
		many[i] = slowDown
	}
	for _, tc := range []struct {
		name     string
		errs     []error
		deadline time.Duration
		puts     int
		wantErr  string
	}{
		{"throttled, 5xx and dropped, then stored", []error{slowDown, internal, dropped, slowDown}, 0, 5, ""},
		{"40 throttles in a row are not an attempt limit", many, 0, 41, ""},
		{"access denied fails at once", []error{denied}, 0, 1, "upload template s3://tb/k.json"},
		{"past the deadline", many, time.Nanosecond, 1, "still failing after 1ns of retries"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := &flakyS3{putErrs: tc.errs}
			b := NewBucket("tb", "us-east-1", api, "")
			b.RetryDeadline = tc.deadline
			b.sleep = func(ctx context.Context, d time.Duration) error {
				if d <= 0 || d > 8*time.Second {
					t.Errorf("back-off %s outside (0, 7.5s]", d)
				}
				if tc.deadline > 0 {
					time.Sleep(time.Millisecond) // past the tiny deadline
				}
				return ctx.Err()
			}
			url, err := b.Upload(context.Background(), "k.json", []byte(`{"a":1}`), "application/json")
			if api.puts != tc.puts {
				t.Errorf("%d PutObject calls, want %d", api.puts, tc.puts)
			}
			for _, body := range api.bodies {
				if body != `{"a":1}` {
					t.Errorf("attempt sent body %q", body)
				}
			}
			if tc.wantErr == "" {
				if err != nil || url != "https://s3.amazonaws.com/tb/k.json" {
					t.Fatalf("upload: %q, %v", url, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}
